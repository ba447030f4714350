// libcqueue for C++20: a header-only RAII wrapper over the C API (queue and pool).
//
// Only the public C API is called (cqueue/cqueue.h); nothing here is part of the ABI.
//
//   cqueue::Queue q("orders", cqueue::QueueOptions{}.create());
//   q.enqueue(std::as_bytes(std::span{"hi", 2}));
//   std::vector<std::byte> msg = q.dequeue_wait(std::chrono::seconds(1));
//
// Errors: the throwing calls throw cqueue::Error, which carries the CQ_E* code
// (code()) and the library's per-thread detail (what()). Every try_* call
// returns a Result<T> instead (expected-style: ok(), value(), error()) and throws
// nothing but std::bad_alloc (the detail text is copied into the result); "no
// room" and "nothing there" are ordinary results there, not exceptions.
//
// Pool jobs are callables. A job that throws never unwinds through the
// library's frames: the trampoline catches the exception, marks the job
// failed (pool_job_fail, so it counts in Pool::stats().failed) and hands the
// exception to the job's completion callback when one was given.
#ifndef CQUEUE_CQUEUE_HPP
#define CQUEUE_CQUEUE_HPP

#include <cqueue/cqueue.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace cqueue {

// ---- errors -------------------------------------------------------------------

/** An error code of the library (a negative CQ_E* value) plus its detail text. */
class Error : public std::runtime_error {
  public:
    explicit Error(int code, const std::string &detail = {})
        : std::runtime_error(format(code, detail)), code_(code) {}
    int code() const noexcept { return code_; }

    /** The error of the calling thread's last failed call, with cq_last_error() as detail. */
    static Error last(int code) { return Error(code, ::cq_last_error()); }

  private:
    static std::string format(int code, const std::string &detail) {
        std::string s = ::cq_strerror(code);
        if (!detail.empty() && detail != s) s += ": " + detail;
        return s;
    }
    int code_;
};

/** An error held by value in a Result: the code and the detail captured at failure. */
struct ErrorInfo {
    int code = CQ_OK;
    std::string detail;

    [[noreturn]] void raise() const { throw Error(code, detail); }
    std::string message() const {
        std::string s = ::cq_strerror(code);
        if (!detail.empty() && detail != s) s += ": " + detail;
        return s;
    }
};

/** Expected-style result of a try_* call: a T, or an ErrorInfo. Throws nothing itself. */
template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(ErrorInfo err) : v_(std::in_place_index<1>, std::move(err)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    /** CQ_OK when ok(), the CQ_E* code otherwise. */
    int code() const noexcept { return ok() ? CQ_OK : std::get<1>(v_).code; }
    /** The value; throws Error when the result holds an error. */
    T &value() & {
        if (!ok()) std::get<1>(v_).raise();
        return std::get<0>(v_);
    }
    T &&value() && {
        if (!ok()) std::get<1>(v_).raise();
        return std::get<0>(std::move(v_));
    }
    T &operator*() & { return value(); }
    T *operator->() { return &value(); }
    /** The error; only meaningful when !ok(). */
    const ErrorInfo &error() const { return std::get<1>(v_); }

  private:
    std::variant<T, ErrorInfo> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(ErrorInfo err) : err_(std::move(err)) {}

    bool ok() const noexcept { return err_.code == CQ_OK; }
    explicit operator bool() const noexcept { return ok(); }
    int code() const noexcept { return err_.code; }
    void value() const {
        if (!ok()) err_.raise();
    }
    const ErrorInfo &error() const { return err_; }

  private:
    ErrorInfo err_;
};

namespace detail {

inline ErrorInfo last_error(int code) {
    return ErrorInfo{code, ::cq_last_error()};
}

inline void check(int rc) {
    if (rc < 0) throw Error::last(rc);
}

/** C timeout from a std::chrono duration: negative = forever, as in the C API. */
template <class Rep, class Period>
int64_t to_ns(std::chrono::duration<Rep, Period> d) {
    if (d < std::chrono::duration<Rep, Period>::zero()) return CQ_WAIT_FOREVER;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

}  // namespace detail

/** Timeout meaning "wait forever" for the *_wait calls. */
inline constexpr std::chrono::nanoseconds forever{-1};

/** Version of the loaded library ("MAJOR.MINOR.PATCH"). */
inline std::string_view version() noexcept {
    return ::cq_version();
}

// ---- queue ----------------------------------------------------------------------

/** Options for opening a queue; the builder methods return *this. */
struct QueueOptions {
    cq_queue_options raw = [] {
        cq_queue_options o;
        ::cq_queue_options_init(&o);
        return o;
    }();

