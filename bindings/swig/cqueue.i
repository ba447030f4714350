/*
 * libcqueue: the one SWIG interface for Go, Java and Python (SWIG 4.1).
 *
 *   swig -python -threads -module cqueue_swig ...   (python/setup.py; -threads releases
 *                                                   the GIL around every facade but
 *                                                   the %nothread ones)
 *   swig -java -package org.cqueue.swig ...         (java/build-native.sh)
 *   swig -go -cgo -intgosize 64 -module raw ...     (go/internal/raw/gen.go, go generate)
 *
 * Only the facades below are wrapped, never the C functions themselves: each
 * facade has its own name (cqb_*), takes plain integers and buffers, and
 * returns CQ_OK, a length or count (>= 0), or a negative CQ_E* code, so every
 * language turns codes into its own errors in its own thin layer (Python
 * cqueue/__init__.py, Java org.cqueue.*, Go package cqueue). Facades with the
 * names of the C functions would recurse (see PITFALLS, "Bindings").
 *
 * Waits: cqb_queue_put / cqb_queue_get with a timeout and cqb_sub_poll_batch wait in the
 * library; cqb_queue_interrupt / cqb_sub_interrupt end them from another thread (CQ_ECANCELED),
 * which is how each language's close() (and Go's context cancellation) ends a wait at once.
 *
 * Buffers: Python takes any contiguous buffer (bytes, bytearray, memoryview)
 * through pybuffer.i; Java takes byte[] (and direct ByteBuffers through
 * cqb_queue_put_direct / cqb_queue_get_direct); Go takes []byte.
 *
 * Pool jobs are callables of the language. Each language has its own
 * trampoline here (#ifdef SWIGPYTHON / SWIGJAVA / SWIGGO). A trampoline never
 * lets an exception or panic reach the library's frames: it catches it, marks
 * the job failed (pool_job_fail) and hands it to the job's completion
 * callback. Threads of the pool are attached to the language's runtime once,
 * by the pool's thread start/stop hooks, not once per job. The same holds for
 * the message handlers of cqb_pool_attach_queue and the batch handlers of push
 * subscriptions (cqb_broker_subscribe_push: one crossing per batch of up to 64
 * records, through cqb_push_tramp; a handler that raises or panics fails its
 * batch, see there).
 */
%module cqueue

%{
#include <cqueue/cqueue.h>
#include <stdlib.h>
#include <string.h>
%}

%include <stdint.i>

/* ---- buffers ----------------------------------------------------------------- */
#if defined(SWIGPYTHON)
%include <pybuffer.i>
%pybuffer_binary(const char *data, size_t len);
%pybuffer_mutable_binary(char *buf, size_t cap);
#elif defined(SWIGJAVA)
%apply (const char *STRING, size_t LENGTH) { (const char *data, size_t len) };
%apply (char *STRING, size_t LENGTH) { (char *buf, size_t cap) };
/* The JNI class loads the glue itself, so any first use (constants included) works.
 * The glue finds libcqueue.so.1 next to itself (RUNPATH $ORIGIN). */
%pragma(java) jniclasscode=%{
  static {
    String path = System.getProperty("org.cqueue.jni");
    if (path != null) {
      System.load(path);
    } else {
      System.loadLibrary("cqueue_jni");
    }
  }
%}
/* The JNIEnv of the current call, for the facades that need JNI themselves. */
%typemap(in, numinputs=0) JNIEnv *jenv_ %{ $1 = jenv; %}
%typemap(jni) JNIEnv *jenv_ ""
%typemap(jtype) JNIEnv *jenv_ ""
%typemap(jstype) JNIEnv *jenv_ ""
#elif defined(SWIGGO)
%typemap(gotype) (const char *data, size_t len), (char *buf, size_t cap) "[]byte"
%typemap(in) (const char *data, size_t len), (char *buf, size_t cap)
%{
  $1 = ($1_ltype)$input.array;
  $2 = ($2_ltype)$input.len;
%}
#endif

/* Fields of the handle structs are the facades' business: read-only everywhere. */
%immutable;

/* ---- constants ----------------------------------------------------------------- */
%constant int OK = CQ_OK;
%constant int EEMPTY = CQ_EEMPTY;
%constant int EFULL = CQ_EFULL;
%constant int ETIMEDOUT = CQ_ETIMEDOUT;
%constant int EMSGSIZE = CQ_EMSGSIZE;
%constant int EINVAL = CQ_EINVAL;
%constant int ENOENT = CQ_ENOENT;
%constant int EEXIST = CQ_EEXIST;
%constant int EPERM = CQ_EPERM;
%constant int ECORRUPT = CQ_ECORRUPT;
%constant int EVERSION = CQ_EVERSION;
%constant int ENOMEM = CQ_ENOMEM;
%constant int EIO = CQ_EIO;
%constant int ECLOSED = CQ_ECLOSED;
%constant int ECANCELED = CQ_ECANCELED;
%constant int EBUSY = CQ_EBUSY;
%constant int EFOREIGN = CQ_EFOREIGN;
%constant int CREATE = CQ_CREATE;
%constant int EXCL = CQ_EXCL;
%constant int DEFAULT_CAPACITY = CQ_DEFAULT_CAPACITY;
%constant int DEFAULT_MAX_MESSAGE_SIZE = CQ_DEFAULT_MAX_MESSAGE_SIZE;

/* ---- common ----------------------------------------------------------------------- */
#if defined(SWIGGO)
/* Go gets text through cqb_copy_text: SWIG's Go code for a returned char * converts a
 * uintptr to unsafe.Pointer, which `go vet` rejects. */
%ignore cqb_strerror;
%ignore cqb_last_error;
%ignore cqb_version;
#endif
%inline %{
/** cq_strerror(code): static text. */
const char *cqb_strerror(int code) { return cq_strerror(code); }
/** Detail of this thread's last failure (call right after the failing facade). */
const char *cqb_last_error(void) { return cq_last_error(); }
const char *cqb_version(void) { return cq_version(); }

/** Copy text into buf: what 0 = cq_strerror(code), 1 = cq_last_error(), 2 = cq_version().
 *  Returns the full length (the copy is truncated to cap). */
int cqb_copy_text(int what, int code, char *buf, size_t cap) {
    const char *t = what == 0 ? cq_strerror(code) : what == 1 ? cq_last_error() : cq_version();
    size_t n = strlen(t);
    if (cap) memcpy(buf, t, n < cap ? n : cap);
    return (int)n;
}
%}

