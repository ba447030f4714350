//! The worker pool: closures as jobs, panics caught at the trampoline.
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{catch, check, code, panic_text, sys, timeout_ns, Error, Queue, Result};

/// Options for [`Pool::new`]; builder style.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    raw: sys::cq_pool_options,
}

impl Default for PoolOptions {
    fn default() -> Self {
        let mut raw = std::mem::MaybeUninit::<sys::cq_pool_options>::zeroed();
        // SAFETY: raw is writable; _init fills every field.
        let raw = unsafe {
            sys::cq_pool_options_init(raw.as_mut_ptr());
            raw.assume_init()
        };
        PoolOptions { raw }
    }
}

impl PoolOptions {
    pub fn new() -> Self {
        Self::default()
    }
    /// Worker threads; 0 = one per online CPU.
    pub fn workers(mut self, n: u32) -> Self {
        self.raw.workers = n;
        self
    }
    /// Jobs per priority level that may wait (rounded up to a power of two).
    pub fn queue_capacity(mut self, n: u32) -> Self {
        self.raw.queue_capacity = n;
        self
    }
}

/// Job priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

/// How a job ended, given to its completion callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// It ran and returned.
    Completed,
    /// It panicked; the panic message. The pool counts it as failed.
    Panicked(String),
    /// Its token was cancelled before it started, or the pool cancelled it at shutdown.
    Cancelled,
    /// Its deadline had passed when a worker took it.
    Expired,
    /// Any other status code from the library.
    Other(i32),
}

/// A cancel token shared by jobs (clones share one token).
#[derive(Clone)]
pub struct CancelToken {
    inner: Arc<TokenRef>,
}

struct TokenRef(ptr::NonNull<sys::cq_cancel_token>);

// SAFETY (Send + Sync): pool_cancel_token_cancel / _is_cancelled are thread-safe
// (pool.h), the token is reference-counted inside the library (jobs holding it keep
// it alive), and our one reference is dropped exactly once, by the last Arc.
unsafe impl Send for TokenRef {}
unsafe impl Sync for TokenRef {}

impl Drop for TokenRef {
    fn drop(&mut self) {
        // SAFETY: our reference, dropped once; jobs holding the token keep their own.
        unsafe { sys::pool_cancel_token_destroy(self.0.as_ptr()) }
    }
}

impl CancelToken {
    pub fn new() -> Result<CancelToken> {
        let mut t = ptr::null_mut();
        // SAFETY: valid out pointer.
        check(unsafe { sys::pool_cancel_token_create(&mut t) })?;
        let t = ptr::NonNull::new(t).ok_or_else(|| Error::new(code::NOMEM, "NULL token"))?;
        Ok(CancelToken {
            inner: Arc::new(TokenRef(t)),
        })
    }
    /// Jobs holding this token that have not started are not run.
    pub fn cancel(&self) {
        // SAFETY: the token is alive while self is; cancel only fails for NULL.
        unsafe { sys::pool_cancel_token_cancel(self.raw()) };
    }
    pub fn is_cancelled(&self) -> bool {
        // SAFETY: as cancel.
        unsafe { sys::pool_cancel_token_is_cancelled(self.raw()) == 1 }
    }
    fn raw(&self) -> *mut sys::cq_cancel_token {
        self.inner.0.as_ptr()
    }
}

/// Per-job settings for [`Pool::submit_with`].
#[derive(Default)]
pub struct JobOptions {
    pub priority: Priority,
    /// The job expires if a worker takes it after this instant.
    pub deadline: Option<Instant>,
    pub cancel: Option<CancelToken>,
    /// Called exactly once with the outcome, on a worker thread (or on the
    /// thread that shuts the pool down, for jobs cancelled then).
    pub on_done: Option<Box<dyn FnOnce(JobOutcome) + Send + 'static>>,
}

pub type PoolStats = sys::cq_pool_stats;

/// A bounded pool of worker threads running closures.
///
/// Dropping it shuts it down with no grace period: queued jobs are cancelled
/// (their `on_done` sees [`JobOutcome::Cancelled`]), running ones finish first.
/// Call [`Pool::shutdown`] to drain instead.
pub struct Pool {
    raw: ptr::NonNull<sys::cq_pool>,
    /// What attach_queue handed to the library: kept until pool_destroy has returned
    /// (fields drop after Drop::drop), when no worker can call the handler any more.
    attached: Mutex<Option<Box<Attached>>>,
}

type Handler = Box<dyn Fn(&[u8]) + Send + Sync + 'static>;

struct Attached {
    handler: Handler,
    failures: AtomicU64,
    _queue: Arc<Queue>, // the queue stays open while workers drain it
}

