// Small text helpers for reports and status lines.
#pragma once

#include <cstdint>
#include <string>

namespace cqcli {

// "1.23M", "456.7k", "89" — for rates and counts in status lines.
std::string human_count(double v);
// "1 node", "2 nodes".
std::string plural(uint64_t n, const char *word);
// A JSON string literal: quotes, with \" \\ and control characters escaped.
std::string json_string(const std::string &s);

}  // namespace cqcli