    QueueOptions &create(bool exclusive = false) {
        raw.flags |= CQ_CREATE;
        if (exclusive) raw.flags |= CQ_EXCL;
        return *this;
    }
    QueueOptions &capacity(uint32_t n) {
        raw.capacity = n;
        return *this;
    }
    QueueOptions &max_message_size(uint32_t n) {
        raw.max_message_size = n;
        return *this;
    }
    QueueOptions &mode(uint32_t m) {
        raw.mode = m;
        return *this;
    }
};

using QueueStats = cq_queue_stats;

/**
 * An open queue (move-only; closes on destruction). Safe to use from many
 * threads of the process that opened it at once, as the C handle is.
 */
class Queue {
  public:
    /** Open (or, with options.create(), create) the queue `name`; throws Error. */
    explicit Queue(const std::string &name, const QueueOptions &opts = {}) {
        detail::check(::cq_open(name.c_str(), &opts.raw, &q_));
        init_max();
    }

    /** Non-throwing open. */
    static Result<Queue> try_open(const std::string &name, const QueueOptions &opts = {}) {
        cq_queue *q = nullptr;
        int rc = ::cq_open(name.c_str(), &opts.raw, &q);
        if (rc < 0) return detail::last_error(rc);
        return Queue(q);
    }

    /** Remove the name (open handles keep working); throws Error. */
    static void unlink(const std::string &name) { detail::check(::cq_unlink(name.c_str())); }
    static Result<void> try_unlink(const std::string &name) {
        int rc = ::cq_unlink(name.c_str());
        if (rc < 0) return detail::last_error(rc);
        return {};
    }

    Queue(Queue &&o) noexcept : q_(std::exchange(o.q_, nullptr)), max_(o.max_) {}
    Queue &operator=(Queue &&o) noexcept {
        if (this != &o) {
            reset();
            q_ = std::exchange(o.q_, nullptr);
            max_ = o.max_;
        }
        return *this;
    }
    Queue(const Queue &) = delete;
    Queue &operator=(const Queue &) = delete;
    ~Queue() { reset(); }

    /** Close now (the destructor does it otherwise). */
    void close() { detail::check(::cq_close(std::exchange(q_, nullptr))); }

    /** The C handle, for calls this wrapper does not cover. Still owned by *this. */
    cq_queue *native_handle() const noexcept { return q_; }
    /** max_message_size the queue was created with. */
    uint32_t max_message_size() const noexcept { return max_; }

    // -- enqueue --
    /** Enqueue one message; throws Error (code CQ_EFULL when full). */
    void enqueue(std::span<const std::byte> msg) {
        detail::check(::cq_enqueue(q_, msg.data(), msg.size()));
    }
    void enqueue(std::string_view msg) { enqueue(std::as_bytes(std::span{msg})); }
    /** Enqueue, waiting while full; timeout negative (or `forever`) waits forever. */
    template <class Rep = int64_t, class Period = std::nano>
    void enqueue_wait(std::span<const std::byte> msg,
                      std::chrono::duration<Rep, Period> timeout = forever) {
        detail::check(::cq_enqueue_wait(q_, msg.data(), msg.size(), detail::to_ns(timeout)));
    }
    template <class Rep = int64_t, class Period = std::nano>
    void enqueue_wait(std::string_view msg, std::chrono::duration<Rep, Period> timeout = forever) {
        enqueue_wait(std::as_bytes(std::span{msg}), timeout);
    }
    /** Non-throwing enqueue: Result code CQ_EFULL when full. */
    Result<void> try_enqueue(std::span<const std::byte> msg) {
        int rc = ::cq_enqueue(q_, msg.data(), msg.size());
        if (rc < 0) return detail::last_error(rc);
        return {};
    }
    Result<void> try_enqueue(std::string_view msg) {
        return try_enqueue(std::as_bytes(std::span{msg}));
    }
    /** Enqueue a batch in order; returns how many were enqueued (a prefix). Throws Error. */
    size_t enqueue_batch(std::span<const std::span<const std::byte>> msgs) {
        std::vector<cq_iov> iov(msgs.size());
        for (size_t i = 0; i < msgs.size(); ++i) iov[i] = {msgs[i].data(), msgs[i].size()};
        int rc = ::cq_enqueue_batch(q_, iov.data(), iov.size());
        detail::check(rc);
        return static_cast<size_t>(rc);
    }

