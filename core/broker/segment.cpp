#include "core/broker/segment.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/broker/io.hpp"
#include "core/util/clock.hpp"
#include "core/util/crc32c.hpp"

namespace cq::broker {
namespace {

uint32_t header_checksum(const SegmentHeader &h) {
    return crc32c(0, &h, kSegmentChecksummed);
}

Errc map_file(int fd, uint64_t size, Mapping *out, const std::string &path) {
    void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail_errno(errc_from_errno(errno), errno, "mmap %s", path.c_str());
    *out = Mapping(p, size);
    return Errc::ok;
}

std::string temp_name(const std::string &dir) {
    return dir + "/.tmp-" + temp_suffix();
}

}  // namespace

std::string Segment::file_name(uint64_t base) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020" PRIu64 ".seg", base);
    return buf;
}

Errc Segment::list(const std::string &dir, std::vector<uint64_t> *bases) {
    bases->clear();
    DIR *d = ::opendir(dir.c_str());
    if (!d) return fail_errno(errc_from_errno(errno), errno, "opendir %s", dir.c_str());
    while (dirent *e = ::readdir(d)) {
        const char *n = e->d_name;
        if (std::strlen(n) != 24 || std::strcmp(n + 20, ".seg") != 0) continue;
        uint64_t v = 0;
        bool digits = true;
        for (int i = 0; i < 20; ++i) {
            if (n[i] < '0' || n[i] > '9') digits = false;
            v = v * 10 + static_cast<uint64_t>(n[i] - '0');
        }
        if (digits) bases->push_back(v);
    }
    ::closedir(d);
    std::sort(bases->begin(), bases->end());
    return Errc::ok;
}

Errc Segment::create(const std::string &dir, uint64_t base, uint32_t index, uint64_t size,
                     mode_t mode, bool sync_dir, std::shared_ptr<Segment> *out) {
    const std::string final_path = dir + "/" + file_name(base);
    const std::string tmp = temp_name(dir);
    Fd fd(io_open(tmp, O_RDWR | O_CREAT | O_EXCL, mode));
    if (!fd.valid()) return fail_errno(errc_from_errno(errno), errno, "create %s", tmp.c_str());
    Mapping m;
    Errc e = Errc::ok;
    if (io_ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
        e = fail_errno(errno == ENOSPC ? Errc::io : errc_from_errno(errno), errno,
                       "size segment %s to %" PRIu64, tmp.c_str(), size);
    } else if ((e = map_file(fd.get(), size, &m, tmp)) == Errc::ok) {
        auto *h = new (m.get()) SegmentHeader{};
        h->magic = kSegmentMagic;
        h->version = kSegmentVersion;
        h->header_size = kSegmentHeaderSize;
        h->segment_size = size;
        h->base_offset = base;
        h->index = index;
        h->record_header_size = sizeof(RecordHeader);
        h->created_ns = realtime_ns();
        h->checksum = header_checksum(*h);
        h->tail.store(pack(0, kSegmentHeaderSize), std::memory_order_relaxed);
        h->sealed.store(0, std::memory_order_relaxed);
        h->newest_ns.store(0, std::memory_order_relaxed);
        if (sync_dir && io_fdatasync(fd.get(), tmp) != 0)
            e = fail_errno(Errc::io, errno, "fdatasync %s", tmp.c_str());
    }
    if (e == Errc::ok && io_rename_noreplace(tmp, final_path) != 0) {
        if (errno == EEXIST) {
            io_unlink(tmp);
            return open(dir, base, out);  // another process created it first
        }
        e = fail_errno(Errc::io, errno, "rename %s to %s", tmp.c_str(), final_path.c_str());
    }
    if (e != Errc::ok) {
        io_unlink(tmp);
        return e;
    }
    if (sync_dir && io_fsync_dir(dir) != 0)
        return fail_errno(Errc::io, errno, "fsync %s", dir.c_str());
    std::shared_ptr<Segment> s(new Segment);
    s->path_ = final_path;
    s->fd_ = std::move(fd);
    s->map_ = std::move(m);
    s->size_ = size;
    s->base_ = base;
    s->index_ = index;
    *out = std::move(s);
    return Errc::ok;
}

Errc Segment::open(const std::string &dir, uint64_t base, std::shared_ptr<Segment> *out) {
    const std::string path = dir + "/" + file_name(base);
    Fd fd(io_open(path, O_RDWR, 0));
    if (!fd.valid()) {
        if (errno == ENOENT) return fail(Errc::noent, "segment %s does not exist", path.c_str());
        return fail_errno(errc_from_errno(errno), errno, "open %s", path.c_str());
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return fail_errno(Errc::io, errno, "fstat %s", path.c_str());
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < kMinSegmentSize || size > kMaxSegmentSize || size % 4096 != 0)
        return fail(Errc::corrupt, "segment %s: file size %" PRIu64 " is not a valid segment size",
                    path.c_str(), size);
    Mapping m;
    if (Errc e = map_file(fd.get(), size, &m, path); e != Errc::ok) return e;
    const SegmentHeader &h = *static_cast<const SegmentHeader *>(m.get());
    if (h.magic != kSegmentMagic)
        return fail(Errc::corrupt, "segment %s: bad magic (not a cqueue segment)", path.c_str());
    if (h.version != kSegmentVersion)
        return fail(Errc::version, "segment %s: layout version %u, this library reads %u",
                    path.c_str(), h.version, kSegmentVersion);
    if (header_checksum(h) != h.checksum)
        return fail(Errc::corrupt, "segment %s: header checksum mismatch", path.c_str());
    if (h.header_size != kSegmentHeaderSize || h.record_header_size != sizeof(RecordHeader) ||
        h.segment_size != size || h.base_offset != base || h.index >= (1u << 24))
        return fail(Errc::corrupt, "segment %s: header does not match the file", path.c_str());
    std::shared_ptr<Segment> s(new Segment);
    s->path_ = path;
    s->fd_ = std::move(fd);
    s->map_ = std::move(m);
    s->size_ = size;
    s->base_ = base;
    s->index_ = h.index;
    *out = std::move(s);
    return Errc::ok;
}