/* ---- queue -------------------------------------------------------------------------- */
%inline %{
/** An open queue: the target language allocates one, cqb_queue_open fills it. */
typedef struct CqbQueue {
    cq_queue *raw;
    uint32_t capacity;
    uint32_t max_message_size;
} CqbQueue;

/** Counters (signed so that every language maps them to its plain integer type). */
typedef struct CqbQueueStats {
    int64_t capacity;
    int64_t max_message_size;
    int64_t length;
    int64_t free_nodes;
    int64_t enqueued;
    int64_t dequeued;
    int64_t reclaimed;
} CqbQueueStats;

/** cq_open with explicit options; 0 for capacity / size / mode means the default. */
int cqb_queue_open(CqbQueue *self, const char *name, uint32_t flags, uint32_t capacity,
                   uint32_t max_message_size, uint32_t mode) {
    if (!self || self->raw) return CQ_EINVAL;
    cq_queue_options o;
    cq_queue_options_init(&o);
    o.flags = flags;
    if (capacity) o.capacity = capacity;
    if (max_message_size) o.max_message_size = max_message_size;
    if (mode) o.mode = mode;
    int rc = cq_open(name, &o, &self->raw);
    if (rc < 0) return rc;
    cq_queue_stats s = CQ_QUEUE_STATS_INIT;
    rc = cq_stats(self->raw, &s);
    if (rc < 0) {
        cq_close(self->raw);
        self->raw = NULL;
        return rc;
    }
    self->capacity = s.capacity;
    self->max_message_size = s.max_message_size;
    return CQ_OK;
}

/** Close (idempotent: a closed handle gives CQ_OK). */
int cqb_queue_close(CqbQueue *self) {
    if (!self || !self->raw) return CQ_OK;
    cq_queue *q = self->raw;
    self->raw = NULL;
    return cq_close(q);
}

int cqb_queue_is_open(const CqbQueue *self) { return self && self->raw ? 1 : 0; }

int cqb_queue_unlink(const char *name) { return cq_unlink(name); }

/** Enqueue; timeout_ns 0 = never wait, negative = wait forever (CQ_ECANCELED: ended by
 *  cqb_queue_interrupt). */
int cqb_queue_put(CqbQueue *self, const char *data, size_t len, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (timeout_ns == 0) return cq_enqueue(self->raw, data, len);
    return cq_enqueue_wait(self->raw, data, len, timeout_ns);
}

/** Dequeue into buf: the message length (>= 0) or a negative code (waits as cqb_queue_put). */
int cqb_queue_get(CqbQueue *self, char *buf, size_t cap, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    size_t len = 0;
    int rc = timeout_ns == 0 ? cq_dequeue(self->raw, buf, cap, &len)
                             : cq_dequeue_wait(self->raw, buf, cap, &len, timeout_ns);
    return rc < 0 ? rc : (int)len;
}

/** cq_interrupt: every cqb_queue_put / cqb_queue_get waiting on the handle in this process
 *  returns CQ_ECANCELED (waits that begin afterwards do not). Thread-safe; the languages call it
 *  to end waits for close() and for cancellation, and free the handle only once those calls
 *  have returned. */
int cqb_queue_interrupt(CqbQueue *self) {
    if (!self || !self->raw) return CQ_ECLOSED;
    return cq_interrupt(self->raw);
}

int cqb_queue_stats(CqbQueue *self, CqbQueueStats *out) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!out) return CQ_EINVAL;
    cq_queue_stats s = CQ_QUEUE_STATS_INIT;
    int rc = cq_stats(self->raw, &s);
    if (rc < 0) return rc;
    out->capacity = s.capacity;
    out->max_message_size = s.max_message_size;
    out->length = (int64_t)s.length;
    out->free_nodes = (int64_t)s.free_nodes;
    out->enqueued = (int64_t)s.enqueued;
    out->dequeued = (int64_t)s.dequeued;
    out->reclaimed = (int64_t)s.reclaimed;
    return CQ_OK;
}

/** Recovery now: the number of nodes reclaimed (>= 0) or a negative code. */
int64_t cqb_queue_recover(CqbQueue *self) {
    if (!self || !self->raw) return CQ_ECLOSED;
    uint64_t n = 0;
    int rc = cq_recover(self->raw, &n);
    return rc < 0 ? rc : (int64_t)n;
}
%}

/* ---- pool ------------------------------------------------------------------------------ */
%inline %{
/** A worker pool: the target language allocates one, cqb_pool_create fills it. */
typedef struct CqbPool {
    cq_pool *raw;
    void *attached; /* language-specific state of pool_attach_queue (Java: a global ref) */
} CqbPool;

typedef struct CqbPoolStats {
    int64_t workers;
    int64_t queue_capacity;
    int64_t submitted;
    int64_t completed;
    int64_t cancelled;
    int64_t expired;
    int64_t failed;
    int64_t queue_depth;
} CqbPoolStats;

/** Stop accepting, drain, join (CQ_ETIMEDOUT: queued jobs were cancelled at the deadline). */
int cqb_pool_shutdown(CqbPool *self, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_OK;
    return pool_shutdown(self->raw, timeout_ns);
}

/** Shut down without grace (if not done) and free. Idempotent. */
void cqb_pool_destroy(CqbPool *self) {
    if (!self || !self->raw) return;
    cq_pool *p = self->raw;
    self->raw = NULL;
    pool_destroy(p);
}

int cqb_pool_stats(CqbPool *self, CqbPoolStats *out) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!out) return CQ_EINVAL;
    cq_pool_stats s = CQ_POOL_STATS_INIT;
    int rc = pool_stats(self->raw, &s);
    if (rc < 0) return rc;
    out->workers = s.workers;
    out->queue_capacity = s.queue_capacity;
    out->submitted = (int64_t)s.submitted;
    out->completed = (int64_t)s.completed;
    out->cancelled = (int64_t)s.cancelled;
    out->expired = (int64_t)s.expired;
    out->failed = (int64_t)s.failed;
    out->queue_depth = (int64_t)s.queue_depth;
    return CQ_OK;
}
%}

