// libcqueue for C++20: a header-only RAII wrapper over the C API (queue, pool, broker).
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
//
// The broker: a Broker publishes (returning the record's offset) and makes
// Subscriptions; Subscription::poll returns a Message view (nullopt on
// timeout) whose topic and data stay valid until the next poll on that
// subscription (copy what must outlive it). A Subscription is used by one
// thread at a time, and every Subscription must be destroyed (or
// unsubscribed) before its Broker, as in C.
#ifndef CQUEUE_CQUEUE_HPP
#define CQUEUE_CQUEUE_HPP

#include <cqueue/cqueue.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
    /**
     * End the enqueue_wait / dequeue_wait calls on this handle in progress in other
     * threads: they throw Error(CQ_ECANCELED) (the try_ forms return it). Later waits
     * are not affected. Thread-safe.
     */
    void interrupt() { detail::check(::cq_interrupt(q_)); }

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

// ---- broker -----------------------------------------------------------------------

/** Options for opening a broker directory; the builder methods return *this. */
struct BrokerOptions {
    cq_broker_options raw = [] {
        cq_broker_options o;
        ::cq_broker_options_init(&o);
        return o;
    }();

    /** CQ_FSYNC_NONE, _INTERVAL, _GROUP or _ALWAYS. */
    BrokerOptions &fsync_policy(uint32_t p) {
        raw.fsync_policy = p;
        return *this;
    }
    BrokerOptions &fsync_interval(std::chrono::milliseconds ms) {
        raw.fsync_interval_ms = static_cast<uint32_t>(ms.count());
        return *this;
    }
    /** CQ_OVERFLOW_BLOCK, _FAIL or _DROP. */
    BrokerOptions &overflow_policy(uint32_t p) {
        raw.overflow_policy = p;
        return *this;
    }
    BrokerOptions &segment_size(uint64_t bytes) {
        raw.segment_size = bytes;
        return *this;
    }
    BrokerOptions &retention_bytes(uint64_t bytes) {
        raw.retention_bytes = bytes;
        return *this;
    }
    BrokerOptions &retention_age(std::chrono::nanoseconds age) {
        raw.retention_age_ns = age.count();
        return *this;
    }
    BrokerOptions &block_timeout(std::chrono::nanoseconds t) {
        raw.block_timeout_ns = t.count();
        return *this;
    }
    BrokerOptions &hole_timeout(std::chrono::nanoseconds t) {
        raw.hole_timeout_ns = t.count();
        return *this;
    }
    BrokerOptions &mode(uint32_t m) {
        raw.mode = m;
        return *this;
    }
};

/** Where and how a subscription starts; owns its strings. */
struct SubscribeOptions {
    std::string pattern;
    /** Non-empty: a durable subscription with this id (durable() adds CQ_SUB_DURABLE). */
    std::string subscriber_id;
    uint32_t flags = 0;                /**< CQ_SUB_* */
    uint32_t start = CQ_START_DEFAULT; /**< CQ_START_* */
    int64_t start_value = 0;           /**< CQ_START_OFFSET / CQ_START_TIME */

    explicit SubscribeOptions(std::string p) : pattern(std::move(p)) {}
    SubscribeOptions &durable(std::string id) {
        subscriber_id = std::move(id);
        flags |= CQ_SUB_DURABLE;
        return *this;
    }
    SubscribeOptions &earliest() {
        flags |= CQ_SUB_EARLIEST;
        return *this;
    }
    SubscribeOptions &start_at_offset(uint64_t offset) {
        start = CQ_START_OFFSET;
        start_value = static_cast<int64_t>(offset);
        return *this;
    }
    SubscribeOptions &start_at_time(int64_t realtime_ns) {
        start = CQ_START_TIME;
        start_value = realtime_ns;
        return *this;
    }
    SubscribeOptions &start_latest() {
        start = CQ_START_LATEST;
        return *this;
    }
    SubscribeOptions &start_earliest() {
        start = CQ_START_EARLIEST;
        return *this;
    }

    /** The C view; valid while *this is alive and unchanged. */
    cq_subscribe_options native() const noexcept {
        cq_subscribe_options o = CQ_SUBSCRIBE_OPTIONS_INIT;
        o.flags = flags;
        o.pattern = pattern.c_str();
        o.subscriber_id = subscriber_id.empty() ? nullptr : subscriber_id.c_str();
        o.start = start;
        o.start_value = start_value;
        return o;
    }
};

