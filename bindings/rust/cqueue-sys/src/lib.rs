//! Raw bindings to the C API of libcqueue (`cqueue/common.h`, `queue.h`, `pool.h`,
//! `broker.h`),
//! written by hand from the headers. Everything here is `unsafe` to call; the
//! `cqueue` crate is the safe API.
//!
//! Layouts follow the C structs field for field (`#[repr(C)]`); the tests check
//! their sizes against what the library's `_init` functions write into
//! `struct_size`.
#![allow(non_camel_case_types)]
#![no_std]

use core::ffi::{c_char, c_int, c_void};

// ---- common.h -------------------------------------------------------------------
pub const CQ_OK: c_int = 0;
pub const CQ_EEMPTY: c_int = -1;
pub const CQ_EFULL: c_int = -2;
pub const CQ_ETIMEDOUT: c_int = -3;
pub const CQ_EMSGSIZE: c_int = -4;
pub const CQ_EINVAL: c_int = -5;
pub const CQ_ENOENT: c_int = -6;
pub const CQ_EEXIST: c_int = -7;
pub const CQ_EPERM: c_int = -8;
pub const CQ_ECORRUPT: c_int = -9;
pub const CQ_EVERSION: c_int = -10;
pub const CQ_ENOMEM: c_int = -11;
pub const CQ_EIO: c_int = -12;
pub const CQ_ECLOSED: c_int = -13;
pub const CQ_ECANCELED: c_int = -14;
pub const CQ_EBUSY: c_int = -15;
pub const CQ_EFOREIGN: c_int = -16;

pub const CQ_WAIT_FOREVER: i64 = -1;
pub const CQ_NO_WAIT: i64 = 0;

// ---- queue.h ----------------------------------------------------------------------
pub const CQ_CREATE: u32 = 1 << 0;
pub const CQ_EXCL: u32 = 1 << 1;
pub const CQ_NO_RECOVER: u32 = 1 << 2;
pub const CQ_DEFAULT_CAPACITY: u32 = 65536;
pub const CQ_DEFAULT_MAX_MESSAGE_SIZE: u32 = 256;
pub const CQ_MAX_MESSAGE_SIZE: u32 = 16 * 1024 * 1024;

