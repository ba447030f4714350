// libFuzzer target over region validation and everything an attacher does
// with a region it accepted: the input patches a valid queue image (which a
// hostile or broken peer could have written), then the image is opened and
// driven. Any crash, hang, sanitizer report or out-of-mapping access is a bug.
//
// Input: byte 0 = flags (bit 0: re-seal the header checksum, so the fuzzer
// gets past it; bit 1: truncate to the length in bytes 1-2), then 3-byte
// patches (offset lo, offset hi, value) applied modulo the image size.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "core/queue/layout.hpp"
#include "core/queue/queue.hpp"
#include "core/util/crc32c.hpp"

namespace {

const std::string &path() {
    static const std::string p = "/dev/shm/cq-fuzz-" + std::to_string(::getpid());
    return p;
}

std::string write_image(const std::string &bytes) {
    int fd = ::open(path().c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
        }
        ::close(fd);
    }
    return path();
}

std::string base_image() {
    ::unlink(path().c_str());
    cq::RegionParams p;
    p.create = true;
    p.capacity = 6;
    p.max_message_size = 24;
    p.lane_count = 4;
    {
        std::unique_ptr<cq::Queue> q;
        if (cq::Queue::open(path().c_str(), p, &q) != cq::Errc::ok) std::abort();
        for (const char *m : {"alpha", "beta", "gamma"}) q->enqueue(m, std::strlen(m));
        char buf[24];
        size_t len;
        q->dequeue(buf, sizeof buf, &len);
    }
    int fd = ::open(path().c_str(), O_RDONLY);
    std::string img(static_cast<size_t>(::lseek(fd, 0, SEEK_END)), '\0');
    if (::pread(fd, img.data(), img.size(), 0) != static_cast<ssize_t>(img.size())) std::abort();
    ::close(fd);
    return img;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const std::string base = base_image();
    if (size == 0) return 0;
    std::string img = base;
    const uint8_t flags = data[0];
    size_t i = 1;
    if ((flags & 2) && size >= 3) {
        img.resize((data[1] | data[2] << 8) % (base.size() + 64), '\0');
        i = 3;
    }
    for (; i + 3 <= size && !img.empty(); i += 3)
        img[(data[i] | data[i + 1] << 8) % img.size()] = static_cast<char>(data[i + 2]);
    if ((flags & 1) && img.size() >= sizeof(cq::layout::RegionHeader)) {
        uint32_t sum = cq::crc32c(0, img.data(), cq::layout::kChecksummedBytes);
        std::memcpy(img.data() + offsetof(cq::layout::RegionHeader, checksum), &sum, 4);
    }
    cq::RegionParams p;
    p.creator_wait_ns = 0;  // a not-ready image is refused at once
    std::unique_ptr<cq::Queue> q;
    if (cq::Queue::open(write_image(img).c_str(), p, &q) != cq::Errc::ok) return 0;
    char buf[64];
    size_t len;
    q->enqueue("x", 1);
    for (int k = 0; k < 8; ++k) q->dequeue(buf, sizeof buf, &len);
    cq::ConstBuf in[2] = {{"ab", 2}, {"cd", 2}};
    q->enqueue_batch(in, 2);
    cq::MutBuf out[2] = {{buf, 32, 0}, {buf + 32, 32, 0}};
    q->dequeue_batch(out, 2);
    cq::QueueStats st;
    q->stats(&st);
    uint64_t reclaimed;
    q->recover(&reclaimed);
    q->enqueue("y", 1);
    q->dequeue(buf, sizeof buf, &len);
    return 0;
}
