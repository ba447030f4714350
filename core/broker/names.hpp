// Topic names, patterns and subscriber ids: validation and matching.
//
// A topic is 1..255 bytes of tokens [A-Za-z0-9_-]+ joined by '.'. A pattern
// is a topic whose tokens may also be '*' (exactly one token) and whose last
// token may be '>' (one or more tokens). An id is 1..128 bytes of [A-Za-z0-9_-].
#pragma once

#include <string_view>

namespace cq::broker {

inline constexpr size_t kMaxTopicLen = 255;
inline constexpr size_t kMaxIdLen = 128;

bool valid_topic(std::string_view t) noexcept;
bool valid_pattern(std::string_view p) noexcept;
bool valid_id(std::string_view id) noexcept;
// Whether topic (valid) matches pattern (valid).
bool matches(std::string_view pattern, std::string_view topic) noexcept;

}  // namespace cq::broker
