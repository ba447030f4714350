// The --wait[=SECONDS] option shared by send and recv: absent = do not wait,
// bare = wait forever, with a value = wait up to that long (per message).
#pragma once

#include <cqueue/cqueue.h>

#include <cstdint>
#include <optional>
#include <string>

#include "args.hpp"
#include "cli.hpp"

namespace cqcli {

inline int64_t wait_timeout_ns(const Args &args) {
    if (!args.has("wait")) return CQ_NO_WAIT;
    std::optional<std::string> v = args.value("wait");
    if (!v) return CQ_WAIT_FOREVER;
    std::optional<int64_t> ns = parse_seconds_ns(*v);
    if (!ns)
        throw UsageError("--wait takes a number of seconds (e.g. --wait=2.5), not '" + *v + "'");
    return *ns;
}

}  // namespace cqcli