unsafe extern "C" fn on_message(ctx: *mut c_void, data: *const c_void, len: usize) {
    // SAFETY: ctx is the Attached kept alive by the pool until pool_destroy returned.
    let a = unsafe { &*(ctx as *const Attached) };
    let msg: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the library passes len readable bytes, valid during this call.
        unsafe { std::slice::from_raw_parts(data as *const u8, len) }
    };
    if catch(|| (a.handler)(msg)).is_err() {
        a.failures.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY (Send): the pool is not tied to the thread that created it; any thread may
// submit, shut it down or destroy it (pool.h, thread safety).
// SAFETY (Sync): every pool_* call but pool_destroy is thread-safe on one pool at
// once; pool_destroy runs only in Drop, which has exclusive access. Jobs are
// `Send + 'static` because they run on worker threads and may outlive the caller's
// stack frame. A job that ends up dropping the last reference to its own pool (an
// Arc<Pool> moved into a job) makes pool_destroy run on a worker: the library then
// ignores the call and leaks the pool - a leak, not unsoundness.
unsafe impl Send for Pool {}
unsafe impl Sync for Pool {}

struct Boxed {
    job: Option<Box<dyn FnOnce() + Send + 'static>>,
    on_done: Option<Box<dyn FnOnce(JobOutcome) + Send + 'static>>,
    panic: Option<String>,
}

// The trampolines: no panic unwinds out of them into the library's C/C++ frames
// (that would be undefined behaviour; extern "C" fns abort on unwind anyway).
unsafe extern "C" fn run_job(arg: *mut c_void) {
    // SAFETY: arg is the Boxed leaked by submit; the pool calls run_job at most once
    // and finish_job (which frees it) only afterwards, on the same job.
    let b = unsafe { &mut *(arg as *mut Boxed) };
    if let Some(job) = b.job.take() {
        if let Err(p) = catch(job) {
            b.panic = Some(panic_text(&*p));
            // Dropping the payload may itself panic; keep that in too.
            let _ = catch(move || drop(p));
            // SAFETY: called on the worker running this job.
            unsafe { sys::pool_job_fail() };
        }
    }
}

unsafe extern "C" fn finish_job(arg: *mut c_void, status: c_int) {
    // SAFETY: the pool calls cleanup exactly once per accepted job, after run_job.
    let mut b = unsafe { Box::from_raw(arg as *mut Boxed) };
    let outcome = match (status, b.panic.take()) {
        (_, Some(msg)) => JobOutcome::Panicked(msg),
        (sys::CQ_OK, None) => JobOutcome::Completed,
        (sys::CQ_ECANCELED, None) => JobOutcome::Cancelled,
        (sys::CQ_ETIMEDOUT, None) => JobOutcome::Expired,
        (other, None) => JobOutcome::Other(other),
    };
    let on_done = b.on_done.take();
    // A job never run (cancelled, expired) is dropped here; its destructor may panic.
    let _ = catch(move || drop(b));
    if let Some(f) = on_done {
        // A panic in the completion callback has no one to report to: swallow it
        // rather than unwind into C.
        let _ = catch(move || f(outcome));
    }
}

fn monotonic_ns(t: Instant) -> i64 {
    // Instant is CLOCK_MONOTONIC on Linux; map it through "now" on both clocks.
    let mut ts = std::mem::MaybeUninit::<[i64; 2]>::uninit();
    // SAFETY: clock_gettime writes a struct timespec (two longs on 64-bit Linux).
    let now_c = unsafe {
        extern "C" {
            fn clock_gettime(clk: c_int, ts: *mut [i64; 2]) -> c_int;
        }
        clock_gettime(1 /* CLOCK_MONOTONIC */, ts.as_mut_ptr());
        let ts = ts.assume_init();
        ts[0] * 1_000_000_000 + ts[1]
    };
    let now = Instant::now();
    if t >= now {
        now_c.saturating_add(i64::try_from((t - now).as_nanos()).unwrap_or(i64::MAX))
    } else {
        // 0 means "no deadline" to the library: a past deadline is at least 1.
        now_c
            .saturating_sub(i64::try_from((now - t).as_nanos()).unwrap_or(i64::MAX))
            .max(1)
    }
}

impl Pool {
    pub fn new(opts: &PoolOptions) -> Result<Pool> {
        let mut p = ptr::null_mut();
        // SAFETY: valid options and out pointer.
        check(unsafe { sys::pool_create(&opts.raw, &mut p) })?;
        let raw = ptr::NonNull::new(p).ok_or_else(|| Error::new(code::NOMEM, "NULL pool"))?;
        Ok(Pool {
            raw,
            attached: Mutex::new(None),
        })
    }

    pub fn as_raw(&self) -> *mut sys::cq_pool {
        self.raw.as_ptr()
    }

    /// Run `f` on a worker. Never blocks: `FULL` or `CLOSED` when refused.
    pub fn submit<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<()> {
        self.submit_impl(Box::new(f), JobOptions::default(), None)
    }

    /// Run `f` with priority, deadline, cancel token and completion callback.
    pub fn submit_with<F: FnOnce() + Send + 'static>(&self, f: F, opts: JobOptions) -> Result<()> {
        self.submit_impl(Box::new(f), opts, None)
    }

    /// Submit, waiting while the priority level is full (`None` = forever).
    pub fn submit_wait<F: FnOnce() + Send + 'static>(
        &self,
        f: F,
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.submit_impl(Box::new(f), JobOptions::default(), Some(timeout))
    }

    fn submit_impl(
        &self,
        f: Box<dyn FnOnce() + Send + 'static>,
        opts: JobOptions,
        wait: Option<Option<Duration>>,
    ) -> Result<()> {
        let boxed = Box::into_raw(Box::new(Boxed {
            job: Some(f),
            on_done: opts.on_done,
            panic: None,
        }));
        let job = sys::cq_job {
            struct_size: std::mem::size_of::<sys::cq_job>() as u32,
            priority: match opts.priority {
                Priority::Low => sys::CQ_PRIORITY_LOW,
                Priority::Normal => sys::CQ_PRIORITY_NORMAL,
                Priority::High => sys::CQ_PRIORITY_HIGH,
            },
            fn_: Some(run_job),
            arg: boxed.cast(),
            cleanup: Some(finish_job),
            deadline_ns: opts.deadline.map_or(0, monotonic_ns),
            // The pool takes its own reference to the token for the job's lifetime.
            cancel: opts.cancel.as_ref().map_or(ptr::null_mut(), |t| t.raw()),
        };
        // SAFETY: job is fully initialised; the pool copies it.
        let rc = unsafe {
            match wait {
                None => sys::pool_submit_ex(self.as_raw(), &job),
                Some(t) => sys::pool_submit_wait(self.as_raw(), &job, timeout_ns(t)),
            }
        };
        if rc < 0 {
            let err = Error::last(rc);
            // Not accepted: the job stays ours and nothing of it ran.
            // SAFETY: boxed came from Box::into_raw above and the pool did not take it.
            drop(unsafe { Box::from_raw(boxed) });
            return Err(err);
        }
        Ok(())
    }

    /// Let the workers also drain the shared-memory queue `q`, calling `handler` for
    /// each message between jobs. One queue per pool (`INVAL` for a second). A handler
    /// that panics loses that message: the panic is caught at the trampoline and
    /// counted in [`Pool::handler_failures`].
    pub fn attach_queue<F>(&self, q: Arc<Queue>, handler: F) -> Result<()>
    where
        F: Fn(&[u8]) + Send + Sync + 'static,
    {
        let mut slot = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        let a = Box::new(Attached {
            handler: Box::new(handler),
            failures: AtomicU64::new(0),
            _queue: q.clone(),
        });
        let ctx = &*a as *const Attached as *mut c_void;
        // SAFETY: valid pool and queue; ctx stays alive (in self.attached) until the
        // pool is destroyed, the queue (held by it) stays open as long.
        check(unsafe { sys::pool_attach_queue(self.as_raw(), q.as_raw(), Some(on_message), ctx) })?;
        *slot = Some(a);
        Ok(())
    }

    /// Messages whose handler panicked (see [`Pool::attach_queue`]).
    pub fn handler_failures(&self) -> u64 {
        let slot = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .map_or(0, |a| a.failures.load(Ordering::Relaxed))
    }

    /// Stop accepting, run every queued job, join. `Ok(false)` when the timeout
    /// ran out and the jobs still queued were cancelled.
    pub fn shutdown(&self, timeout: Option<Duration>) -> Result<bool> {
        // SAFETY: valid pool.
        match unsafe { sys::pool_shutdown(self.as_raw(), timeout_ns(timeout)) } {
            sys::CQ_ETIMEDOUT => Ok(false),
            rc => check(rc).map(|_| true),
        }
    }

    pub fn stats(&self) -> Result<PoolStats> {
        let mut s = PoolStats {
            struct_size: std::mem::size_of::<PoolStats>() as u32,
            ..Default::default()
        };
        // SAFETY: valid pool and stats struct with struct_size set.
        check(unsafe { sys::pool_stats(self.as_raw(), &mut s) })?;
        Ok(s)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: exclusive access; the last call on this pool.
        unsafe { sys::pool_destroy(self.raw.as_ptr()) }
    }
}