    // -- dequeue --
    /** Dequeue into buf; returns the message length. Throws Error (CQ_EEMPTY, CQ_EMSGSIZE). */
    size_t dequeue(std::span<std::byte> buf) {
        size_t len = 0;
        detail::check(::cq_dequeue(q_, buf.data(), buf.size(), &len));
        return len;
    }
    /** Dequeue one message into a new vector. Throws Error (CQ_EEMPTY when empty). */
    std::vector<std::byte> dequeue() {
        std::vector<std::byte> v(max_);
        v.resize(dequeue(v));
        return v;
    }
    /** Dequeue, waiting while empty (CQ_ETIMEDOUT past the timeout). */
    template <class Rep = int64_t, class Period = std::nano>
    std::vector<std::byte> dequeue_wait(std::chrono::duration<Rep, Period> timeout = forever) {
        std::vector<std::byte> v(max_);
        size_t len = 0;
        detail::check(::cq_dequeue_wait(q_, v.data(), v.size(), &len, detail::to_ns(timeout)));
        v.resize(len);
        return v;
    }
    template <class Rep = int64_t, class Period = std::nano>
    size_t dequeue_wait(std::span<std::byte> buf,
                        std::chrono::duration<Rep, Period> timeout = forever) {
        size_t len = 0;
        detail::check(::cq_dequeue_wait(q_, buf.data(), buf.size(), &len, detail::to_ns(timeout)));
        return len;
    }
    /** Non-throwing dequeue into buf: the length, or CQ_EEMPTY / CQ_EMSGSIZE. */
    Result<size_t> try_dequeue(std::span<std::byte> buf) {
        size_t len = 0;
        int rc = ::cq_dequeue(q_, buf.data(), buf.size(), &len);
        if (rc < 0) return detail::last_error(rc);
        return len;
    }
    /** Non-throwing dequeue into a new vector. */
    Result<std::vector<std::byte>> try_dequeue() {
        std::vector<std::byte> v(max_);
        size_t len = 0;
        int rc = ::cq_dequeue(q_, v.data(), v.size(), &len);
        if (rc < 0) return detail::last_error(rc);
        v.resize(len);
        return v;
    }

    // -- maintenance --
    QueueStats stats() const {
        cq_queue_stats s{};
        s.struct_size = sizeof s;
        detail::check(::cq_stats(q_, &s));
        return s;
    }
    /** Run recovery now; returns the nodes reclaimed. */
    uint64_t recover() {
        uint64_t n = 0;
        detail::check(::cq_recover(q_, &n));
        return n;
    }

  private:
    explicit Queue(cq_queue *q) noexcept : q_(q) {
        cq_queue_stats s{};
        s.struct_size = sizeof s;
        max_ = ::cq_stats(q_, &s) == CQ_OK ? s.max_message_size : CQ_DEFAULT_MAX_MESSAGE_SIZE;
    }
    void init_max() {
        cq_queue_stats s{};
        s.struct_size = sizeof s;
        int rc = ::cq_stats(q_, &s);
        if (rc < 0) {
            Error e = Error::last(rc);
            reset();
            throw e;
        }
        max_ = s.max_message_size;
    }
    void reset() noexcept {
        if (q_) ::cq_close(std::exchange(q_, nullptr));
    }

