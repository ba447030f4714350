#include "core/queue/region.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/shm/ofd_lock.hpp"
#include "core/util/clock.hpp"
#include "core/util/crc32c.hpp"

namespace cq {
using namespace layout;

namespace {

bool is_path(const char *name) {
    return std::strchr(name, '/') != nullptr;
}

int open_object(const char *name, int flags, mode_t mode) {
    if (is_path(name)) return ::open(name, flags | O_CLOEXEC, mode);
    std::string shm = std::string("/") + name;
    return ::shm_open(shm.c_str(), flags | O_CLOEXEC, mode);
}

uint32_t header_checksum(const RegionHeader *h) {
    return crc32c(0, h, kChecksummedBytes);
}

// Writes a fresh queue into a zero-filled object of the right size.
void initialise(char *base, const RegionParams &p, const Geometry &g) {
    auto *h = reinterpret_cast<RegionHeader *>(base);
    h->magic = kMagic;
    h->layout_version = kLayoutVersion;
    h->header_size = sizeof(RegionHeader);
    h->lane_size = sizeof(Lane);
    h->node_header_size = sizeof(NodeHeader);
    h->capacity = p.capacity;
    h->max_message_size = p.max_message_size;
    h->node_count = p.capacity + 1;
    h->lane_count = p.lane_count;
    h->node_stride = g.node_stride;
    h->lanes_offset = g.lanes_offset;
    h->nodes_offset = g.nodes_offset;
    h->total_size = g.total_size;
    h->created_ns = realtime_ns();
    std::memset(h->reserved0, 0, sizeof h->reserved0);

    // Node 0 is the M&S dummy (and tail); it carries no message to copy.
    // Nodes 1..capacity form the free list in index order.
    const uint32_t n = h->node_count;
    for (uint32_t i = 0; i < n; ++i) {
        auto *node = reinterpret_cast<NodeHeader *>(base + g.nodes_offset + g.node_stride * i);
        node->next.store(tagged(kNil, 0), std::memory_order_relaxed);
        node->free_next.store(i + 1 < n ? i + 1 : kNil, std::memory_order_relaxed);
        node->len.store(0, std::memory_order_relaxed);
        node->done.store(i == 0 ? kCopied : 0, std::memory_order_relaxed);
        node->ahead.store(kNil, std::memory_order_relaxed);
        for (auto &l : node->lead) l.store(0, std::memory_order_relaxed);  // kNil ^ kNil
    }
    auto *lanes = reinterpret_cast<Lane *>(base + g.lanes_offset);
    for (uint32_t i = 0; i < p.lane_count; ++i)
        lanes[i].free_top.store(tagged(kNil, 0), std::memory_order_relaxed);
    h->corrupt.store(0, std::memory_order_relaxed);
    h->lanes_used.store(0, std::memory_order_relaxed);
    h->reclaimed.store(0, std::memory_order_relaxed);
    h->recoveries.store(0, std::memory_order_relaxed);
    h->head.store(tagged(0, 0), std::memory_order_relaxed);
    h->tail.store(tagged(0, 0), std::memory_order_relaxed);
    h->free_top.store(tagged(n > 1 ? 1 : kNil, 0), std::memory_order_relaxed);
    h->gate.store(gate_open(0), std::memory_order_relaxed);
    h->not_empty_seq.store(0, std::memory_order_relaxed);
    h->not_empty_waiters.store(0, std::memory_order_relaxed);
    h->not_full_seq.store(0, std::memory_order_relaxed);
    h->not_full_waiters.store(0, std::memory_order_relaxed);
    h->checksum = header_checksum(h);
    // Everything above happens-before any attacher's acquire load of kReady.
    h->init_state.store(kReady, std::memory_order_release);
}

Errc check_params(const RegionParams &p, Geometry *g) {
    if (p.capacity == 0 || p.capacity > 0xFFFFFFFEu)
        return fail(Errc::inval, "capacity %u out of range 1..4294967294", p.capacity);
    if (p.max_message_size == 0 || p.max_message_size > 16u * 1024 * 1024)
        return fail(Errc::inval, "max_message_size %u out of range 1..16777216",
                    p.max_message_size);
    if (p.lane_count == 0 || p.lane_count > 65536)
        return fail(Errc::inval, "lane count %u out of range 1..65536", p.lane_count);
    if ((p.mode & ~0777u) != 0) return fail(Errc::inval, "mode %o has bits beyond 0777", p.mode);
    if (!compute_geometry(p.capacity, p.max_message_size, p.lane_count, g) ||
        g->total_size > static_cast<uint64_t>(SIZE_MAX / 2))
        return fail(Errc::nomem, "a queue of %u x %u bytes does not fit the address space",
                    p.capacity, p.max_message_size);
    return Errc::ok;
}

// Sizes the object, maps it and initialises it. The caller holds the init lock.
Errc build(int fd, const char *name, const RegionParams &p, const Geometry &g, Mapping *map) {
    // Shrink first so that stale bytes of a dead creator's attempt are zeroed.
    if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, static_cast<off_t>(g.total_size)) != 0)
        return fail_errno(errc_from_errno(errno), errno, "cannot size %s to %llu bytes", name,
                          static_cast<unsigned long long>(g.total_size));
    // Reserve the pages now: tmpfs (/dev/shm) lets ftruncate pass its size
    // limit, and the first write past it (initialise below, or any process
    // later) would die of SIGBUS instead of getting an error here.
    if (int e = ::posix_fallocate(fd, 0, static_cast<off_t>(g.total_size));
        e == ENOSPC || e == ENOMEM || e == EFBIG)
        return fail_errno(errc_from_errno(e), e, "cannot reserve %llu bytes for %s",
                          static_cast<unsigned long long>(g.total_size), name);
    void *addr = ::mmap(nullptr, g.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) return fail_errno(errc_from_errno(errno), errno, "cannot map %s", name);
    *map = Mapping(addr, g.total_size);
    auto *h = static_cast<RegionHeader *>(addr);
    h->creator_pid.store(static_cast<uint32_t>(::getpid()), std::memory_order_relaxed);
    initialise(static_cast<char *>(addr), p, g);
    return Errc::ok;
}

}  // namespace

