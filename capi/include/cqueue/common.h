/*
 * libcqueue — common definitions: export macro, version, error codes.
 *
 * Every function of the library returns CQ_OK (0) or a negative CQ_E* code;
 * cq_last_error() then holds a human-readable detail for the calling thread.
 * The numeric values of the codes are part of the ABI and never change.
 */
#ifndef CQUEUE_COMMON_H
#define CQUEUE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(CQUEUE_BUILDING_LIBRARY)
#define CQ_API __attribute__((visibility("default")))
#else
#define CQ_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the headers; cq_version() gives the version of the library. */
#define CQ_VERSION_MAJOR 1
#define CQ_VERSION_MINOR 0
#define CQ_VERSION_PATCH 0
#define CQ_VERSION_STRING "1.0.0"
/** One integer that grows with every release: MAJOR*10000 + MINOR*100 + PATCH. */
#define CQ_VERSION_NUMBER (CQ_VERSION_MAJOR * 10000 + CQ_VERSION_MINOR * 100 + CQ_VERSION_PATCH)

/* Error codes. Pinned forever: new codes are only ever appended. */
#define CQ_OK 0
#define CQ_EEMPTY (-1)     /**< queue is empty (non-blocking dequeue) */
#define CQ_EFULL (-2)      /**< queue is full (non-blocking enqueue) */
#define CQ_ETIMEDOUT (-3)  /**< a wait ran out of time */
#define CQ_EMSGSIZE (-4)   /**< message too large for the queue or the buffer */
#define CQ_EINVAL (-5)     /**< an argument is invalid */
#define CQ_ENOENT (-6)     /**< no such queue, topic or file */
#define CQ_EEXIST (-7)     /**< already exists (CQ_CREATE|CQ_EXCL) */
#define CQ_EPERM (-8)      /**< permission denied, or handle used where it may not be */
#define CQ_ECORRUPT (-9)   /**< shared or on-disk data failed validation */
#define CQ_EVERSION (-10)  /**< data written by an incompatible layout version */
#define CQ_ENOMEM (-11)    /**< out of memory or address space */
#define CQ_EIO (-12)       /**< an operating-system call failed */
#define CQ_ECLOSED (-13)   /**< the object is closed or shutting down */
#define CQ_ECANCELED (-14) /**< the operation was cancelled */
#define CQ_EBUSY                                                                       \
    (-15)                 /**< still in use (broker_close with open subscriptions), or \
                               recovery could not stop the world in time; retry later */
#define CQ_EFOREIGN (-16) /**< the name is taken by something that is not ours */

/**
 * Static English text for an error code; unknown codes give "unknown error".
 * Never NULL. Thread-safe.
 */
CQ_API const char *cq_strerror(int code);

/**
 * Detail of the calling thread's most recent failure (which file, which
 * field, which index). Empty string if none. The text stays valid until the
 * thread's next call into the library. Never NULL.
 */
CQ_API const char *cq_last_error(void);

/** Version of the loaded library, "MAJOR.MINOR.PATCH". Never NULL. */
CQ_API const char *cq_version(void);

/*
 * Timeouts are int64_t nanoseconds: 0 = do not wait, negative = wait forever.
 */
#define CQ_WAIT_FOREVER ((int64_t)-1)
#define CQ_NO_WAIT ((int64_t)0)

#ifdef __cplusplus
}
#endif

#endif /* CQUEUE_COMMON_H */
