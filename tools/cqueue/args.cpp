#include "args.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "cli.hpp"

namespace cqcli {

namespace {

const OptSpec kHelp{"help", 'h', ArgKind::flag};

const OptSpec *find_long(std::span<const OptSpec> specs, std::string_view name) {
    if (name == kHelp.name) return &kHelp;
    for (const OptSpec &s : specs)
        if (s.name == name) return &s;
    return nullptr;
}

const OptSpec *find_short(std::span<const OptSpec> specs, char c) {
    if (c == kHelp.short_name) return &kHelp;
    for (const OptSpec &s : specs)
        if (s.short_name != 0 && s.short_name == c) return &s;
    return nullptr;
}

}  // namespace

Args::Args(int argc, char **argv, int first, std::span<const OptSpec> specs) {
    bool options_done = false;
    for (int i = first; i < argc; ++i) {
        std::string_view a = argv[i];
        if (options_done || a.size() < 2 || a[0] != '-') {
            positional_.emplace_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        const OptSpec *spec = nullptr;
        std::optional<std::string> attached;
        std::string shown;
        if (a.starts_with("--")) {
            std::string_view body = a.substr(2);
            size_t eq = body.find('=');
            std::string_view name = body.substr(0, eq);
            if (eq != std::string_view::npos) attached = std::string(body.substr(eq + 1));
            shown = "--" + std::string(name);
            spec = find_long(specs, name);
        } else {
            shown = std::string(a.substr(0, 2));
            spec = find_short(specs, a[1]);
            if (a.size() > 2) {
                if (spec && spec->kind == ArgKind::flag)
                    throw UsageError("option " + shown + " takes no value");
                attached = std::string(a.substr(2));
            }
        }
        if (!spec) throw UsageError("unknown option " + shown);
        Given g{std::string(spec->name), std::nullopt};
        switch (spec->kind) {
            case ArgKind::flag:
                if (attached) throw UsageError("option " + shown + " takes no value");
                break;
            case ArgKind::optional_value:
                g.value = attached;
                break;
            case ArgKind::value:
                if (attached) {
                    g.value = attached;
                } else if (i + 1 < argc) {
                    g.value = argv[++i];
                } else {
                    throw UsageError("option " + shown + " needs a value");
                }
                break;
        }
        given_.push_back(std::move(g));
    }
}

bool Args::has(std::string_view name) const {
    for (const Given &g : given_)
        if (g.name == name) return true;
    return false;
}

std::optional<std::string> Args::value(std::string_view name) const {
    std::optional<std::string> v;
    for (const Given &g : given_)
        if (g.name == name) v = g.value;
    return v;
}

const std::string &Args::single(std::string_view what) const {
    if (positional_.empty()) throw UsageError("missing " + std::string(what));
    if (positional_.size() > 1) throw UsageError("unexpected argument '" + positional_[1] + "'");
    return positional_[0];
}

uint64_t Args::u64(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const {
    std::optional<std::string> text = value(name);
    if (!text) return def;
    std::optional<uint64_t> v = parse_u64(*text);
    if (!v || *v < min || *v > max)
        throw UsageError("--" + std::string(name) + " must be an integer from " +
                         std::to_string(min) + " to " + std::to_string(max) + ", not '" + *text +
                         "'");
    return *v;
}

uint32_t Args::u32(std::string_view name, uint32_t def, uint32_t min, uint32_t max) const {
    return static_cast<uint32_t>(u64(name, def, min, max));
}

std::optional<uint64_t> parse_u64(std::string_view text) {
    uint64_t v = 0;
    const char *end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v, 10);
    if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
    return v;
}

std::optional<uint32_t> parse_octal_mode(std::string_view text) {
    uint32_t v = 0;
    const char *end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v, 8);
    // Permission bits only: the library refuses setuid, setgid and sticky.
    if (text.empty() || ec != std::errc() || p != end || v > 0777) return std::nullopt;
    return v;
}

std::optional<uint64_t> parse_size(std::string_view text) {
    uint64_t unit = 1;
    if (!text.empty()) {
        switch (text.back()) {
            case 'k':
            case 'K':
                unit = uint64_t{1} << 10;
                break;
            case 'M':
                unit = uint64_t{1} << 20;
                break;
            case 'G':
                unit = uint64_t{1} << 30;
                break;
        }
        if (unit != 1) text.remove_suffix(1);
    }
    std::optional<uint64_t> v = parse_u64(text);
    if (!v || *v > UINT64_MAX / unit) return std::nullopt;
    return *v * unit;
}

namespace {

// Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Exactly n digits at text[pos..]; advances pos.
std::optional<unsigned> digits(std::string_view text, size_t &pos, size_t n) {
    if (pos + n > text.size()) return std::nullopt;
    unsigned v = 0;
    for (size_t i = 0; i < n; ++i) {
        const char c = text[pos + i];
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos += n;
    return v;
}

bool expect(std::string_view text, size_t &pos, std::string_view chars) {
    if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos) return false;
    ++pos;
    return true;
}

}  // namespace

std::optional<int64_t> parse_rfc3339_ns(std::string_view text) {
    size_t pos = 0;
    const auto year = digits(text, pos, 4);
    if (!year || !expect(text, pos, "-")) return std::nullopt;
    const auto month = digits(text, pos, 2);
    if (!month || !expect(text, pos, "-")) return std::nullopt;
    const auto day = digits(text, pos, 2);
    if (!day || !expect(text, pos, "Tt ")) return std::nullopt;
    const auto hour = digits(text, pos, 2);
    if (!hour || !expect(text, pos, ":")) return std::nullopt;
    const auto minute = digits(text, pos, 2);
    if (!minute || !expect(text, pos, ":")) return std::nullopt;
    const auto second = digits(text, pos, 2);
    if (!second) return std::nullopt;
    static constexpr unsigned kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
    if (*month < 1 || *month > 12 || *day < 1 || *day > kMonthDays[*month - 1] ||
        (*month == 2 && *day == 29 && !leap) || *hour > 23 || *minute > 59 || *second > 60)
        return std::nullopt;
    int64_t frac_ns = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        int64_t scale = 100'000'000;
        const size_t first = pos;
        for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
            frac_ns += (text[pos] - '0') * scale;
            scale /= 10;
        }
        if (pos == first) return std::nullopt;
    }
    int64_t offset_s = 0;
    if (expect(text, pos, "Zz")) {
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        const int64_t sign = text[pos] == '-' ? -1 : 1;
        ++pos;
        const auto oh = digits(text, pos, 2);
        if (!oh || !expect(text, pos, ":")) return std::nullopt;
        const auto om = digits(text, pos, 2);
        if (!om || *oh > 23 || *om > 59) return std::nullopt;
        offset_s = sign * (int64_t{*oh} * 3600 + int64_t{*om} * 60);
    } else {
        return std::nullopt;
    }
    if (pos != text.size()) return std::nullopt;
    const int64_t secs = days_from_civil(*year, *month, *day) * 86400 + int64_t{*hour} * 3600 +
                         int64_t{*minute} * 60 + *second - offset_s;
    // Years 0000..9999 fit in int64 nanoseconds only from 1678 to 2262.
    if (secs < -9'223'372'036 || secs > 9'223'372'035) return std::nullopt;
    return secs * 1'000'000'000 + frac_ns;
}

std::optional<int64_t> parse_seconds_ns(std::string_view text) {
    // from_chars for double is in libstdc++ 11+; reject signs, inf and nan.
    if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.'))
        return std::nullopt;
    double s = 0;
    const char *end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, s);
    if (ec != std::errc() || p != end || !std::isfinite(s) || s < 0 || s > 1e9) return std::nullopt;
    return static_cast<int64_t>(std::llround(s * 1e9));
}

}  // namespace cqcli