/* ---- pool jobs: Python ------------------------------------------------------------------ */
#if defined(SWIGPYTHON)
%{
/*
 * A worker keeps one Python thread state for its whole life: the start hook
 * creates it (PyGILState_Ensure, then releases the GIL but keeps the state),
 * every job only takes and gives back the GIL with it, and the stop hook
 * deletes it. Creating a thread state per job cost about 100 us (PITFALLS).
 */
static __thread PyGILState_STATE cqb_py_hook_state;
static __thread PyThreadState *cqb_py_saved;

static void cqb_py_thread_start(void *user, uint32_t worker) {
    (void)user;
    (void)worker;
    cqb_py_hook_state = PyGILState_Ensure();
    cqb_py_saved = PyEval_SaveThread();
}

static void cqb_py_thread_stop(void *user, uint32_t worker) {
    (void)user;
    (void)worker;
    PyEval_RestoreThread(cqb_py_saved);
    PyGILState_Release(cqb_py_hook_state); /* deletes the thread state */
}

typedef struct cqb_py_job {
    PyObject *fn;   /* called with no arguments */
    PyObject *done; /* None or called with (status, exception or None) */
    PyObject *exc;  /* what fn raised */
} cqb_py_job;

static void cqb_py_run(void *arg) {
    cqb_py_job *j = (cqb_py_job *)arg;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = PyObject_CallNoArgs(j->fn);
    if (r) {
        Py_DECREF(r);
    } else {
        /* Caught here: nothing propagates into the library's frames. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value && tb) PyException_SetTraceback(value, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        j->exc = value;
        pool_job_fail();
    }
    PyGILState_Release(g);
}

static void cqb_py_cleanup(void *arg, int status) {
    cqb_py_job *j = (cqb_py_job *)arg;
    PyGILState_STATE g = PyGILState_Ensure();
    if (j->done != Py_None) {
        PyObject *r = PyObject_CallFunction(j->done, "iO", status, j->exc ? j->exc : Py_None);
        if (r) {
            Py_DECREF(r);
        } else {
            PyErr_WriteUnraisable(j->done);
        }
    }
    Py_XDECREF(j->exc);
    Py_DECREF(j->fn);
    Py_DECREF(j->done);
    PyGILState_Release(g);
    free(j);
}
%}

%inline %{
/** Create a pool whose workers can run Python callables. */
int cqb_pool_create(CqbPool *self, uint32_t workers, uint32_t queue_capacity) {
    if (!self || self->raw) return CQ_EINVAL;
    cq_pool_options o;
    cq_pool_options_init(&o);
    o.workers = workers;
    if (queue_capacity) o.queue_capacity = queue_capacity;
    o.on_thread_start = cqb_py_thread_start;
    o.on_thread_stop = cqb_py_thread_stop;
    return pool_create(&o, &self->raw);
}
%}

/* Takes references under the GIL: this facade must not release it. */
%nothread cqb_pool_submit;
%inline %{
/** Submit fn() (timeout_ns 0: never wait); done(status, exc) runs exactly once if accepted. */
int cqb_pool_submit(CqbPool *self, PyObject *fn, PyObject *done, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!PyCallable_Check(fn) || (done != Py_None && !PyCallable_Check(done))) return CQ_EINVAL;
    cqb_py_job *j = (cqb_py_job *)calloc(1, sizeof *j);
    if (!j) return CQ_ENOMEM;
    Py_INCREF(fn);
    Py_INCREF(done);
    j->fn = fn;
    j->done = done;
    cq_job job = CQ_JOB_INIT;
    job.fn = cqb_py_run;
    job.cleanup = cqb_py_cleanup;
    job.arg = j;
    int rc;
    if (timeout_ns == 0) {
        rc = pool_submit_ex(self->raw, &job);
    } else {
        /* Waiting for room: let the workers (which need the GIL) make it. */
        Py_BEGIN_ALLOW_THREADS rc = pool_submit_wait(self->raw, &job, timeout_ns);
        Py_END_ALLOW_THREADS
    }
    if (rc < 0) {
        Py_DECREF(fn);
        Py_DECREF(done);
        free(j);
    }
    return rc;
}
%}

%{
/* A message from an attached queue: handler(bytes) on the worker, under the GIL. */
static void cqb_py_message(void *ctx, const void *data, size_t len) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *b = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
    PyObject *r = b ? PyObject_CallOneArg((PyObject *)ctx, b) : NULL;
    Py_XDECREF(b);
    if (r) {
        Py_DECREF(r);
    } else {
        /* The Python layer's handler catches everything itself; this is the last guard. */
        PyErr_WriteUnraisable((PyObject *)ctx);
    }
    PyGILState_Release(g);
}
%}

%nothread cqb_pool_attach_queue;
%inline %{
/** Workers also drain q, calling handler(bytes) per message. The caller keeps handler
 *  alive and q open until the pool is destroyed. */
int cqb_pool_attach_queue(CqbPool *self, CqbQueue *q, PyObject *handler) {
    if (!self || !self->raw || !q || !q->raw) return CQ_ECLOSED;
    if (!PyCallable_Check(handler)) return CQ_EINVAL;
    return pool_attach_queue(self->raw, q->raw, cqb_py_message, handler);
}
%}
#endif

/* ---- pool jobs: Java -------------------------------------------------------------------- */
#if defined(SWIGJAVA)
%{
#include <jni.h>

/*
 * Workers are attached to the JVM once, as daemons, by the pool's start hook
 * and detached by its stop hook (the effect SWIG_JAVA_ATTACH_CURRENT_THREAD_AS_DAEMON
 * gives directors): attaching per job cost 33-71 us (PITFALLS).
 * A job is an org.cqueue.PoolJob: run() on a worker, done(status, throwable)
 * exactly once afterwards (or instead, when cancelled).
 */
static JavaVM *cqb_jvm;
static jmethodID cqb_job_run;
static jmethodID cqb_job_done;

static JNIEnv *cqb_java_env(void) {
    JNIEnv *env = NULL;
    if ((*cqb_jvm)->GetEnv(cqb_jvm, (void **)&env, JNI_VERSION_1_8) == JNI_OK) return env;
    /* A thread the hooks did not attach (e.g. the one calling pool_shutdown is a Java
     * thread already, so this is a fallback only). */
    if ((*cqb_jvm)->AttachCurrentThreadAsDaemon(cqb_jvm, (void **)&env, NULL) != JNI_OK)
        return NULL;
    return env;
}

static void cqb_java_thread_start(void *user, uint32_t worker) {
    (void)user;
    (void)worker;
    JNIEnv *env = NULL;
    (*cqb_jvm)->AttachCurrentThreadAsDaemon(cqb_jvm, (void **)&env, NULL);
}

static void cqb_java_thread_stop(void *user, uint32_t worker) {
    (void)user;
    (void)worker;
    (*cqb_jvm)->DetachCurrentThread(cqb_jvm);
}

typedef struct cqb_java_job {
    jobject job; /* global ref to the PoolJob */
    jthrowable exc;
} cqb_java_job;

static void cqb_java_run(void *arg) {
    cqb_java_job *j = (cqb_java_job *)arg;
    JNIEnv *env = cqb_java_env();
    if (!env) {
        pool_job_fail();
        return;
    }
    (*env)->CallVoidMethod(env, j->job, cqb_job_run);
    jthrowable t = (*env)->ExceptionOccurred(env);
    if (t) {
        /* Caught here: a pending Java exception never meets the library's frames. */
        (*env)->ExceptionClear(env);
        j->exc = (jthrowable)(*env)->NewGlobalRef(env, t);
        (*env)->DeleteLocalRef(env, t);
        pool_job_fail();
    }
}

static jmethodID cqb_on_message;

/* A message from an attached queue: handler.onMessage(byte[]) on the worker. */
static void cqb_java_message(void *ctx, const void *data, size_t len) {
    JNIEnv *env = cqb_java_env();
    if (!env) return;
    jbyteArray a = (*env)->NewByteArray(env, (jsize)len);
    if (a) {
        (*env)->SetByteArrayRegion(env, a, 0, (jsize)len, (const jbyte *)data);
        (*env)->CallVoidMethod(env, (jobject)ctx, cqb_on_message, a);
        (*env)->DeleteLocalRef(env, a);
    }
    /* The Java layer's handler catches everything itself; this is the last guard. */
    if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env);
}

