// cq_strerror, cq_last_error, cq_version.
#include "cqueue/common.h"

#include "core/util/errors.hpp"

#define CQ_CHECK_CODE(c, e) static_assert((c) == static_cast<int>(cq::Errc::e))
CQ_CHECK_CODE(CQ_OK, ok);
CQ_CHECK_CODE(CQ_EEMPTY, empty);
CQ_CHECK_CODE(CQ_EFULL, full);
CQ_CHECK_CODE(CQ_ETIMEDOUT, timedout);
CQ_CHECK_CODE(CQ_EMSGSIZE, msgsize);
CQ_CHECK_CODE(CQ_EINVAL, inval);
CQ_CHECK_CODE(CQ_ENOENT, noent);
CQ_CHECK_CODE(CQ_EEXIST, exist);
CQ_CHECK_CODE(CQ_EPERM, perm);
CQ_CHECK_CODE(CQ_ECORRUPT, corrupt);
CQ_CHECK_CODE(CQ_EVERSION, version);
CQ_CHECK_CODE(CQ_ENOMEM, nomem);
CQ_CHECK_CODE(CQ_EIO, io);
CQ_CHECK_CODE(CQ_ECLOSED, closed);
CQ_CHECK_CODE(CQ_ECANCELED, canceled);
CQ_CHECK_CODE(CQ_EBUSY, busy);
CQ_CHECK_CODE(CQ_EFOREIGN, foreign);

extern "C" {

CQ_API const char *cq_strerror(int code) {
    return cq::errc_text(code);
}

CQ_API const char *cq_last_error(void) {
    return cq::last_error();
}

CQ_API const char *cq_version(void) {
    return CQ_VERSION_STRING;
}

}  // extern "C"