Errc check_region_name(const char *name) noexcept {
    if (!name) return fail(Errc::inval, "name is NULL");
    size_t n = ::strnlen(name, 4096);
    if (n == 0) return fail(Errc::inval, "name is empty");
    if (is_path(name)) {
        if (n >= 4096) return fail(Errc::inval, "path is longer than 4095 bytes");
        return Errc::ok;
    }
    if (n > 200) return fail(Errc::inval, "name is longer than 200 characters");
    bool only_dots = true;
    for (size_t i = 0; i < n; ++i) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return fail(Errc::inval,
                        "name has character 0x%02x at %zu; allowed: A-Z a-z 0-9 . _ - (or a "
                        "path containing '/')",
                        static_cast<unsigned char>(c), i);
        if (c != '.') only_dots = false;
    }
    if (only_dots) return fail(Errc::inval, "name '%s' is only dots", name);
    return Errc::ok;
}

Errc validate_header(const RegionHeader *h, uint64_t object_size, CheckedGeometry *out) noexcept {
    if (h->magic != kMagic)
        return fail(Errc::foreign, "not a libcqueue queue (magic 0x%016llx)",
                    static_cast<unsigned long long>(h->magic));
    if (h->layout_version != kLayoutVersion)
        return fail(Errc::version, "layout version %u, this library reads version %u",
                    h->layout_version, kLayoutVersion);
    if (h->header_size != sizeof(RegionHeader) || h->lane_size != sizeof(Lane) ||
        h->node_header_size != sizeof(NodeHeader))
        return fail(Errc::version,
                    "struct sizes header/lane/node %u/%u/%u, this library uses %zu/%zu/%zu",
                    h->header_size, h->lane_size, h->node_header_size, sizeof(RegionHeader),
                    sizeof(Lane), sizeof(NodeHeader));
    uint32_t sum = header_checksum(h);
    if (sum != h->checksum)
        return fail(Errc::corrupt, "header checksum 0x%08x, computed 0x%08x", h->checksum, sum);
    // A checksum can be forged; the geometry is still re-derived and checked.
    // One read of each field: another process can write the header at any
    // time, and the values checked must be the values the caller keeps.
    const uint32_t capacity = h->capacity, node_count = h->node_count,
                   max_message_size = h->max_message_size, lane_count = h->lane_count;
    if (capacity == 0 || capacity > 0xFFFFFFFEu || node_count != capacity + 1)
        return fail(Errc::corrupt, "capacity %u / node_count %u inconsistent", capacity,
                    node_count);
    if (max_message_size == 0 || max_message_size > 16u * 1024 * 1024)
        return fail(Errc::corrupt, "max_message_size %u out of range", max_message_size);
    if (lane_count == 0 || lane_count > 65536)
        return fail(Errc::corrupt, "lane_count %u out of range", lane_count);
    Geometry g;
    if (!compute_geometry(capacity, max_message_size, lane_count, &g) ||
        g.node_stride != h->node_stride || g.lanes_offset != h->lanes_offset ||
        g.nodes_offset != h->nodes_offset || g.total_size != h->total_size)
        return fail(Errc::corrupt, "stored geometry does not match capacity and message size");
    if (object_size != g.total_size)
        return fail(Errc::corrupt, "object is %llu bytes, header says %llu (truncated or grown)",
                    static_cast<unsigned long long>(object_size),
                    static_cast<unsigned long long>(g.total_size));
    auto idx_ok = [&](uint32_t i, bool nil_ok) { return i < node_count || (nil_ok && i == kNil); };
    if (!idx_ok(idx_of(h->head.load(std::memory_order_relaxed)), false) ||
        !idx_ok(idx_of(h->tail.load(std::memory_order_relaxed)), false) ||
        !idx_ok(idx_of(h->free_top.load(std::memory_order_relaxed)), true))
        return fail(Errc::corrupt, "head, tail or free-list index out of range");
    if (const uint32_t used = h->lanes_used.load(std::memory_order_relaxed); used > lane_count)
        return fail(Errc::corrupt, "lanes_used %u exceeds lane_count %u", used, lane_count);
    if (out) *out = CheckedGeometry{capacity, max_message_size, lane_count, g};
    return Errc::ok;
}