static void cqb_java_cleanup(void *arg, int status) {
    cqb_java_job *j = (cqb_java_job *)arg;
    JNIEnv *env = cqb_java_env();
    if (env) {
        (*env)->CallVoidMethod(env, j->job, cqb_job_done, (jint)status, j->exc);
        if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env);
        if (j->exc) (*env)->DeleteGlobalRef(env, j->exc);
        (*env)->DeleteGlobalRef(env, j->job);
    }
    free(j);
}
%}

%inline %{
/** Create a pool whose workers are attached to this JVM for their whole life. */
int cqb_pool_create(CqbPool *self, JNIEnv *jenv_, uint32_t workers, uint32_t queue_capacity) {
    if (!self || self->raw) return CQ_EINVAL;
    if (!cqb_jvm) {
        jclass c = (*jenv_)->FindClass(jenv_, "org/cqueue/PoolJob");
        if (!c) {
            (*jenv_)->ExceptionClear(jenv_);
            return CQ_EINVAL;
        }
        cqb_job_run = (*jenv_)->GetMethodID(jenv_, c, "run", "()V");
        cqb_job_done = (*jenv_)->GetMethodID(jenv_, c, "done", "(ILjava/lang/Throwable;)V");
        (*jenv_)->DeleteLocalRef(jenv_, c);
        if (!cqb_job_run || !cqb_job_done) {
            (*jenv_)->ExceptionClear(jenv_);
            return CQ_EINVAL;
        }
        if ((*jenv_)->GetJavaVM(jenv_, &cqb_jvm) != 0) return CQ_EIO;
    }
    cq_pool_options o;
    cq_pool_options_init(&o);
    o.workers = workers;
    if (queue_capacity) o.queue_capacity = queue_capacity;
    o.on_thread_start = cqb_java_thread_start;
    o.on_thread_stop = cqb_java_thread_stop;
    return pool_create(&o, &self->raw);
}

/** Submit an org.cqueue.PoolJob (timeout_ns 0: never wait). */
int cqb_pool_submit(CqbPool *self, JNIEnv *jenv_, jobject job, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!job || !cqb_jvm) return CQ_EINVAL;
    cqb_java_job *j = (cqb_java_job *)calloc(1, sizeof *j);
    if (!j) return CQ_ENOMEM;
    j->job = (*jenv_)->NewGlobalRef(jenv_, job);
    cq_job cj = CQ_JOB_INIT;
    cj.fn = cqb_java_run;
    cj.cleanup = cqb_java_cleanup;
    cj.arg = j;
    int rc = timeout_ns == 0 ? pool_submit_ex(self->raw, &cj)
                             : pool_submit_wait(self->raw, &cj, timeout_ns);
    if (rc < 0) {
        (*jenv_)->DeleteGlobalRef(jenv_, j->job);
        free(j);
    }
    return rc;
}

/** Workers also drain q, calling handler.onMessage(byte[]) (an org.cqueue.MessageHandler)
 *  per message. q must stay open until the pool is destroyed; then cqb_pool_release_java. */
int cqb_pool_attach_queue(CqbPool *self, JNIEnv *jenv_, CqbQueue *q, jobject handler) {
    if (!self || !self->raw || !q || !q->raw) return CQ_ECLOSED;
    if (!handler || self->attached) return CQ_EINVAL;
    if (!cqb_on_message) {
        jclass c = (*jenv_)->FindClass(jenv_, "org/cqueue/MessageHandler");
        if (!c) {
            (*jenv_)->ExceptionClear(jenv_);
            return CQ_EINVAL;
        }
        cqb_on_message = (*jenv_)->GetMethodID(jenv_, c, "onMessage", "([B)V");
        (*jenv_)->DeleteLocalRef(jenv_, c);
        if (!cqb_on_message) {
            (*jenv_)->ExceptionClear(jenv_);
            return CQ_EINVAL;
        }
    }
    jobject ref = (*jenv_)->NewGlobalRef(jenv_, handler);
    int rc = pool_attach_queue(self->raw, q->raw, cqb_java_message, ref);
    if (rc < 0) {
        (*jenv_)->DeleteGlobalRef(jenv_, ref);
        return rc;
    }
    self->attached = ref;
    return CQ_OK;
}

/** After cqb_pool_destroy: drop the handler's global ref. */
void cqb_pool_release_java(CqbPool *self, JNIEnv *jenv_) {
    if (self && self->attached && !self->raw) {
        (*jenv_)->DeleteGlobalRef(jenv_, (jobject)self->attached);
        self->attached = NULL;
    }
}

/** Enqueue from a direct ByteBuffer: bytes [offset, offset+len) of its memory. */
int cqb_queue_put_direct(CqbQueue *self, JNIEnv *jenv_, jobject buffer, int64_t offset,
                         int64_t len, int64_t timeout_ns) {
    char *base = buffer ? (char *)(*jenv_)->GetDirectBufferAddress(jenv_, buffer) : NULL;
    jlong cap = buffer ? (*jenv_)->GetDirectBufferCapacity(jenv_, buffer) : -1;
    if (!base || offset < 0 || len < 0 || offset + len > cap) return CQ_EINVAL;
    return cqb_queue_put(self, base + offset, (size_t)len, timeout_ns);
}

/** Dequeue into a direct ByteBuffer at [offset, offset+cap): the length or a code. */
int cqb_queue_get_direct(CqbQueue *self, JNIEnv *jenv_, jobject buffer, int64_t offset,
                         int64_t cap, int64_t timeout_ns) {
    char *base = buffer ? (char *)(*jenv_)->GetDirectBufferAddress(jenv_, buffer) : NULL;
    jlong bcap = buffer ? (*jenv_)->GetDirectBufferCapacity(jenv_, buffer) : -1;
    if (!base || offset < 0 || cap < 0 || offset + cap > bcap) return CQ_EINVAL;
    return cqb_queue_get(self, base + offset, (size_t)cap, timeout_ns);
}
%}
#endif

/* ---- pool jobs: Go ------------------------------------------------------------------------ */
#if defined(SWIGGO)
%{
/*
 * A job is a cgo.Handle (uintptr) to a Go func held by package cqueue; the
 * exported Go functions below recover any panic before returning here. Go
 * binds its runtime to a C-created thread at the first callback and keeps it
 * until the thread exits, so no start hook is needed.
 */
extern void cqbGoRunJob(uintptr_t handle);
extern void cqbGoJobDone(uintptr_t handle, int status);
extern void cqbGoMessage(uintptr_t handle, void *data, size_t len);

static void cqb_go_run(void *arg) { cqbGoRunJob((uintptr_t)arg); }
static void cqb_go_cleanup(void *arg, int status) { cqbGoJobDone((uintptr_t)arg, status); }
static void cqb_go_message(void *ctx, const void *data, size_t len) {
    cqbGoMessage((uintptr_t)ctx, (void *)data, len);
}
%}

