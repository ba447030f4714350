// A queue region: the named shared-memory object or file, mapped, with its
// header validated. Creation, attachment, waiting for a creator and the
// re-initialisation of a region whose creator died live here.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/queue/layout.hpp"
#include "core/shm/fd.hpp"
#include "core/util/errors.hpp"

namespace cq {

struct RegionParams {
    bool create = false;
    bool excl = false;
    uint32_t capacity = 65536;
    uint32_t max_message_size = 256;
    uint32_t lane_count = layout::kDefaultLanes;
    mode_t mode = 0600;
    bool auto_recover = true;                  // recover when a dead peer is noticed (Queue)
    uint64_t creator_wait_ns = 5'000'000'000;  // bound on waiting for another creator
};

// Checks a name: a shm name [A-Za-z0-9._-]{1,200} (not only dots), or a path
// (contains '/', at most 4095 bytes, no NUL).
Errc check_region_name(const char *name) noexcept;

// The geometry a valid header gives, as validate_header checked it.
struct CheckedGeometry {
    uint32_t capacity, max_message_size, lane_count;
    layout::Geometry g;
};

// Validates a ready header against the size of the object it was read from.
// Everything the attach path trusts is checked here; it is the fuzz target.
// *out (if given) gets the geometry exactly as checked.
Errc validate_header(const layout::RegionHeader *h, uint64_t object_size,
                     CheckedGeometry *out = nullptr) noexcept;

class Region {
  public:
    static Errc open(const char *name, const RegionParams &params, std::unique_ptr<Region> *out);
    static Errc unlink(const char *name);

    layout::RegionHeader *header() const { return hdr_; }
    // The geometry, read from the header once and checked when the region
    // was opened: every process can write the header, so nothing below is
    // read from it again (a peer that rewrites lane_count or lanes_offset
    // later cannot send this process outside the mapping).
    layout::Lane *lanes() const { return lanes_; }
    char *node_base() const { return nodes_; }
    uint32_t lane_count() const { return lane_count_; }
    uint32_t node_count() const { return node_count_; }
    uint32_t node_stride() const { return node_stride_; }
    uint32_t capacity() const { return node_count_ - 1; }
    uint32_t max_message_size() const { return max_message_size_; }
    int fd() const { return fd_.get(); }
    const std::string &name() const { return name_; }
    bool created() const { return created_; }

  private:
    Region(Fd fd, Mapping map, std::string name, bool created);
    char *base() const { return static_cast<char *>(map_.get()); }
    // Validates the header on the full mapping and keeps the geometry it
    // checked (validate_header's codes if it fails).
    Errc pin_geometry(uint64_t object_size);
    // A Region over the mapped object, its geometry pinned, into *out.
    static Errc adopt(Fd fd, Mapping map, const char *name, bool created, uint64_t size,
                      std::unique_ptr<Region> *out);

    Fd fd_;
    Mapping map_;
    layout::RegionHeader *hdr_;
    std::string name_;
    bool created_;
    layout::Lane *lanes_ = nullptr;
    char *nodes_ = nullptr;
    uint32_t lane_count_ = 0, node_count_ = 0, node_stride_ = 0, max_message_size_ = 0;
};

}  // namespace cq
