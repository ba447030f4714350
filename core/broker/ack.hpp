// Ack files of durable subscriptions (DIR/subs/ID/TOPIC.ack): load with
// validation, store atomically (write a temporary, optionally fdatasync,
// rename over the old one, optionally fsync the directory).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/util/errors.hpp"

namespace cq::broker {

// Errc::noent if there is none; Errc::corrupt / version (with the path in
// the error text) if it fails validation.
Errc load_ack(const std::string &path, uint64_t *next_offset);
// Validates an ack file image (the fuzz target uses it directly).
Errc parse_ack(const void *data, size_t len, uint64_t *next_offset, const char *what);
Errc store_ack(const std::string &dir, const std::string &path, uint64_t next_offset, bool sync,
               mode_t mode);

}  // namespace cq::broker