%inline %{
int cqb_pool_create(CqbPool *self, uint32_t workers, uint32_t queue_capacity) {
    if (!self || self->raw) return CQ_EINVAL;
    cq_pool_options o;
    cq_pool_options_init(&o);
    o.workers = workers;
    if (queue_capacity) o.queue_capacity = queue_capacity;
    return pool_create(&o, &self->raw);
}

/** Submit the Go job behind handle (timeout_ns 0: never wait). */
int cqb_pool_submit(CqbPool *self, uintptr_t handle, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    cq_job j = CQ_JOB_INIT;
    j.fn = cqb_go_run;
    j.cleanup = cqb_go_cleanup;
    j.arg = (void *)handle;
    return timeout_ns == 0 ? pool_submit_ex(self->raw, &j)
                           : pool_submit_wait(self->raw, &j, timeout_ns);
}

/** Workers also drain q, calling the Go handler behind handle per message. */
int cqb_pool_attach_queue(CqbPool *self, CqbQueue *q, uintptr_t handle) {
    if (!self || !self->raw || !q || !q->raw) return CQ_ECLOSED;
    return pool_attach_queue(self->raw, q->raw, cqb_go_message, (void *)handle);
}

/** Mark the job running on this worker as failed (a Go job that panicked). */
int cqb_pool_job_fail(void) { return pool_job_fail(); }
%}
#endif

/* ---- broker -------------------------------------------------------------------------------- */
/* Every language: a subscription keeps the records its last poll delivered (cqb_sub_poll_batch;
 * a poll of one record is a batch of one) until the next poll, and the language copies them
 * into its own objects with one call (cqb_sub_batch; Go: raw.SubBatch), the same copier its
 * push handlers get their batches through. Offsets and timestamps are int64 (offsets never
 * reach 2^63). Empty strings stand for NULL (Go has no nil string). */
%constant int SUB_DURABLE = CQ_SUB_DURABLE;
%constant int SUB_EARLIEST = CQ_SUB_EARLIEST;
%constant int FSYNC_NONE = CQ_FSYNC_NONE;
%constant int FSYNC_INTERVAL = CQ_FSYNC_INTERVAL;
%constant int FSYNC_GROUP = CQ_FSYNC_GROUP;
%constant int FSYNC_ALWAYS = CQ_FSYNC_ALWAYS;
%constant int OVERFLOW_BLOCK = CQ_OVERFLOW_BLOCK;
%constant int OVERFLOW_FAIL = CQ_OVERFLOW_FAIL;
%constant int OVERFLOW_DROP = CQ_OVERFLOW_DROP;
%constant int START_DEFAULT = CQ_START_DEFAULT;
%constant int START_EARLIEST = CQ_START_EARLIEST;
%constant int START_LATEST = CQ_START_LATEST;
%constant int START_OFFSET = CQ_START_OFFSET;
%constant int START_TIME = CQ_START_TIME;
%constant int BROKER_MAX_MESSAGE_SIZE = CQ_BROKER_MAX_MESSAGE_SIZE;
%constant int POLL_BATCH_MAX = CQB_POLL_BATCH_MAX;

%ignore CqbSubscription::batch;
%ignore CqbSubscription::batch_len;
%ignore CqbSubscription::batch_cap;
%ignore CqbPush::handler;
%inline %{
/** An open broker directory: the target language allocates one, cqb_broker_open fills it. */
typedef struct CqbBroker {
    cq_broker *raw;
} CqbBroker;

/** A subscription and the batch_len records its last poll delivered (valid until the next
 *  poll). */
typedef struct CqbSubscription {
    cq_subscription *raw;
    cq_message *batch; /* batch_cap allocated, freed by cqb_sub_close */
    uint32_t batch_len;
    uint32_t batch_cap;
} CqbSubscription;

/** A push subscription: the library's dispatcher hands its records to the language's handler
 *  on a pool's workers, one call per batch of up to 64 (cqb_push_tramp). */
typedef struct CqbPush {
    cq_subscription *raw;
    void *handler; /* the language's: Python callable, Java global ref, Go cgo.Handle */
} CqbPush;

/** What cqb_broker_publish_batch appended: count records from first_offset on. */
typedef struct CqbBatchPublish {
    int64_t first_offset;
    int64_t count;
} CqbBatchPublish;

typedef struct CqbBrokerStats {
    int64_t topics;
    int64_t published;
    int64_t published_bytes;
    int64_t delivered;
    int64_t fsyncs;
    int64_t holes_skipped;
    int64_t segments_deleted;
    int64_t publish_failures;
    int64_t sync_failed;
} CqbBrokerStats;

typedef struct CqbSubscriptionStats {
    int64_t durable;
    int64_t delivered;
    int64_t missed;
    int64_t next_offset;
    int64_t acked_offset;
    int64_t end_offset;
    int64_t durable_offset;
    int64_t lag_records;
    int64_t lag_bytes;
} CqbSubscriptionStats;
%}

