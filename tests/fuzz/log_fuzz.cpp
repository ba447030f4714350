// libFuzzer target over what the broker reads from disk: a segment's records
// (the reader's walk over arbitrary bytes), a segment header (validation on
// open) and an ack file (validation). Whatever the bytes, nothing may read
// outside the mapping, crash or hang; ASan and UBSan watch.
//   first byte % 3 == 0: the rest is the record area of a 64 KiB segment
//                     1: the rest is the start of a segment file (header)
//                     2: the rest is an ack file
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/broker/ack.hpp"
#include "core/broker/segment.hpp"

namespace bk = cq::broker;

namespace {

std::string scratch_dir() {
    static std::string dir = [] {
        char t[] = "/tmp/cq-log-fuzz-XXXXXX";
        if (!::mkdtemp(t)) std::abort();
        return std::string(t);
    }();
    return dir;
}

std::shared_ptr<bk::Segment> &record_segment() {
    static std::shared_ptr<bk::Segment> s = [] {
        std::shared_ptr<bk::Segment> seg;
        if (bk::Segment::create(scratch_dir() + "", 0, 0, 64 * 1024, 0600, false, &seg) !=
            cq::Errc::ok)
            std::abort();
        return seg;
    }();
    return s;
}

// The reader's walk: records and padding until anything else.
void walk(const bk::Segment &seg) {
    uint64_t pos = bk::kSegmentHeaderSize;
    for (int steps = 0; pos + 4 <= seg.size() && steps < 100000; ++steps) {
        bk::RecordView v = seg.read_at(pos);
        if (v.kind == bk::RecordView::record) {
            // Touch every byte the reader would hand to a subscriber.
            volatile uint8_t sink = 0;
            for (uint32_t i = 0; i < v.len; ++i)
                sink = sink ^ static_cast<const uint8_t *>(v.data)[i];
            (void)sink;
        } else if (v.kind != bk::RecordView::padding) {
            break;
        }
        if (v.size == 0) std::abort();  // would loop forever
        pos += v.size;
    }
}

void walk_records(const uint8_t *data, size_t size) {
    bk::Segment &seg = *record_segment();
    const size_t area = seg.size() - bk::kSegmentHeaderSize;
    std::memset(seg.bytes() + bk::kSegmentHeaderSize, 0, area);
    std::memcpy(seg.bytes() + bk::kSegmentHeaderSize, data, size < area ? size : area);
    walk(seg);
}

void open_header(const uint8_t *data, size_t size) {
    const std::string dir = scratch_dir() + "/h";
    ::mkdir(dir.c_str(), 0700);
    const std::string path = dir + "/" + bk::Segment::file_name(0);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) std::abort();
    // The file is as long as the input says in its first bytes (bounded),
    // so size checks meet short, long and odd files.
    uint64_t len = 64 * 1024;
    if (size >= 2) len = 4096 + (uint64_t{data[0]} << 8 | data[1]) * 16;
    if (::ftruncate(fd, static_cast<off_t>(len)) != 0) std::abort();
    if (size > 2 && ::pwrite(fd, data + 2, size - 2 < len ? size - 2 : len, 0) < 0) std::abort();
    ::close(fd);
    std::shared_ptr<bk::Segment> s;
    // Accepted: read it as a subscriber would (the header fields it trusts
    // now must keep every access inside the mapping).
    if (bk::Segment::open(dir, 0, &s) == cq::Errc::ok) walk(*s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    switch (data[0] % 3) {
        case 0:
            walk_records(data + 1, size - 1);
            break;
        case 1:
            open_header(data + 1, size - 1);
            break;
        default: {
            uint64_t next;
            bk::parse_ack(data + 1, size - 1, &next, "fuzz");
        }
    }
    return 0;
}
