// Helpers shared by the extern "C" shims: every exported function runs its
// body through guard(), which turns any escaping exception into a code.
#pragma once

#include <new>

#include "core/util/errors.hpp"

namespace cq::capi {

template <typename F>
int guard(F &&body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return to_int(fail(Errc::nomem, "out of memory"));
    } catch (...) {
        return to_int(fail(Errc::io, "internal error: unexpected exception"));
    }
}

inline int inval(const char *what) {
    return to_int(fail(Errc::inval, "%s", what));
}

}  // namespace cq::capi