%{
/* Most records one cqb_sub_poll_batch asks for (broker_poll_batch returns no more either). */
#define CQB_POLL_BATCH_MAX 4096

static void cqb_sub_options(cq_subscribe_options *o, const char *pattern,
                            const char *subscriber_id, uint32_t flags, uint32_t start,
                            int64_t start_value) {
    cq_subscribe_options d = CQ_SUBSCRIBE_OPTIONS_INIT;
    d.pattern = pattern;
    if (subscriber_id && *subscriber_id) {
        d.subscriber_id = subscriber_id;
        flags |= CQ_SUB_DURABLE;
    }
    d.flags = flags;
    d.start = start;
    d.start_value = start_value;
    *o = d;
}

static size_t cqb_le32(const unsigned char *p) {
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

/* Records as the languages hand them to cqb_broker_publish_batch: each a 4-byte
 * little-endian length, then that many bytes. Sets *out (malloc'd, pointing into data) and
 * returns the count, or CQ_EINVAL (no record, a truncated one), CQ_ENOMEM. */
static int cqb_unframe(const char *data, size_t len, cq_iov **out) {
    const unsigned char *p = (const unsigned char *)data;
    size_t count = 0, pos = 0;
    while (pos < len) {
        if (len - pos < 4) return CQ_EINVAL;
        size_t n = cqb_le32(p + pos);
        pos += 4;
        if (n > len - pos) return CQ_EINVAL;
        pos += n;
        count++;
    }
    if (count == 0 || count > INT32_MAX) return CQ_EINVAL;
    cq_iov *v = (cq_iov *)malloc(count * sizeof *v);
    if (!v) return CQ_ENOMEM;
    pos = 0;
    for (size_t i = 0; i < count; i++) {
        v[i].len = cqb_le32(p + pos);
        v[i].data = data + pos + 4;
        pos += 4 + v[i].len;
    }
    *out = v;
    return (int)count;
}

/* Set while this thread runs a push handler: closing a broker, a pool or a push
 * subscription from there could wait for that very handler (cqb_push_in_handler). */
static __thread int cqb_push_active;

/* The language's side of cqb_push_tramp (one per language, below): hands msgs to the handler
 * and returns how many leading records it handled, or -1 when the handler raised or panicked
 * (caught on the language's side: nothing unwinds into the library's frames). */
static int64_t cqb_push_deliver(CqbPush *p, const cq_message *msgs, size_t count);

/* The cq_push_batch_fn of every push subscription: one crossing into the language per batch. */
static size_t cqb_push_tramp(void *ctx, const cq_message *msgs, size_t count) {
    cqb_push_active = 1;
    int64_t handled = cqb_push_deliver((CqbPush *)ctx, msgs, count);
    cqb_push_active = 0;
    if (handled < 0) {
        /* Nothing of the batch is acknowledged: msgs[0] fails (its topic is acknowledged no
         * further in this subscription's life), the others are delivered again; the pool
         * counts a failed job. */
        pool_job_fail();
        return 0;
    }
    return (size_t)handled;
}

/* broker_subscribe_push_batch on pool with the language's handler: the common part of each
 * language's cqb_broker_subscribe_push. p must stay where it is until cqb_push_close. */
static int cqb_push_start(CqbBroker *b, CqbPush *p, CqbPool *pool, const char *pattern,
                          const char *subscriber_id, uint32_t flags, uint32_t start,
                          int64_t start_value, void *handler) {
    if (!b || !b->raw || !pool || !pool->raw) return CQ_ECLOSED;
    if (!p || p->raw || !handler) return CQ_EINVAL;
    cq_subscribe_options o;
    cqb_sub_options(&o, pattern, subscriber_id, flags, start, start_value);
    p->handler = handler;
    int rc = broker_subscribe_push_batch(b->raw, &o, pool->raw, cqb_push_tramp, p, &p->raw);
    if (rc < 0) p->handler = NULL;
    return rc;
}
%}

%inline %{
/** broker_open; 0 for segment_size / fsync_interval_ms / mode means the default. */
int cqb_broker_open(CqbBroker *self, const char *dir, uint32_t fsync_policy,
                    uint32_t fsync_interval_ms, uint32_t overflow_policy, int64_t segment_size,
                    uint32_t mode) {
    if (!self || self->raw) return CQ_EINVAL;
    cq_broker_options o;
    cq_broker_options_init(&o);
    o.fsync_policy = fsync_policy;
    if (fsync_interval_ms) o.fsync_interval_ms = fsync_interval_ms;
    o.overflow_policy = overflow_policy;
    if (segment_size > 0) o.segment_size = (uint64_t)segment_size;
    if (mode) o.mode = mode;
    return broker_open(dir, &o, &self->raw);
}

/** Close (idempotent). Every subscription must have been closed first. */
int cqb_broker_close(CqbBroker *self) {
    if (!self || !self->raw) return CQ_OK;
    cq_broker *b = self->raw;
    self->raw = NULL;
    return broker_close(b);
}

/** Publish: the record's offset (>= 0) or a negative code. */
int64_t cqb_broker_publish(CqbBroker *self, const char *topic, const char *data, size_t len) {
    if (!self || !self->raw) return CQ_ECLOSED;
    uint64_t off = 0;
    int rc = broker_publish(self->raw, topic, data, len, &off);
    return rc < 0 ? rc : (int64_t)off;
}

/** broker_publish_batch of the records framed in data (each a 4-byte little-endian length,
 *  then its bytes): CQ_OK and *out (out->count is below the number of records when an error
 *  stopped the batch after some), or a negative code when none was appended. */
int cqb_broker_publish_batch(CqbBroker *self, const char *topic, const char *data, size_t len,
                             CqbBatchPublish *out) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!out) return CQ_EINVAL;
    cq_iov *v = NULL;
    int count = cqb_unframe(data, len, &v);
    if (count < 0) return count;
    uint64_t first = 0;
    int rc = broker_publish_batch(self->raw, topic, v, (size_t)count, &first);
    free(v);
    if (rc < 0) return rc;
    out->first_offset = (int64_t)first;
    out->count = rc;
    return CQ_OK;
}

/** Text of the directory (what 0: topics, 1: metrics) into buf: returns the size it needs
 *  including the NUL (copied only when that is <= cap), or a negative code. */
int64_t cqb_broker_text(CqbBroker *self, int what, char *buf, size_t cap) {
    if (!self || !self->raw) return CQ_ECLOSED;
    size_t needed = 0;
    int rc = what == 0 ? broker_topics(self->raw, buf, cap, &needed)
                       : broker_metrics(self->raw, buf, cap, &needed);
    if (rc < 0 && rc != CQ_EMSGSIZE) return rc;
    return (int64_t)needed;
}

int cqb_broker_stats(CqbBroker *self, CqbBrokerStats *out) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!out) return CQ_EINVAL;
    cq_broker_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    int rc = broker_stats(self->raw, &s);
    if (rc < 0) return rc;
    out->topics = s.topics;
    out->published = (int64_t)s.published;
    out->published_bytes = (int64_t)s.published_bytes;
    out->delivered = (int64_t)s.delivered;
    out->fsyncs = (int64_t)s.fsyncs;
    out->holes_skipped = (int64_t)s.holes_skipped;
    out->segments_deleted = (int64_t)s.segments_deleted;
    out->publish_failures = (int64_t)s.publish_failures;
    out->sync_failed = s.sync_failed;
    return CQ_OK;
}

/** broker_subscribe_ex; subscriber_id "" = ephemeral, otherwise durable. start is CQ_START_*
 *  with start_value for CQ_START_OFFSET / CQ_START_TIME. */
int cqb_broker_subscribe(CqbBroker *self, CqbSubscription *sub, const char *pattern,
                         const char *subscriber_id, uint32_t flags, uint32_t start,
                         int64_t start_value) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!sub || sub->raw) return CQ_EINVAL;
    cq_subscribe_options o;
    cqb_sub_options(&o, pattern, subscriber_id, flags, start, start_value);
    sub->batch_len = 0;
    return broker_subscribe_ex(self->raw, &o, &sub->raw);
}

/** Unsubscribe (idempotent), persisting pending acks. */
int cqb_sub_close(CqbSubscription *self) {
    if (!self || !self->raw) return CQ_OK;
    cq_subscription *s = self->raw;
    self->raw = NULL;
    free(self->batch);
    self->batch = NULL;
    self->batch_len = self->batch_cap = 0;
    return broker_unsubscribe(s);
}

/** Poll up to max (1 .. POLL_BATCH_MAX) records, waiting up to timeout_ns for the first (0:
 *  don't wait, negative: forever): their count (> 0), kept for the language's batch copier
 *  until the next poll, or a negative code (CQ_ECANCELED: ended by cqb_sub_interrupt). */
int cqb_sub_poll_batch(CqbSubscription *self, uint32_t max, int64_t timeout_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (max == 0 || max > CQB_POLL_BATCH_MAX) return CQ_EINVAL;
    if (max > self->batch_cap) {
        cq_message *m = (cq_message *)realloc(self->batch, max * sizeof *m);
        if (!m) return CQ_ENOMEM;
        self->batch = m;
        self->batch_cap = max;
    }
    self->batch_len = 0;
    int rc = broker_poll_batch(self->raw, self->batch, max, timeout_ns);
    if (rc < 0) return rc;
    self->batch_len = (uint32_t)rc;
    return rc;
}

