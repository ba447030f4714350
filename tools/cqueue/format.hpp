// Small text helpers for reports and status lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cqcli {

// "1.23M", "456.7k", "89" — for rates and counts in status lines.
std::string human_count(double v);
// "1 node", "2 nodes".
std::string plural(uint64_t n, const char *word);
// The code point of the well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, surrogates or code points past U+10FFFF) at p[0..len), len >= 1,
// into *cp; returns its length, or 0 if none starts there.
size_t utf8_decode(const unsigned char *p, size_t len, uint32_t *cp);
// A JSON string literal: quotes, with \" \\ and control characters escaped.
std::string json_string(const std::string &s);

}  // namespace cqcli