/**
 * One delivered record: a view into the subscription's mapping, valid until the
 * next poll on the same subscription or its destruction.
 */
struct Message {
    uint64_t offset = 0;
    int64_t timestamp_ns = 0; /**< CLOCK_REALTIME at publish */
    std::string_view topic;   /**< NUL-terminated (topic.data() is a C string) */
    std::span<const std::byte> data;

    std::string_view text() const noexcept {
        return {reinterpret_cast<const char *>(data.data()), data.size()};
    }
    std::vector<std::byte> copy() const { return {data.begin(), data.end()}; }

    static Message from(const cq_message &m) noexcept {
        return Message{m.offset,
                       m.timestamp_ns,
                       m.topic ? std::string_view(m.topic) : "",
                       {static_cast<const std::byte *>(m.data), m.len}};
    }
};

using BrokerStats = cq_broker_stats;
using SubscriptionStats = cq_subscription_stats;

/** First offset and count of a publish_batch. */
struct BatchPublish {
    uint64_t first_offset = 0;
    size_t count = 0;
};

/**
 * A subscription (move-only; unsubscribes on destruction, persisting pending
 * acks). Used by one thread at a time; destroy it before its Broker.
 */
class Subscription {
  public:
    Subscription(Subscription &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Subscription &operator=(Subscription &&o) noexcept {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Subscription(const Subscription &) = delete;
    Subscription &operator=(const Subscription &) = delete;
    ~Subscription() { reset(); }

    /** Unsubscribe now (persists pending acks); throws Error. */
    void unsubscribe() { detail::check(::broker_unsubscribe(std::exchange(s_, nullptr))); }

    cq_subscription *native_handle() const noexcept { return s_; }

    /**
     * The next record of any matching topic, waiting up to timeout (negative or
     * `forever`: no limit; zero: don't wait). nullopt on timeout; throws Error
     * otherwise (CQ_ECORRUPT, CQ_EIO, CQ_EPERM).
     */
    template <class Rep = int64_t, class Period = std::nano>
    std::optional<Message> poll(std::chrono::duration<Rep, Period> timeout = forever) {
        cq_message m{};
        int rc = ::broker_poll(s_, &m, detail::to_ns(timeout));
        if (rc == CQ_ETIMEDOUT) return std::nullopt;
        detail::check(rc);
        return Message::from(m);
    }
    /** Non-throwing poll: Result code CQ_ETIMEDOUT when nothing came in time. */
    template <class Rep = int64_t, class Period = std::nano>
    Result<Message> try_poll(std::chrono::duration<Rep, Period> timeout = forever) {
        cq_message m{};
        int rc = ::broker_poll(s_, &m, detail::to_ns(timeout));
        if (rc < 0) return detail::last_error(rc);
        return Message::from(m);
    }
    /** Up to max records (views valid until the next poll); empty on timeout. Throws Error. */
    template <class Rep = int64_t, class Period = std::nano>
    std::vector<Message> poll_batch(size_t max,
                                    std::chrono::duration<Rep, Period> timeout = forever) {
        std::vector<cq_message> raw(max);
        std::vector<Message> out;
        if (max == 0) return out;
        int rc = ::broker_poll_batch(s_, raw.data(), raw.size(), detail::to_ns(timeout));
        if (rc == CQ_ETIMEDOUT) return out;
        detail::check(rc);
        out.reserve(static_cast<size_t>(rc));
        for (int i = 0; i < rc; ++i) out.push_back(Message::from(raw[static_cast<size_t>(i)]));
        return out;
    }

    /** Acknowledge every record of topic up to and including offset; throws Error. */
    void ack(const std::string &topic, uint64_t offset) {
        detail::check(::broker_ack(s_, topic.c_str(), offset));
    }
    /** Acknowledge m and what came before it in its topic (call before the next poll). */
    void ack(const Message &m) { detail::check(::broker_ack(s_, m.topic.data(), m.offset)); }
    Result<void> try_ack(const Message &m) {
        int rc = ::broker_ack(s_, m.topic.data(), m.offset);
        if (rc < 0) return detail::last_error(rc);
        return {};
    }

    /** Move the cursor of topic to offset (clamped to the retained range). */
    void seek(const std::string &topic, uint64_t offset) {
        detail::check(::broker_seek(s_, topic.c_str(), offset));
    }
    /** Move every topic's cursor to offset. */
    void seek_all(uint64_t offset) { detail::check(::broker_seek(s_, nullptr, offset)); }
    /** Move every cursor to the first record with timestamp >= realtime_ns. */
    void seek_time(int64_t realtime_ns) { detail::check(::broker_seek_time(s_, realtime_ns)); }

    /**
     * End a poll on this subscription in progress in another thread: it throws
     * Error(CQ_ECANCELED) (try_poll returns it). The one member another thread may call
     * while the subscription is in use.
     */
    void interrupt() { detail::check(::broker_interrupt(s_)); }

    /** Counters for one topic (CQ_ENOENT if the subscription has no such topic). */
    SubscriptionStats stats(const std::string &topic) const {
        cq_subscription_stats st{};
        st.struct_size = sizeof st;
        detail::check(::broker_subscription_stats(s_, topic.c_str(), &st));
        return st;
    }

  private:
    friend class Broker;
    explicit Subscription(cq_subscription *s) noexcept : s_(s) {}
    void reset() noexcept {
        if (s_) ::broker_unsubscribe(std::exchange(s_, nullptr));
    }
    cq_subscription *s_ = nullptr;
};

/**
 * A push subscription (move-only): the library's dispatcher thread hands its
 * records to a handler on a Pool's workers, in order, one job per run of up to 64
 * records. Unsubscribes on destruction (after the job in flight; never destroy it
 * from its own handler). Destroy it before its Broker and before its Pool.
 */
class PushSubscription {
  public:
    PushSubscription(PushSubscription &&o) noexcept
        : s_(std::exchange(o.s_, nullptr)), state_(std::move(o.state_)) {}
    PushSubscription &operator=(PushSubscription &&o) noexcept {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
            state_ = std::move(o.state_);
        }
        return *this;
    }
    PushSubscription(const PushSubscription &) = delete;
    PushSubscription &operator=(const PushSubscription &) = delete;
    ~PushSubscription() { reset(); }

    /** Stop delivery now (after the job in flight), persisting acks; throws Error. */
    void unsubscribe() {
        int rc = ::broker_unsubscribe(std::exchange(s_, nullptr));
        state_.reset();
        detail::check(rc);
    }
    cq_subscription *native_handle() const noexcept { return s_; }

    /** Handler calls that threw (each failed its record, see Broker::subscribe_push). */
    uint64_t handler_failures() const noexcept {
        return state_ ? state_->failures.load(std::memory_order_relaxed) : 0;
    }
    /** The last exception a handler threw, or null. */
    std::exception_ptr last_exception() const {
        if (!state_) return nullptr;
        std::lock_guard lock(state_->mu);
        return state_->last;
    }

  private:
    friend class Broker;
    struct State {
        std::function<bool(const Message &)> one;
        std::function<size_t(std::span<const Message>)> batch;
        std::atomic<uint64_t> failures{0};
        mutable std::mutex mu;
        std::exception_ptr last;
        void failed() noexcept {
            failures.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard lock(mu);
            last = std::current_exception();
        }
    };
    PushSubscription(cq_subscription *s, std::unique_ptr<State> st) noexcept
        : s_(s), state_(std::move(st)) {}
    void reset() noexcept {
        // The handler's state outlives the dispatcher: unsubscribe first.
        if (s_) ::broker_unsubscribe(std::exchange(s_, nullptr));
        state_.reset();
    }
    // Trampolines: no exception ever leaves them into the library's frames.
    static int on_one(void *ctx, const cq_message *m) noexcept {
        auto *st = static_cast<State *>(ctx);
        try {
            return st->one(Message::from(*m)) ? 0 : 1;
        } catch (...) {
            st->failed();
            return 1;
        }
    }
    static size_t on_batch(void *ctx, const cq_message *m, size_t n) noexcept {
        auto *st = static_cast<State *>(ctx);
        try {
            std::array<Message, 64> views;
            n = std::min(n, views.size());
            for (size_t i = 0; i < n; ++i) views[i] = Message::from(m[i]);
            return st->batch(std::span<const Message>(views.data(), n));
        } catch (...) {
            st->failed();
            return 0;  // the first record failed; the rest come again
        }
    }
    cq_subscription *s_ = nullptr;
    std::unique_ptr<State> state_;
};

/**
 * An open broker directory (move-only; closes on destruction). Safe to use from
 * many threads at once, as the C handle is. Destroy its Subscriptions first.
 */
class Broker {
  public:
    /** Open (creating if missing) the broker directory dir; throws Error. */
    explicit Broker(const std::string &dir, const BrokerOptions &opts = {}) {
        detail::check(::broker_open(dir.c_str(), &opts.raw, &b_));
    }
    static Result<Broker> try_open(const std::string &dir, const BrokerOptions &opts = {}) {
        cq_broker *b = nullptr;
        int rc = ::broker_open(dir.c_str(), &opts.raw, &b);
        if (rc < 0) return detail::last_error(rc);
        return Broker(b);
    }