/** broker_interrupt: a cqb_sub_poll_batch waiting on the subscription returns CQ_ECANCELED. The
 *  one facade of a subscription that may be called while another thread uses it (the C API
 *  allows broker_interrupt then); the subscription must stay open until that use returns. */
int cqb_sub_interrupt(CqbSubscription *self) {
    if (!self || !self->raw) return CQ_ECLOSED;
    return broker_interrupt(self->raw);
}

int cqb_sub_ack(CqbSubscription *self, const char *topic, int64_t offset) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (offset < 0) return CQ_EINVAL;
    return broker_ack(self->raw, topic, (uint64_t)offset);
}

/** Seek topic ("" = every topic) to offset. */
int cqb_sub_seek(CqbSubscription *self, const char *topic, int64_t offset) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (offset < 0) return CQ_EINVAL;
    return broker_seek(self->raw, topic && *topic ? topic : NULL, (uint64_t)offset);
}

int cqb_sub_seek_time(CqbSubscription *self, int64_t timestamp_ns) {
    if (!self || !self->raw) return CQ_ECLOSED;
    return broker_seek_time(self->raw, timestamp_ns);
}

int cqb_sub_stats(CqbSubscription *self, const char *topic, CqbSubscriptionStats *out) {
    if (!self || !self->raw) return CQ_ECLOSED;
    if (!out) return CQ_EINVAL;
    cq_subscription_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    int rc = broker_subscription_stats(self->raw, topic, &s);
    if (rc < 0) return rc;
    out->durable = s.durable;
    out->delivered = (int64_t)s.delivered;
    out->missed = (int64_t)s.missed;
    out->next_offset = (int64_t)s.next_offset;
    out->acked_offset = (int64_t)s.acked_offset;
    out->end_offset = (int64_t)s.end_offset;
    out->durable_offset = (int64_t)s.durable_offset;
    out->lag_records = (int64_t)s.lag_records;
    out->lag_bytes = (int64_t)s.lag_bytes;
    return CQ_OK;
}

/** 1 when the calling thread runs a push handler: the languages refuse to close a broker, a
 *  pool or a push subscription from there (it could wait for that very handler). */
int cqb_push_in_handler(void) { return cqb_push_active; }

/** Unsubscribe (idempotent): returns once the batch in flight is done; nothing is delivered
 *  after. CQ_EPERM (nothing done) from a push handler. Then the language releases handler. */
int cqb_push_close(CqbPush *self) {
    if (!self || !self->raw) return CQ_OK;
    if (cqb_push_active) return CQ_EPERM;
    cq_subscription *s = self->raw;
    self->raw = NULL;
    return broker_unsubscribe(s);
}
%}

/* ---- broker: each language's batch copier and push handler ------------------------------- */
#if defined(SWIGPYTHON)
%{
/* cqueue.Message, set once by the Python layer at import (cqb_py_set_message_class). */
static PyObject *cqb_py_message_class;

/* A list of cqueue.Message copied from msgs (under the GIL), or NULL with an exception set.
 * Records of one topic share its str (topic pointers stay put while the subscription lives). */
static PyObject *cqb_py_messages(const cq_message *msgs, size_t count) {
    if (!cqb_py_message_class) {
        PyErr_SetString(PyExc_RuntimeError, "cqueue: the Message class was not registered");
        return NULL;
    }
    PyObject *list = PyList_New((Py_ssize_t)count);
    PyObject *topic = NULL;
    const char *last = NULL;
    for (size_t i = 0; list && i < count; i++) {
        const cq_message *m = &msgs[i];
        if (m->topic != last) {
            Py_XDECREF(topic);
            topic = PyUnicode_FromString(m->topic);
            last = m->topic;
        }
        PyObject *args[4] = {topic, PyLong_FromUnsignedLongLong(m->offset),
                             PyLong_FromLongLong(m->timestamp_ns),
                             PyBytes_FromStringAndSize((const char *)m->data, (Py_ssize_t)m->len)};
        PyObject *msg = args[0] && args[1] && args[2] && args[3]
                            ? PyObject_Vectorcall(cqb_py_message_class, args, 4, NULL)
                            : NULL;
        Py_XDECREF(args[1]);
        Py_XDECREF(args[2]);
        Py_XDECREF(args[3]);
        if (!msg) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, msg);
    }
    Py_XDECREF(topic);
    return list;
}

/* The Python layer's deliver(list) calls the user's handler, catches everything and returns
 * the handled count or -1; what escapes it anyway is reported here, as a failed batch. */
static int64_t cqb_push_deliver(CqbPush *p, const cq_message *msgs, size_t count) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *list = cqb_py_messages(msgs, count);
    PyObject *r = list ? PyObject_CallOneArg((PyObject *)p->handler, list) : NULL;
    int64_t handled = r ? PyLong_AsLongLong(r) : -1;
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable((PyObject *)p->handler);
        handled = -1;
    }
    Py_XDECREF(r);
    Py_XDECREF(list);
    PyGILState_Release(g);
    return handled;
}
%}

%nothread cqb_py_set_message_class;
%nothread cqb_sub_batch;
%inline %{
void cqb_py_set_message_class(PyObject *cls) {
    Py_INCREF(cls);
    Py_XSETREF(cqb_py_message_class, cls);
}

/** The records of the last cqb_sub_poll_batch as a list of cqueue.Message. */
PyObject *cqb_sub_batch(const CqbSubscription *self) {
    return cqb_py_messages(self ? self->batch : NULL, self ? self->batch_len : 0);
}

/** Push the records of pattern to deliver(list of cqueue.Message) on pool's workers, one call
 *  per batch; deliver returns the handled count or -1. The caller keeps deliver alive until
 *  cqb_push_close has returned. */
int cqb_broker_subscribe_push(CqbBroker *self, CqbPush *sub, CqbPool *pool, const char *pattern,
                              const char *subscriber_id, uint32_t flags, uint32_t start,
                              int64_t start_value, PyObject *deliver) {
    return cqb_push_start(self, sub, pool, pattern, subscriber_id, flags, start, start_value,
                          deliver);
}
%}