Region::Region(Fd fd, Mapping map, std::string name, bool created)
    : fd_(std::move(fd)),
      map_(std::move(map)),
      hdr_(static_cast<RegionHeader *>(map_.get())),
      name_(std::move(name)),
      created_(created) {}

Errc Region::pin_geometry(uint64_t object_size) {
    // Checked again on the full mapping, and kept as checked.
    CheckedGeometry c;
    if (Errc e = validate_header(hdr_, object_size, &c); e != Errc::ok) return e;
    lanes_ = reinterpret_cast<Lane *>(base() + c.g.lanes_offset);
    nodes_ = base() + c.g.nodes_offset;
    lane_count_ = c.lane_count;
    node_count_ = c.capacity + 1;
    node_stride_ = static_cast<uint32_t>(c.g.node_stride);
    max_message_size_ = c.max_message_size;
    return Errc::ok;
}

Errc Region::adopt(Fd fd, Mapping map, const char *name, bool created, uint64_t size,
                   std::unique_ptr<Region> *out) {
    std::unique_ptr<Region> r(new (std::nothrow)
                                  Region(std::move(fd), std::move(map), name, created));
    if (!r) return fail(Errc::nomem, "out of memory");
    if (Errc e = r->pin_geometry(size); e != Errc::ok) return e;
    *out = std::move(r);
    return Errc::ok;
}

Errc Region::unlink(const char *name) {
    if (Errc e = check_region_name(name); e != Errc::ok) return e;
    int r = is_path(name) ? ::unlink(name) : ::shm_unlink((std::string("/") + name).c_str());
    if (r != 0) return fail_errno(errc_from_errno(errno), errno, "cannot remove %s", name);
    return Errc::ok;
}