    Broker(Broker &&o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    Broker &operator=(Broker &&o) noexcept {
        if (this != &o) {
            reset();
            b_ = std::exchange(o.b_, nullptr);
        }
        return *this;
    }
    Broker(const Broker &) = delete;
    Broker &operator=(const Broker &) = delete;
    ~Broker() { reset(); }

    /** Close now: flushes per the fsync policy; throws Error (CQ_EIO: handle freed anyway). */
    void close() { detail::check(::broker_close(std::exchange(b_, nullptr))); }

    cq_broker *native_handle() const noexcept { return b_; }

    /** Append one record to topic; returns its offset. Throws Error. */
    uint64_t publish(const std::string &topic, std::span<const std::byte> data) {
        uint64_t off = 0;
        detail::check(::broker_publish(b_, topic.c_str(), data.data(), data.size(), &off));
        return off;
    }
    uint64_t publish(const std::string &topic, std::string_view data) {
        return publish(topic, std::as_bytes(std::span{data}));
    }
    /** Non-throwing publish: the offset, or CQ_EINVAL, CQ_EMSGSIZE, CQ_EFULL ... */
    Result<uint64_t> try_publish(const std::string &topic, std::span<const std::byte> data) {
        uint64_t off = 0;
        int rc = ::broker_publish(b_, topic.c_str(), data.data(), data.size(), &off);
        if (rc < 0) return detail::last_error(rc);
        return off;
    }
    Result<uint64_t> try_publish(const std::string &topic, std::string_view data) {
        return try_publish(topic, std::as_bytes(std::span{data}));
    }
    /**
     * Append records with consecutive offsets; returns the first offset and how many
     * were appended (fewer than given if an error stopped it after some). Throws Error
     * when none was appended.
     */
    BatchPublish publish_batch(const std::string &topic,
                               std::span<const std::span<const std::byte>> msgs) {
        std::vector<cq_iov> iov(msgs.size());
        for (size_t i = 0; i < msgs.size(); ++i) iov[i] = {msgs[i].data(), msgs[i].size()};
        uint64_t first = 0;
        int rc = ::broker_publish_batch(b_, topic.c_str(), iov.data(), iov.size(), &first);
        detail::check(rc);
        return {first, static_cast<size_t>(rc)};
    }

    /** Subscribe to pattern; with a non-empty subscriber_id, durably. Throws Error. */
    Subscription subscribe(const std::string &pattern, const std::string &subscriber_id = {},
                           uint32_t flags = 0) {
        SubscribeOptions o(pattern);
        o.flags = flags;
        if (!subscriber_id.empty()) o.durable(subscriber_id);
        return subscribe(o);
    }
    Subscription subscribe(const SubscribeOptions &opts) {
        cq_subscribe_options raw = opts.native();
        cq_subscription *s = nullptr;
        detail::check(::broker_subscribe_ex(b_, &raw, &s));
        return Subscription(s);
    }
    Result<Subscription> try_subscribe(const SubscribeOptions &opts) {
        cq_subscribe_options raw = opts.native();
        cq_subscription *s = nullptr;
        int rc = ::broker_subscribe_ex(b_, &raw, &s);
        if (rc < 0) return detail::last_error(rc);
        return Subscription(s);
    }

    /**
     * Push delivery, one record per call: handler(const Message &) runs on pool's
     * workers in order; it returns void or bool (false: failed). A record whose
     * handler failed or threw is not acknowledged, nor is anything after it in its
     * topic for the rest of this subscription's life (a durable subscriber gets it
     * again when it subscribes next); records after a throw in the same job come
     * again. The Message views are valid during the call. Throws Error.
     */
    template <class F>
    PushSubscription subscribe_push(const SubscribeOptions &opts, Pool &pool, F &&handler) {
        static_assert(std::is_invocable_v<std::decay_t<F> &, const Message &>,
                      "handler(const cqueue::Message &)");
        auto st = std::make_unique<PushSubscription::State>();
        if constexpr (std::is_same_v<std::invoke_result_t<std::decay_t<F> &, const Message &>,
                                     void>)
            st->one = [f = std::forward<F>(handler)](const Message &m) mutable {
                f(m);
                return true;
            };
        else
            st->one = std::forward<F>(handler);
        return start_push(opts, pool, std::move(st));
    }
    /**
     * Push delivery in runs: handler(std::span<const Message>) gets up to 64 records
     * per call, in order, and returns how many leading records it handled (size_t),
     * or void for all of them. A short return k fails record k (as a false return of
     * subscribe_push's handler does) and delivers the ones after it again; a throw
     * counts as k = 0. Throws Error.
     */
    template <class F>
    PushSubscription subscribe_push_batch(const SubscribeOptions &opts, Pool &pool, F &&handler) {
        using Span = std::span<const Message>;
        static_assert(std::is_invocable_v<std::decay_t<F> &, Span>,
                      "handler(std::span<const cqueue::Message>)");
        auto st = std::make_unique<PushSubscription::State>();
        if constexpr (std::is_same_v<std::invoke_result_t<std::decay_t<F> &, Span>, void>)
            st->batch = [f = std::forward<F>(handler)](Span msgs) mutable {
                f(msgs);
                return msgs.size();
            };
        else
            st->batch = std::forward<F>(handler);
        return start_push(opts, pool, std::move(st));
    }

    BrokerStats stats() const {
        cq_broker_stats st{};
        st.struct_size = sizeof st;
        detail::check(::broker_stats(b_, &st));
        return st;
    }
    /** The topics in the directory. */
    std::vector<std::string> topics() const {
        std::string text = fetch_text(&::broker_topics);
        std::vector<std::string> out;
        size_t pos = 0;
        while (pos < text.size()) {
            size_t nl = text.find('\n', pos);
            if (nl == std::string::npos) nl = text.size();
            if (nl > pos) out.emplace_back(text.substr(pos, nl - pos));
            pos = nl + 1;
        }
        return out;
    }
    /** Every metric in the Prometheus text format. */
    std::string metrics() const { return fetch_text(&::broker_metrics); }

  private:
    explicit Broker(cq_broker *b) noexcept : b_(b) {}
    PushSubscription start_push(const SubscribeOptions &opts, Pool &pool,
                                std::unique_ptr<PushSubscription::State> st) {
        cq_subscribe_options raw = opts.native();
        cq_subscription *s = nullptr;
        detail::check(st->batch
                          ? ::broker_subscribe_push_batch(b_, &raw, pool.native_handle(),
                                                          &PushSubscription::on_batch, st.get(), &s)
                          : ::broker_subscribe_push(b_, &raw, pool.native_handle(),
                                                    &PushSubscription::on_one, st.get(), &s));
        return PushSubscription(s, std::move(st));
    }
    void reset() noexcept {
        if (b_) ::broker_close(std::exchange(b_, nullptr));
    }
    std::string fetch_text(int (*fn)(cq_broker *, char *, size_t, size_t *)) const {
        std::string buf(4096, '\0');
        for (;;) {
            size_t needed = 0;
            int rc = fn(b_, buf.data(), buf.size(), &needed);
            if (rc == CQ_EMSGSIZE && needed > buf.size()) {
                buf.resize(needed);
                continue;
            }
            detail::check(rc);
            buf.resize(std::strlen(buf.c_str()));
            return buf;
        }
    }
    cq_broker *b_ = nullptr;
};

}  // namespace cqueue

#endif  // CQUEUE_CQUEUE_HPP