#elif defined(SWIGJAVA)
%{
#include <pthread.h>

static jclass cqb_message_class;      /* global ref to org.cqueue.Message */
static jmethodID cqb_message_ctor;    /* Message(String, long, long, byte[]) */
static jmethodID cqb_push_deliver_id; /* int PushSubscription.deliver(Message[]) */
static pthread_mutex_t cqb_broker_init_mu = PTHREAD_MUTEX_INITIALIZER;

/* Looks up what the broker's JNI code calls, once, from a facade that Java called (so
 * FindClass uses its class loader; the pool's workers could not). Returns 0, or -1 with a
 * Java exception pending. */
static int cqb_java_broker_init(JNIEnv *env) {
    if (__atomic_load_n(&cqb_push_deliver_id, __ATOMIC_ACQUIRE)) return 0;
    pthread_mutex_lock(&cqb_broker_init_mu);
    int rc = 0;
    if (!cqb_push_deliver_id) {
        jclass m = (*env)->FindClass(env, "org/cqueue/Message");
        jclass p = m ? (*env)->FindClass(env, "org/cqueue/PushSubscription") : NULL;
        jmethodID ctor = p ? (*env)->GetMethodID(env, m, "<init>", "(Ljava/lang/String;JJ[B)V")
                           : NULL;
        jmethodID deliver =
            ctor ? (*env)->GetMethodID(env, p, "deliver", "([Lorg/cqueue/Message;)I") : NULL;
        jclass global = deliver ? (jclass)(*env)->NewGlobalRef(env, m) : NULL;
        if (global) {
            cqb_message_class = global;
            cqb_message_ctor = ctor;
            __atomic_store_n(&cqb_push_deliver_id, deliver, __ATOMIC_RELEASE);
        } else {
            rc = -1;
        }
        if (m) (*env)->DeleteLocalRef(env, m);
        if (p) (*env)->DeleteLocalRef(env, p);
    }
    pthread_mutex_unlock(&cqb_broker_init_mu);
    return rc;
}

/* A Message[] copied from msgs, or NULL with a Java exception pending. Holds at most four
 * local refs at a time (the pool's workers never return to Java to free them). Records of
 * one topic share its String (topic pointers stay put while the subscription lives). */
static jobjectArray cqb_java_messages(JNIEnv *env, const cq_message *msgs, size_t count) {
    jobjectArray arr = (*env)->NewObjectArray(env, (jsize)count, cqb_message_class, NULL);
    jstring topic = NULL;
    const char *last = NULL;
    for (size_t i = 0; arr && i < count; i++) {
        const cq_message *m = &msgs[i];
        if (m->topic != last) {
            if (topic) (*env)->DeleteLocalRef(env, topic);
            topic = (*env)->NewStringUTF(env, m->topic);
            last = m->topic;
        }
        jbyteArray data = topic ? (*env)->NewByteArray(env, (jsize)m->len) : NULL;
        jobject msg = NULL;
        if (data) {
            (*env)->SetByteArrayRegion(env, data, 0, (jsize)m->len, (const jbyte *)m->data);
            msg = (*env)->NewObject(env, cqb_message_class, cqb_message_ctor, topic,
                                    (jlong)m->offset, (jlong)m->timestamp_ns, data);
            (*env)->DeleteLocalRef(env, data);
        }
        if (!msg) {
            (*env)->DeleteLocalRef(env, arr);
            arr = NULL;
            break;
        }
        (*env)->SetObjectArrayElement(env, arr, (jsize)i, msg);
        (*env)->DeleteLocalRef(env, msg);
    }
    if (topic) (*env)->DeleteLocalRef(env, topic);
    return arr;
}

/* PushSubscription.deliver(Message[]) calls the user's handler, catches every Throwable and
 * returns the handled count or -1; an exception pending anyway is cleared here. */
static int64_t cqb_push_deliver(CqbPush *p, const cq_message *msgs, size_t count) {
    JNIEnv *env = cqb_java_env();
    if (!env) return -1;
    if ((*env)->PushLocalFrame(env, 8) != 0) {
        (*env)->ExceptionClear(env);
        return -1;
    }
    int64_t handled = -1;
    jobjectArray arr = cqb_java_messages(env, msgs, count);
    if (arr) handled = (*env)->CallIntMethod(env, (jobject)p->handler, cqb_push_deliver_id, arr);
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionClear(env);
        handled = -1;
    }
    (*env)->PopLocalFrame(env, NULL);
    return handled;
}
%}

%inline %{
/** The records of the last cqb_sub_poll_batch as an org.cqueue.Message[]. */
jobjectArray cqb_sub_batch(const CqbSubscription *self, JNIEnv *jenv_) {
    if (cqb_java_broker_init(jenv_) < 0) return NULL;
    return cqb_java_messages(jenv_, self ? self->batch : NULL, self ? self->batch_len : 0);
}

/** Push the records of pattern to target.deliver(Message[]) (an org.cqueue.PushSubscription)
 *  on pool's workers, one call per batch. After cqb_push_close: cqb_push_release_java. */
int cqb_broker_subscribe_push(CqbBroker *self, JNIEnv *jenv_, CqbPush *sub, CqbPool *pool,
                              const char *pattern, const char *subscriber_id, uint32_t flags,
                              uint32_t start, int64_t start_value, jobject target) {
    if (!target) return CQ_EINVAL;
    if (cqb_java_broker_init(jenv_) < 0) {
        (*jenv_)->ExceptionClear(jenv_);
        return CQ_EINVAL;
    }
    jobject ref = (*jenv_)->NewGlobalRef(jenv_, target);
    if (!ref) return CQ_ENOMEM;
    int rc = cqb_push_start(self, sub, pool, pattern, subscriber_id, flags, start, start_value,
                            ref);
    if (rc < 0) (*jenv_)->DeleteGlobalRef(jenv_, ref);
    return rc;
}

/** After cqb_push_close: drop the global ref to the target. */
void cqb_push_release_java(CqbPush *self, JNIEnv *jenv_) {
    if (self && self->handler && !self->raw) {
        (*jenv_)->DeleteGlobalRef(jenv_, (jobject)self->handler);
        self->handler = NULL;
    }
}
%}

#elif defined(SWIGGO)
%{
/* cqbGoPushBatch (internal/raw/trampoline.go) copies the records into Go memory and calls
 * the handler behind the cgo.Handle; package cqueue recovers any panic before returning. */
extern int64_t cqbGoPushBatch(uintptr_t handle, cq_message *msgs, size_t count);

static int64_t cqb_push_deliver(CqbPush *p, const cq_message *msgs, size_t count) {
    return cqbGoPushBatch((uintptr_t)p->handler, (cq_message *)msgs, count);
}

/* The records of the last cqb_sub_poll_batch, for raw.SubBatch: SWIG's Go code would have to
 * pass the pointer through a uintptr, which `go vet` rejects. */
const cq_message *cqb_go_sub_batch(uintptr_t sub) {
    return ((const CqbSubscription *)sub)->batch;
}
%}

%inline %{
/** Push the records of pattern to the Go handler behind handle on pool's workers, one call
 *  per batch. package cqueue keeps handle until cqb_push_close has returned. */
int cqb_broker_subscribe_push(CqbBroker *self, CqbPush *sub, CqbPool *pool, const char *pattern,
                              const char *subscriber_id, uint32_t flags, uint32_t start,
                              int64_t start_value, uintptr_t handle) {
    return cqb_push_start(self, sub, pool, pattern, subscriber_id, flags, start, start_value,
                          (void *)handle);
}
%}
#endif