    cq_queue *q_ = nullptr;
    uint32_t max_ = 0;
};

// ---- pool -------------------------------------------------------------------------

/** A reference-counted cancel token (copyable: copies share the token). */
class CancelToken {
  public:
    CancelToken() {
        cq_cancel_token *t = nullptr;
        detail::check(::pool_cancel_token_create(&t));
        t_.reset(t, &::pool_cancel_token_destroy);
    }
    void cancel() { detail::check(::pool_cancel_token_cancel(t_.get())); }
    bool cancelled() const { return ::pool_cancel_token_is_cancelled(t_.get()) == 1; }
    cq_cancel_token *native_handle() const noexcept { return t_.get(); }

  private:
    std::shared_ptr<cq_cancel_token> t_;
};

enum class Priority : uint32_t {
    low = CQ_PRIORITY_LOW,
    normal = CQ_PRIORITY_NORMAL,
    high = CQ_PRIORITY_HIGH,
};

/** How a job ended, as given to its completion callback. */
struct JobOutcome {
    /** CQ_OK (ran), CQ_ECANCELED, CQ_ETIMEDOUT (deadline passed) or CQ_EIO (it failed). */
    int status = CQ_OK;
    /** The exception the job threw, if it threw. */
    std::exception_ptr exception;
};

/** Per-job settings for Pool::submit. */
struct JobOptions {
    Priority priority = Priority::normal;
    /** Absolute CLOCK_MONOTONIC (steady_clock) deadline; epoch (0) = none. */
    std::chrono::steady_clock::time_point deadline{};
    const CancelToken *cancel = nullptr;
    /** Called exactly once when the job ran, failed, was cancelled or expired. */
    std::function<void(const JobOutcome &)> on_done;
};

struct PoolOptions {
    cq_pool_options raw = [] {
        cq_pool_options o;
        ::cq_pool_options_init(&o);
        return o;
    }();

    PoolOptions &workers(uint32_t n) {
        raw.workers = n;
        return *this;
    }
    PoolOptions &queue_capacity(uint32_t n) {
        raw.queue_capacity = n;
        return *this;
    }
};

using PoolStats = cq_pool_stats;

/**
 * A worker pool (move-only). The destructor shuts down with no grace period
 * (queued jobs are cancelled, their completion callbacks see CQ_ECANCELED);
 * call shutdown() first to drain.
 */
class Pool {
  public:
    explicit Pool(const PoolOptions &opts = {}) { detail::check(::pool_create(&opts.raw, &p_)); }
    Pool(Pool &&o) noexcept : p_(std::exchange(o.p_, nullptr)), attached_(std::move(o.attached_)) {}
    Pool &operator=(Pool &&o) noexcept {
        if (this != &o) {
            ::pool_destroy(p_);
            p_ = std::exchange(o.p_, nullptr);
            attached_ = std::move(o.attached_);
        }
        return *this;
    }
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;
    ~Pool() { ::pool_destroy(p_); }

    cq_pool *native_handle() const noexcept { return p_; }

    /** Submit f() (never blocks). Throws Error: CQ_EFULL, CQ_ECLOSED. */
    template <class F>
    void submit(F &&f, JobOptions opts = {}) {
        detail::check(submit_impl(std::forward<F>(f), std::move(opts), 0, false));
    }
    /** Non-throwing submit (Result code CQ_EFULL, CQ_ECLOSED ...). */
    template <class F>
    Result<void> try_submit(F &&f, JobOptions opts = {}) {
        int rc = submit_impl(std::forward<F>(f), std::move(opts), 0, false);
        if (rc < 0) return detail::last_error(rc);
        return {};
    }
    /** Submit, waiting while the priority level is full; throws Error (CQ_ETIMEDOUT). */
    template <class F, class Rep = int64_t, class Period = std::nano>
    void submit_wait(F &&f, std::chrono::duration<Rep, Period> timeout = forever,
                     JobOptions opts = {}) {
        detail::check(
            submit_impl(std::forward<F>(f), std::move(opts), detail::to_ns(timeout), true));
    }

