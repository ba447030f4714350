#include "mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cli.hpp"

namespace cqcli {

namespace {

[[noreturn]] void fail(const std::string &what) {
    throw SysError(what + ": " + std::strerror(errno));
}

// Closes a descriptor on every path out of Mapping::file.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Mapping::~Mapping() {
    if (data_) munmap(data_, size_);
}

Mapping::Mapping(Mapping &&o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

Mapping &Mapping::operator=(Mapping &&o) noexcept {
    if (this != &o) {
        if (data_) munmap(data_, size_);
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

Mapping Mapping::anonymous(size_t size) {
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("mmap of " + std::to_string(size) + " bytes failed");
    return Mapping(p, size);
}

Mapping Mapping::file(const std::string &path, size_t size, bool create) {
    Fd f{::open(path.c_str(), create ? O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC : O_RDWR | O_CLOEXEC,
                0600)};
    if (f.fd < 0) fail("cannot open " + path);
    if (create) {
        if (ftruncate(f.fd, static_cast<off_t>(size)) != 0) fail("cannot size " + path);
    } else {
        // Mapping past the end would SIGBUS on access: check the size first.
        struct stat st {};
        if (fstat(f.fd, &st) != 0) fail("cannot stat " + path);
        if (static_cast<size_t>(st.st_size) < size) {
            errno = EINVAL;
            fail(path + " is smaller than expected");
        }
    }
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
    if (p == MAP_FAILED) fail("cannot map " + path);
    return Mapping(p, size);
}

}  // namespace cqcli
