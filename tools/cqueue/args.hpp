// Command-line option parsing for the cqueue tool: GNU-style long options
// (--name VALUE, --name=VALUE), short options (-n VALUE, -nVALUE), options
// whose value is optional (--wait, --wait=5), positional arguments, and "--"
// to end the options. Errors are thrown as UsageError (exit code 2).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cqcli {

enum class ArgKind {
    flag,            // --excl
    value,           // --capacity N, --capacity=N
    optional_value,  // --wait, --wait=SECONDS (the value must be attached with '=')
};

struct OptSpec {
    std::string_view name;  // long name without the dashes
    char short_name;        // 0 for none
    ArgKind kind;
};

class Args {
  public:
    // Parses argv[first..argc). "--help" and "-h" are always accepted (as "help").
    Args(int argc, char **argv, int first, std::span<const OptSpec> specs);

    bool has(std::string_view name) const;
    // The value of the last occurrence; nullopt if absent or given without one.
    std::optional<std::string> value(std::string_view name) const;
    const std::vector<std::string> &positional() const { return positional_; }
    // The single positional argument (what = "NAME" in the error); UsageError otherwise.
    const std::string &single(std::string_view what) const;

    // Typed accessors: the default when absent, UsageError when malformed.
    uint64_t u64(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const;
    uint32_t u32(std::string_view name, uint32_t def, uint32_t min, uint32_t max) const;

  private:
    struct Given {
        std::string name;
        std::optional<std::string> value;
    };
    std::vector<Given> given_;
    std::vector<std::string> positional_;
};

// Strict number parsing: the whole text must be the number. nullopt otherwise.
std::optional<uint64_t> parse_u64(std::string_view text);
std::optional<uint32_t> parse_octal_mode(std::string_view text);
// Bytes, optionally with a suffix k, M or G (KiB, MiB, GiB): "65536", "64k", "1M".
std::optional<uint64_t> parse_size(std::string_view text);
// An RFC 3339 time ("2026-11-23T19:56:14Z", "2026-11-23 20:56:14.25+01:00") to
// nanoseconds since the Unix epoch (CLOCK_REALTIME); nullopt if malformed.
std::optional<int64_t> parse_rfc3339_ns(std::string_view text);
// Seconds as a decimal (e.g. "2", "0.25") to nanoseconds.
std::optional<int64_t> parse_seconds_ns(std::string_view text);

}  // namespace cqcli
