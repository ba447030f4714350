#include "core/broker/names.hpp"

namespace cq::broker {
namespace {

bool token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// Calls f(token, is_last) for each '.'-separated token; false if f does.
template <typename F>
bool for_tokens(std::string_view s, F f) {
    size_t start = 0;
    for (;;) {
        size_t dot = s.find('.', start);
        bool last = dot == std::string_view::npos;
        if (!f(s.substr(start, last ? std::string_view::npos : dot - start), last)) return false;
        if (last) return true;
        start = dot + 1;
    }
}

bool plain_token(std::string_view tok) {
    if (tok.empty()) return false;
    for (char c : tok)
        if (!token_char(c)) return false;
    return true;
}

}  // namespace

bool valid_topic(std::string_view t) noexcept {
    return !t.empty() && t.size() <= kMaxTopicLen &&
           for_tokens(t, [](std::string_view tok, bool) { return plain_token(tok); });
}

bool valid_pattern(std::string_view p) noexcept {
    return !p.empty() && p.size() <= kMaxTopicLen &&
           for_tokens(p, [](std::string_view tok, bool last) {
               return tok == "*" || (last && tok == ">") || plain_token(tok);
           });
}

bool valid_id(std::string_view id) noexcept {
    return !id.empty() && id.size() <= kMaxIdLen && plain_token(id);
}

bool matches(std::string_view pattern, std::string_view topic) noexcept {
    size_t pp = 0, tp = 0;
    for (;;) {
        size_t pe = pattern.find('.', pp), te = topic.find('.', tp);
        std::string_view ptok = pattern.substr(pp, pe == std::string_view::npos ? pe : pe - pp);
        std::string_view ttok = topic.substr(tp, te == std::string_view::npos ? te : te - tp);
        if (ptok == ">") return true;  // the last token of a valid pattern; one or more left
        if (ptok != "*" && ptok != ttok) return false;
        const bool pend = pe == std::string_view::npos, tend = te == std::string_view::npos;
        if (pend || tend) return pend && tend;
        pp = pe + 1;
        tp = te + 1;
    }
}

}  // namespace cq::broker
