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
    if (text.empty() || ec != std::errc() || p != end || v > 07777) return std::nullopt;
    return v;
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
