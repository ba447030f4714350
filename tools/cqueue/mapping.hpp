// RAII shared mappings: anonymous (inherited across fork) or of a file (opened
// by name from other programs). Contents written through a MAP_SHARED mapping
// survive the writer being SIGKILLed, which the demo relies on.
#pragma once

#include <cstddef>
#include <string>

namespace cqcli {

class Mapping {
  public:
    Mapping() = default;
    ~Mapping();
    Mapping(Mapping &&o) noexcept;
    Mapping &operator=(Mapping &&o) noexcept;
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;

    // Zero-filled, shared with children forked afterwards. Throws SysError.
    static Mapping anonymous(size_t size);
    // create: make a new zero-filled file of `size` bytes (fails if it exists);
    // otherwise map an existing file, which must be at least `size` bytes.
    static Mapping file(const std::string &path, size_t size, bool create);

    void *data() const { return data_; }
    size_t size() const { return size_; }
    template <class T>
    T *as() const {
        return static_cast<T *>(data_);
    }

  private:
    Mapping(void *data, size_t size) : data_(data), size_(size) {}
    void *data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace cqcli