RecordView Segment::read_at(uint64_t pos) const {
    RecordView v;
    if (pos % 8 != 0 || pos < kSegmentHeaderSize || pos + sizeof(uint32_t) > size_) {
        v.kind = RecordView::bad;
        v.why = "position outside the segment";
        return v;
    }
    auto *rh = reinterpret_cast<RecordHeader *>(bytes() + pos);
    const uint32_t word = rh->word.load(std::memory_order_seq_cst);
    if (word == 0) return v;  // empty: not committed (yet)
    const uint32_t state = word >> kStateShift;
    const uint64_t sz = uint64_t{word & kSizeMask} * 8;
    if (sz < 8 || sz > size_ - pos) {
        v.kind = RecordView::bad;
        v.why = "record size runs past the segment";
        return v;
    }
    v.size = sz;
    if (state == kStatePadding) {
        v.kind = RecordView::padding;
        return v;
    }
    if (state != kStateRecord || sz < sizeof(RecordHeader)) {
        v.kind = RecordView::bad;
        v.why = "unknown record state";
        return v;
    }
    // Copy the header once: another process may scribble on the mapping, and
    // everything below must be decided on one set of values.
    RecordHeader copy;
    std::memcpy(reinterpret_cast<char *>(&copy) + kRecordCrcFrom,
                reinterpret_cast<const char *>(rh) + kRecordCrcFrom,
                sizeof(RecordHeader) - kRecordCrcFrom);
    const uint32_t crc = rh->crc;
    if (copy.len > sz - sizeof(RecordHeader) || record_size(copy.len) != sz) {
        v.kind = RecordView::bad;
        v.why = "record length does not match its size";
        return v;
    }
    const uint8_t *body = bytes() + pos + sizeof(RecordHeader);
    uint32_t c = crc32c(0, reinterpret_cast<const char *>(&copy) + kRecordCrcFrom,
                        sizeof(RecordHeader) - kRecordCrcFrom);
    c = crc32c(c, body, copy.len);
    if (c != crc) {
        v.kind = RecordView::bad;
        v.why = "record CRC mismatch";
        return v;
    }
    v.kind = RecordView::record;
    v.offset = copy.offset;
    v.timestamp_ns = copy.timestamp_ns;
    v.data = body;
    v.len = copy.len;
    return v;
}

uint64_t Segment::skip_committed(uint64_t pos, uint64_t until) const {
    while (pos < until) {
        const RecordView v = read_at(pos);
        if (v.kind != RecordView::record && v.kind != RecordView::padding) break;
        pos += v.size;  // at least 8: the loop ends
    }
    return pos;
}

void Segment::write_record(uint64_t pos, uint64_t offset, int64_t ts, const void *data,
                           uint32_t len) const {
    auto *rh = reinterpret_cast<RecordHeader *>(bytes() + pos);
    RecordHeader h;
    h.offset = offset;
    h.timestamp_ns = ts;
    h.len = len;
    h.flags = 0;
    std::memcpy(reinterpret_cast<char *>(rh) + kRecordCrcFrom,
                reinterpret_cast<const char *>(&h) + kRecordCrcFrom,
                sizeof(RecordHeader) - kRecordCrcFrom);
    if (len) std::memcpy(bytes() + pos + sizeof(RecordHeader), data, len);
    // The CRC from our own copies, not from the shared mapping.
    uint32_t c = crc32c(0, reinterpret_cast<const char *>(&h) + kRecordCrcFrom,
                        sizeof(RecordHeader) - kRecordCrcFrom);
    rh->crc = crc32c(c, data, len);
    // seq_cst RMW: the commit; release for the fields above, and ordered
    // before the publisher's load of the poll-waiter count (no lost wake-up).
    rh->word.exchange(make_word(kStateRecord, record_size(len)), std::memory_order_seq_cst);
}

bool Segment::pad(uint64_t pos, uint64_t size) const {
    auto *rh = reinterpret_cast<RecordHeader *>(bytes() + pos);
    uint32_t expected = 0;
    return rh->word.compare_exchange_strong(expected, make_word(kStatePadding, size),
                                            std::memory_order_seq_cst);
}

uint64_t Segment::limit(uint64_t *sealed_count) const {
    const SegmentHeader &h = header();
    const uint64_t sealed = h.sealed.load(std::memory_order_acquire);
    if (sealed) {
        if (sealed_count) *sealed_count = count_of(sealed - 1);
        return std::min(pos_of(sealed - 1), size_);
    }
    if (sealed_count) *sealed_count = UINT64_MAX;
    return std::min(pos_of(h.tail.load(std::memory_order_seq_cst)), size_);
}

}  // namespace cq::broker