    /**
     * Let the workers also drain the shared-memory queue q, calling handler(message)
     * for each message between jobs (the span is valid only during the call). One
     * queue per pool; q must stay open until shutdown() has returned (or the Pool is
     * destroyed). A handler that throws loses that message: the exception is caught
     * in the trampoline and counted in handler_failures().
     */
    template <class F>
    void attach_queue(Queue &q, F &&handler) {
        static_assert(std::is_invocable_v<std::decay_t<F> &, std::span<const std::byte>>,
                      "handler(std::span<const std::byte>)");
        auto a = std::make_unique<Attached>();
        a->handler = std::forward<F>(handler);
        detail::check(::pool_attach_queue(p_, q.native_handle(), &on_message, a.get()));
        attached_ = std::move(a);
    }
    /** Messages whose handler threw (see attach_queue). */
    uint64_t handler_failures() const noexcept {
        return attached_ ? attached_->failures.load(std::memory_order_relaxed) : 0;
    }

    /** Stop accepting, drain, join. Returns false when the timeout cancelled queued jobs. */
    template <class Rep = int64_t, class Period = std::nano>
    bool shutdown(std::chrono::duration<Rep, Period> timeout = forever) {
        int rc = ::pool_shutdown(p_, detail::to_ns(timeout));
        if (rc == CQ_ETIMEDOUT) return false;
        detail::check(rc);
        return true;
    }

    PoolStats stats() const {
        cq_pool_stats s{};
        s.struct_size = sizeof s;
        detail::check(::pool_stats(p_, &s));
        return s;
    }

  private:
    struct JobBase {
        virtual ~JobBase() = default;
        virtual void run() = 0;
        std::function<void(const JobOutcome &)> on_done;
        std::exception_ptr exception;
    };
    template <class F>
    struct Job final : JobBase {
        explicit Job(F &&f) : fn(std::move(f)) {}
        void run() override { fn(); }
        F fn;
    };

    struct Attached {
        std::function<void(std::span<const std::byte>)> handler;
        std::atomic<uint64_t> failures{0};
    };

    // Trampolines: no exception ever leaves them into the library's frames.
    static void on_message(void *ctx, const void *data, size_t len) noexcept {
        auto *a = static_cast<Attached *>(ctx);
        try {
            a->handler(std::span<const std::byte>(static_cast<const std::byte *>(data), len));
        } catch (...) {
            a->failures.fetch_add(1, std::memory_order_relaxed);
        }
    }
    static void run_job(void *arg) noexcept {
        auto *job = static_cast<JobBase *>(arg);
        try {
            job->run();
        } catch (...) {
            job->exception = std::current_exception();
            ::pool_job_fail();
        }
    }
    static void finish_job(void *arg, int status) noexcept {
        std::unique_ptr<JobBase> job(static_cast<JobBase *>(arg));
        if (!job->on_done) return;
        try {
            job->on_done(JobOutcome{status, job->exception});
        } catch (...) {
            // A completion callback that throws has no one to report to; dropping the
            // exception is the only choice that keeps it out of the library's frames.
        }
    }

    template <class F>
    int submit_impl(F &&f, JobOptions opts, int64_t timeout_ns, bool wait) {
        using Fn = std::decay_t<F>;
        static_assert(std::is_invocable_v<Fn &>, "a pool job is callable with no arguments");
        auto job = std::make_unique<Job<Fn>>(Fn(std::forward<F>(f)));
        job->on_done = std::move(opts.on_done);
        cq_job j = CQ_JOB_INIT;
        j.priority = static_cast<uint32_t>(opts.priority);
        j.fn = &run_job;
        j.arg = static_cast<JobBase *>(job.get());
        j.cleanup = &finish_job;
        j.deadline_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(opts.deadline.time_since_epoch())
                .count();
        j.cancel = opts.cancel ? opts.cancel->native_handle() : nullptr;
        int rc = wait ? ::pool_submit_wait(p_, &j, timeout_ns) : ::pool_submit_ex(p_, &j);
        if (rc == CQ_OK) job.release();  // the pool owns it until finish_job runs
        return rc;
    }

    cq_pool *p_ = nullptr;
    // Declared after p_: destroyed after ~Pool's pool_destroy, when no worker calls it.
    std::unique_ptr<Attached> attached_;
};

}  // namespace cqueue

#endif  // CQUEUE_CQUEUE_HPP