/// Opaque queue handle.
#[repr(C)]
pub struct cq_queue {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cq_queue_options {
    pub struct_size: u32,
    pub flags: u32,
    pub capacity: u32,
    pub max_message_size: u32,
    pub mode: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cq_queue_stats {
    pub struct_size: u32,
    pub capacity: u32,
    pub max_message_size: u32,
    pub length: u64,
    pub free_nodes: u64,
    pub enqueued: u64,
    pub dequeued: u64,
    pub reclaimed: u64,
    pub recoveries: u64,
    pub lanes_live: u32,
    pub lanes_dead: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cq_iov {
    pub data: *const c_void,
    pub len: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cq_rbuf {
    pub data: *mut c_void,
    pub cap: usize,
    pub len: usize,
}

// ---- pool.h -------------------------------------------------------------------------
pub const CQ_PRIORITY_LOW: u32 = 0;
pub const CQ_PRIORITY_NORMAL: u32 = 1;
pub const CQ_PRIORITY_HIGH: u32 = 2;

/// Opaque pool handle.
#[repr(C)]
pub struct cq_pool {
    _private: [u8; 0],
}

/// Opaque cancel token.
#[repr(C)]
pub struct cq_cancel_token {
    _private: [u8; 0],
}

pub type cq_job_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;
pub type cq_job_cleanup_fn = Option<unsafe extern "C" fn(arg: *mut c_void, status: c_int)>;
pub type cq_pool_thread_hook = Option<unsafe extern "C" fn(user: *mut c_void, worker_index: u32)>;
pub type cq_pool_metrics_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, stats: *const cq_pool_stats)>;
pub type cq_pool_message_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, data: *const c_void, len: usize)>;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cq_pool_options {
    pub struct_size: u32,
    pub workers: u32,
    pub queue_capacity: u32,
    pub segment_size: u32,
    pub max_batch: u32,
    pub fairness: u32,
    pub cpu_affinity: *const u32,
    pub cpu_affinity_count: u32,
    pub reserved0: u32,
    pub on_thread_start: cq_pool_thread_hook,
    pub on_thread_stop: cq_pool_thread_hook,
    pub hook_user: *mut c_void,
    pub metrics: cq_pool_metrics_fn,
    pub metrics_user: *mut c_void,
    pub metrics_interval_ns: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cq_job {
    pub struct_size: u32,
    pub priority: u32,
    pub fn_: cq_job_fn,
    pub arg: *mut c_void,
    pub cleanup: cq_job_cleanup_fn,
    pub deadline_ns: i64,
    pub cancel: *mut cq_cancel_token,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cq_pool_stats {
    pub struct_size: u32,
    pub workers: u32,
    pub queue_capacity: u32,
    pub segment_size: u32,
    pub submitted: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub failed: u64,
    pub queue_depth: u64,
    pub batches: u64,
    pub mean_batch_size: f64,
    pub messages: u64,
    pub message_failures: u64,
}

// ---- broker.h -----------------------------------------------------------------------

/// Opaque broker handle.
#[repr(C)]
pub struct cq_broker {
    _private: [u8; 0],
}

/// Opaque subscription handle.
#[repr(C)]
pub struct cq_subscription {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cq_message {
    pub offset: u64,
    pub timestamp_ns: i64,
    pub topic: *const c_char,
    pub data: *const c_void,
    pub len: usize,
}

pub const CQ_SUB_DURABLE: u32 = 1 << 0;
pub const CQ_SUB_EARLIEST: u32 = 1 << 1;

pub const CQ_FSYNC_NONE: u32 = 0;
pub const CQ_FSYNC_INTERVAL: u32 = 1;
pub const CQ_FSYNC_GROUP: u32 = 2;
pub const CQ_FSYNC_ALWAYS: u32 = 3;

pub const CQ_OVERFLOW_BLOCK: u32 = 0;
pub const CQ_OVERFLOW_FAIL: u32 = 1;
pub const CQ_OVERFLOW_DROP: u32 = 2;

pub const CQ_BROKER_MAX_MESSAGE_SIZE: u32 = 16 * 1024 * 1024;
pub const CQ_BROKER_MIN_SEGMENT_SIZE: u32 = 64 * 1024;
pub const CQ_BROKER_MAX_SEGMENT_SIZE: u32 = 256 * 1024 * 1024;
pub const CQ_BROKER_DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024 * 1024;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cq_broker_options {
    pub struct_size: u32,
    pub fsync_policy: u32,
    pub fsync_interval_ms: u32,
    pub overflow_policy: u32,
    pub segment_size: u64,
    pub retention_bytes: u64,
    pub retention_age_ns: i64,
    pub block_timeout_ns: i64,
    pub hole_timeout_ns: i64,
    pub mode: u32,
    pub reserved: u32,
}

pub const CQ_START_DEFAULT: u32 = 0;
pub const CQ_START_EARLIEST: u32 = 1;
pub const CQ_START_LATEST: u32 = 2;
pub const CQ_START_OFFSET: u32 = 3;
pub const CQ_START_TIME: u32 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cq_subscribe_options {
    pub struct_size: u32,
    pub flags: u32,
    pub pattern: *const c_char,
    pub subscriber_id: *const c_char,
    pub start: u32,
    pub reserved: u32,
    pub start_value: i64,
}

impl Default for cq_subscribe_options {
    /// `CQ_SUBSCRIBE_OPTIONS_INIT`.
    fn default() -> Self {
        cq_subscribe_options {
            struct_size: core::mem::size_of::<cq_subscribe_options>() as u32,
            flags: 0,
            pattern: core::ptr::null(),
            subscriber_id: core::ptr::null(),
            start: CQ_START_DEFAULT,
            reserved: 0,
            start_value: 0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cq_broker_stats {
    pub struct_size: u32,
    pub topics: u32,
    pub published: u64,
    pub published_bytes: u64,
    pub delivered: u64,
    pub fsyncs: u64,
    pub holes_skipped: u64,
    pub segments_deleted: u64,
    pub publish_failures: u64,
    pub sync_failed: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cq_subscription_stats {
    pub struct_size: u32,
    pub durable: u32,
    pub delivered: u64,
    pub missed: u64,
    pub next_offset: u64,
    pub acked_offset: u64,
    pub end_offset: u64,
    pub durable_offset: u64,
    pub lag_records: u64,
    pub lag_bytes: u64,
}

pub type cq_push_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, msg: *const cq_message) -> c_int>;
pub type cq_push_batch_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, msgs: *const cq_message, count: usize) -> usize>;

extern "C" {
    pub fn cq_strerror(code: c_int) -> *const c_char;
    pub fn cq_last_error() -> *const c_char;
    pub fn cq_version() -> *const c_char;

    pub fn cq_queue_options_init(opts: *mut cq_queue_options);
    pub fn cq_open(
        name: *const c_char,
        opts: *const cq_queue_options,
        out: *mut *mut cq_queue,
    ) -> c_int;
    pub fn cq_close(q: *mut cq_queue) -> c_int;
    pub fn cq_unlink(name: *const c_char) -> c_int;
    pub fn cq_enqueue(q: *mut cq_queue, data: *const c_void, len: usize) -> c_int;
    pub fn cq_dequeue(q: *mut cq_queue, buf: *mut c_void, cap: usize, len: *mut usize) -> c_int;
    pub fn cq_enqueue_wait(
        q: *mut cq_queue,
        data: *const c_void,
        len: usize,
        timeout_ns: i64,
    ) -> c_int;
    pub fn cq_dequeue_wait(
        q: *mut cq_queue,
        buf: *mut c_void,
        cap: usize,
        len: *mut usize,
        timeout_ns: i64,
    ) -> c_int;
    pub fn cq_enqueue_batch(q: *mut cq_queue, msgs: *const cq_iov, count: usize) -> c_int;
    pub fn cq_dequeue_batch(q: *mut cq_queue, bufs: *mut cq_rbuf, count: usize) -> c_int;
    pub fn cq_stats(q: *mut cq_queue, out: *mut cq_queue_stats) -> c_int;
    pub fn cq_recover(q: *mut cq_queue, reclaimed: *mut u64) -> c_int;
    pub fn cq_interrupt(q: *mut cq_queue) -> c_int;

    pub fn cq_pool_options_init(opts: *mut cq_pool_options);
    pub fn pool_create(opts: *const cq_pool_options, out: *mut *mut cq_pool) -> c_int;
    pub fn pool_submit(p: *mut cq_pool, fn_: cq_job_fn, arg: *mut c_void) -> c_int;
    pub fn pool_submit_ex(p: *mut cq_pool, job: *const cq_job) -> c_int;
    pub fn pool_submit_wait(p: *mut cq_pool, job: *const cq_job, timeout_ns: i64) -> c_int;
    pub fn pool_submit_batch(p: *mut cq_pool, jobs: *const cq_job, count: usize) -> c_int;
    pub fn pool_job_fail() -> c_int;
    pub fn pool_attach_queue(
        p: *mut cq_pool,
        q: *mut cq_queue,
        handler: cq_pool_message_fn,
        ctx: *mut c_void,
    ) -> c_int;
    pub fn pool_stats(p: *mut cq_pool, out: *mut cq_pool_stats) -> c_int;
    pub fn pool_shutdown(p: *mut cq_pool, timeout_ns: i64) -> c_int;
    pub fn pool_destroy(p: *mut cq_pool);
    pub fn pool_cancel_token_create(out: *mut *mut cq_cancel_token) -> c_int;
    pub fn pool_cancel_token_cancel(t: *mut cq_cancel_token) -> c_int;
    pub fn pool_cancel_token_is_cancelled(t: *const cq_cancel_token) -> c_int;
    pub fn pool_cancel_token_destroy(t: *mut cq_cancel_token);
    pub fn cq_broker_options_init(opts: *mut cq_broker_options);
    pub fn broker_open(
        dir: *const c_char,
        opts: *const cq_broker_options,
        out: *mut *mut cq_broker,
    ) -> c_int;
    pub fn broker_close(b: *mut cq_broker) -> c_int;
    pub fn broker_publish(
        b: *mut cq_broker,
        topic: *const c_char,
        data: *const c_void,
        len: usize,
        offset_out: *mut u64,
    ) -> c_int;
    pub fn broker_publish_batch(
        b: *mut cq_broker,
        topic: *const c_char,
        msgs: *const cq_iov,
        count: usize,
        first_offset_out: *mut u64,
    ) -> c_int;
    pub fn broker_subscribe(
        b: *mut cq_broker,
        pattern: *const c_char,
        subscriber_id: *const c_char,
        flags: u32,
        out: *mut *mut cq_subscription,
    ) -> c_int;
    pub fn broker_subscribe_ex(
        b: *mut cq_broker,
        opts: *const cq_subscribe_options,
        out: *mut *mut cq_subscription,
    ) -> c_int;
    pub fn broker_poll(s: *mut cq_subscription, msg: *mut cq_message, timeout_ns: i64) -> c_int;
    pub fn broker_poll_batch(
        s: *mut cq_subscription,
        msgs: *mut cq_message,
        max: usize,
        timeout_ns: i64,
    ) -> c_int;
    pub fn broker_ack(s: *mut cq_subscription, topic: *const c_char, offset: u64) -> c_int;
    pub fn broker_seek(s: *mut cq_subscription, topic: *const c_char, offset: u64) -> c_int;
    pub fn broker_seek_time(s: *mut cq_subscription, timestamp_ns: i64) -> c_int;
    pub fn broker_interrupt(s: *mut cq_subscription) -> c_int;
    pub fn broker_unsubscribe(s: *mut cq_subscription) -> c_int;
    pub fn broker_subscribe_push(
        b: *mut cq_broker,
        opts: *const cq_subscribe_options,
        pool: *mut cq_pool,
        handler: cq_push_fn,
        ctx: *mut c_void,
        out: *mut *mut cq_subscription,
    ) -> c_int;
    pub fn broker_subscribe_push_batch(
        b: *mut cq_broker,
        opts: *const cq_subscribe_options,
        pool: *mut cq_pool,
        handler: cq_push_batch_fn,
        ctx: *mut c_void,
        out: *mut *mut cq_subscription,
    ) -> c_int;
    pub fn broker_stats(b: *mut cq_broker, out: *mut cq_broker_stats) -> c_int;
    pub fn broker_subscription_stats(
        s: *mut cq_subscription,
        topic: *const c_char,
        out: *mut cq_subscription_stats,
    ) -> c_int;
    pub fn broker_metrics(
        b: *mut cq_broker,
        buf: *mut c_char,
        cap: usize,
        needed: *mut usize,
    ) -> c_int;
    pub fn broker_topics(
        b: *mut cq_broker,
        buf: *mut c_char,
        cap: usize,
        needed: *mut usize,
    ) -> c_int;
}