Errc Region::open(const char *name, const RegionParams &p, std::unique_ptr<Region> *out) {
    if (Errc e = check_region_name(name); e != Errc::ok) return e;
    Geometry g{};
    if (p.create) {
        if (Errc e = check_params(p, &g); e != Errc::ok) return e;
        Fd fd(open_object(name, O_RDWR | O_CREAT | O_EXCL, p.mode));
        if (fd.valid()) {
            // We created it: lock first so attachers can tell we are alive.
            ofd_try_lock(fd.get(), kInitLockByte);
            if (::fchmod(fd.get(), p.mode) != 0)
                return fail_errno(Errc::io, errno, "cannot set mode of %s", name);
            Mapping map;
            Errc e = build(fd.get(), name, p, g, &map);
            ofd_unlock(fd.get(), kInitLockByte);
            if (e != Errc::ok) {
                Region::unlink(name);
                return e;
            }
            return Region::adopt(std::move(fd), std::move(map), name, true, g.total_size, out);
        }
        if (errno != EEXIST)
            return fail_errno(errc_from_errno(errno), errno, "cannot create %s", name);
        if (p.excl) return fail(Errc::exist, "%s already exists", name);
    }

    Fd fd(open_object(name, O_RDWR, 0));
    if (!fd.valid()) {
        if (errno == ENOENT)
            return fail(Errc::noent, "%s does not exist (open with CQ_CREATE to create it)", name);
        return fail_errno(errc_from_errno(errno), errno, "cannot open %s", name);
    }

    // Wait, bounded, for the creator. A region that is not ready and whose
    // init lock nobody holds for a grace period was left by a dead creator.
    const uint64_t deadline = monotonic_ns() + p.creator_wait_ns;
    uint64_t unlocked_since = 0;
    for (;;) {
        struct stat st;
        if (::fstat(fd.get(), &st) != 0) return fail_errno(Errc::io, errno, "fstat %s", name);
        if (!S_ISREG(st.st_mode)) return fail(Errc::foreign, "%s is not a regular file", name);
        const uint64_t size = static_cast<uint64_t>(st.st_size);
        uint32_t state = 0, creator = 0;
        if (size >= sizeof(RegionHeader)) {
            void *a = ::mmap(nullptr, sizeof(RegionHeader), PROT_READ, MAP_SHARED, fd.get(), 0);
            if (a == MAP_FAILED) return fail_errno(errc_from_errno(errno), errno, "map %s", name);
            Mapping head(a, sizeof(RegionHeader));
            const auto *h = static_cast<const RegionHeader *>(a);
            state = h->init_state.load(std::memory_order_acquire);
            creator = h->creator_pid.load(std::memory_order_relaxed);
            if (h->magic != kMagic && h->magic != 0)
                return validate_header(h, size);  // foreign: do not wait for it
            if (state == kReady) {
                if (Errc e = validate_header(h, size); e != Errc::ok) return e;
                void *all = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
                if (all == MAP_FAILED)
                    return fail_errno(errc_from_errno(errno), errno, "cannot map %s", name);
                Mapping map(all, size);
                return Region::adopt(std::move(fd), std::move(map), name, false, size, out);
            }
        } else if (size != 0) {
            // A creator sizes the object from 0 straight to its full size, so
            // a non-empty object smaller than a header was never ours.
            return fail(Errc::foreign, "%s is %llu bytes, smaller than a queue header", name,
                        static_cast<unsigned long long>(size));
        }
        const uint64_t now = monotonic_ns();
        if (ofd_probe(fd.get(), kInitLockByte) == LockProbe::held) {
            unlocked_since = 0;
        } else if (unlocked_since == 0) {
            unlocked_since = now;
        } else if (now - unlocked_since > 20'000'000) {
            if (!p.create)
                return fail(Errc::corrupt,
                            "%s was left half-initialised by a creator (pid %u) that died; open "
                            "with CQ_CREATE to re-initialise it or remove it",
                            name, creator);
            if (ofd_try_lock(fd.get(), kInitLockByte)) {
                // Re-check under the lock: the creator may have finished.
                bool still_bad = true;
                if (::fstat(fd.get(), &st) == 0 &&
                    static_cast<uint64_t>(st.st_size) >= sizeof(RegionHeader)) {
                    void *a =
                        ::mmap(nullptr, sizeof(RegionHeader), PROT_READ, MAP_SHARED, fd.get(), 0);
                    if (a != MAP_FAILED) {
                        Mapping head(a, sizeof(RegionHeader));
                        still_bad = static_cast<const RegionHeader *>(a)->init_state.load(
                                        std::memory_order_acquire) != kReady;
                    }
                }
                if (still_bad) {
                    if (Errc e = check_params(p, &g); e != Errc::ok) {
                        ofd_unlock(fd.get(), kInitLockByte);
                        return e;
                    }
                    Mapping map;
                    Errc e = build(fd.get(), name, p, g, &map);
                    ofd_unlock(fd.get(), kInitLockByte);
                    if (e != Errc::ok) return e;
                    return Region::adopt(std::move(fd), std::move(map), name, true, g.total_size,
                                         out);
                }
                ofd_unlock(fd.get(), kInitLockByte);
                continue;
            }
        }
        if (now > deadline)
            return fail(Errc::timedout, "%s: creator (pid %u) did not finish initialising in time",
                        name, creator);
        sleep_ns(1'000'000);
    }
}

}  // namespace cq
