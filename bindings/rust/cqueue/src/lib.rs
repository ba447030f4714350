//! Safe Rust API for libcqueue: a lock-free MPMC queue in named shared memory
//! ([`Queue`]), a bounded worker pool ([`Pool`]) and a durable publish/subscribe
//! broker over memory-mapped logs ([`Broker`], [`Subscription`]).
//!
//! ```no_run
//! use cqueue::{Queue, QueueOptions};
//! use std::time::Duration;
//! let q = Queue::open("orders", &QueueOptions::new().create(true))?;
//! q.enqueue(b"hello")?;
//! let _msg = q.dequeue_wait(Some(Duration::from_secs(1)))?;
//! # Ok::<(), cqueue::Error>(())
//! ```
//!
//! Every call returns [`Result`]; the [`Error`] carries the library's negative
//! `CQ_E*` code ([`Error::code`]) and the per-thread detail text.
use std::ffi::{c_int, CStr, CString};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::time::Duration;

pub use cqueue_sys as sys;

mod broker;
mod pool;
pub use broker::{
    Broker, BrokerOptions, BrokerStats, Message, PushSubscription, Start, SubscribeOptions,
    Subscription, SubscriptionStats,
};
pub use pool::{CancelToken, JobOptions, JobOutcome, Pool, PoolOptions, PoolStats, Priority};

/// Error of a libcqueue call: the `CQ_E*` code plus the library's detail.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: i32,
    detail: String,
}

/// The error codes of the C API, as [`Error::code`] returns them.
pub mod code {
    pub use cqueue_sys::{
        CQ_EBUSY as BUSY, CQ_ECANCELED as CANCELED, CQ_ECLOSED as CLOSED, CQ_ECORRUPT as CORRUPT,
        CQ_EEMPTY as EMPTY, CQ_EEXIST as EXIST, CQ_EFOREIGN as FOREIGN, CQ_EFULL as FULL,
        CQ_EINVAL as INVAL, CQ_EIO as IO, CQ_EMSGSIZE as MSGSIZE, CQ_ENOENT as NOENT,
        CQ_ENOMEM as NOMEM, CQ_EPERM as PERM, CQ_ETIMEDOUT as TIMEDOUT, CQ_EVERSION as VERSION,
    };
}

impl Error {
    /// An error with `code` and the calling thread's `cq_last_error()` as detail.
    pub(crate) fn last(code: c_int) -> Error {
        // SAFETY: cq_last_error never returns NULL and the text stays valid until the
        // thread's next call into the library; it is copied at once.
        let detail = unsafe { CStr::from_ptr(sys::cq_last_error()) }
            .to_string_lossy()
            .into_owned();
        Error { code, detail }
    }
    pub(crate) fn new(code: c_int, detail: impl Into<String>) -> Error {
        Error {
            code,
            detail: detail.into(),
        }
    }
    /// The negative `CQ_E*` code (see [`code`]).
    pub fn code(&self) -> i32 {
        self.code
    }
    /// The library's detail text (may be empty).
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// Static text of the code (`cq_strerror`).
    pub fn description(&self) -> &'static str {
        strerror(self.code)
    }
    pub fn is_full(&self) -> bool {
        self.code == code::FULL
    }
    pub fn is_empty(&self) -> bool {
        self.code == code::EMPTY
    }
    pub fn is_timeout(&self) -> bool {
        self.code == code::TIMEDOUT
    }
}

/// `cq_strerror(code)`.
pub fn strerror(code: i32) -> &'static str {
    // SAFETY: cq_strerror returns static text, never NULL.
    unsafe { CStr::from_ptr(sys::cq_strerror(code)) }
        .to_str()
        .unwrap_or("unknown error")
}

/// Version of the loaded library, "MAJOR.MINOR.PATCH".
pub fn version() -> &'static str {
    // SAFETY: static text, never NULL.
    unsafe { CStr::from_ptr(sys::cq_version()) }
        .to_str()
        .unwrap_or("")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() || self.detail == self.description() {
            write!(f, "{} ({})", self.description(), self.code)
        } else {
            write!(f, "{} ({}): {}", self.description(), self.code, self.detail)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cqueue::Error({self})")
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[inline]
pub(crate) fn check(rc: c_int) -> Result<c_int> {
    if rc < 0 {
        Err(Error::last(rc))
    } else {
        Ok(rc)
    }
}

/// C timeout: `None` = forever, otherwise nanoseconds (saturating).
pub(crate) fn timeout_ns(t: Option<Duration>) -> i64 {
    match t {
        None => sys::CQ_WAIT_FOREVER,
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}

fn c_name(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::new(code::INVAL, "name contains a NUL byte"))
}

/// Options for [`Queue::open`]; builder style.
#[derive(Clone, Copy, Debug)]
pub struct QueueOptions {
    raw: sys::cq_queue_options,
}

impl Default for QueueOptions {
    fn default() -> Self {
        let mut raw = sys::cq_queue_options::default();
        // SAFETY: raw is a valid, writable cq_queue_options.
        unsafe { sys::cq_queue_options_init(&mut raw) };
        QueueOptions { raw }
    }
}

impl QueueOptions {
    pub fn new() -> Self {
        Self::default()
    }
    /// Create the queue if it does not exist.
    pub fn create(mut self, yes: bool) -> Self {
        self.set(sys::CQ_CREATE, yes);
        self
    }
    /// With `create`: fail with `EXIST` if it exists.
    pub fn exclusive(mut self, yes: bool) -> Self {
        self.set(sys::CQ_EXCL, yes);
        self
    }
    pub fn capacity(mut self, n: u32) -> Self {
        self.raw.capacity = n;
        self
    }
    pub fn max_message_size(mut self, n: u32) -> Self {
        self.raw.max_message_size = n;
        self
    }
    pub fn mode(mut self, m: u32) -> Self {
        self.raw.mode = m;
        self
    }
    fn set(&mut self, flag: u32, on: bool) {
        if on {
            self.raw.flags |= flag
        } else {
            self.raw.flags &= !flag
        }
    }
}

pub type QueueStats = sys::cq_queue_stats;

/// An open shared-memory queue. Closed on drop; the queue itself stays until
/// [`Queue::unlink`].
pub struct Queue {
    raw: ptr::NonNull<sys::cq_queue>,
    max_message_size: usize,
}

// SAFETY (Send): a cq_queue handle belongs to the process, not to the thread that
// opened it (queue.h: "may be used by any number of threads of the process that
// opened it"); moving it to another thread, and closing it there, is allowed.
// The one restriction, no use in a fork() child, is not something Send speaks of
// (and the library refuses it with CQ_EPERM rather than misbehaving).
unsafe impl Send for Queue {}
// SAFETY (Sync): every queue operation is thread-safe on one handle at once
// (queue.h, thread safety), and &self methods only pass the handle to them;
// close needs `self` by value or Drop, which exclude concurrent use.
unsafe impl Sync for Queue {}

impl Queue {
    /// Open (with `create`, create) the queue `name` (see `cq_open`).
    pub fn open(name: &str, opts: &QueueOptions) -> Result<Queue> {
        let cname = c_name(name)?;
        let mut q = ptr::null_mut();
        // SAFETY: valid C string, options and out pointer.
        check(unsafe { sys::cq_open(cname.as_ptr(), &opts.raw, &mut q) })?;
        let raw = ptr::NonNull::new(q).ok_or_else(|| Error::new(code::INVAL, "NULL handle"))?;
        let mut queue = Queue {
            raw,
            max_message_size: 0,
        };
        queue.max_message_size = queue.stats()?.max_message_size as usize;
        Ok(queue)
    }

    /// Remove the name; open handles keep working.
    pub fn unlink(name: &str) -> Result<()> {
        let cname = c_name(name)?;
        // SAFETY: valid C string.
        check(unsafe { sys::cq_unlink(cname.as_ptr()) }).map(drop)
    }

    /// The largest message this queue holds.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The C handle (still owned by `self`).
    pub fn as_raw(&self) -> *mut sys::cq_queue {
        self.raw.as_ptr()
    }

    /// Enqueue one message; `Err` with code `FULL` when there is no room. Never blocks.
    pub fn enqueue(&self, msg: &[u8]) -> Result<()> {
        // SAFETY: msg is valid for msg.len() bytes; the handle is open.
        check(unsafe { sys::cq_enqueue(self.as_raw(), msg.as_ptr().cast(), msg.len()) }).map(drop)
    }

    /// Enqueue, waiting while full; `None` waits forever, otherwise `TIMEDOUT`.
    pub fn enqueue_wait(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        // SAFETY: as enqueue.
        check(unsafe {
            sys::cq_enqueue_wait(
                self.as_raw(),
                msg.as_ptr().cast(),
                msg.len(),
                timeout_ns(timeout),
            )
        })
        .map(drop)
    }

    /// Dequeue into `buf`, returning the length. `EMPTY`, or `MSGSIZE` when the
    /// message does not fit (it stays queued).
    pub fn dequeue_into(&self, buf: &mut [u8]) -> Result<usize> {
        let mut len = 0usize;
        // SAFETY: buf is writable for buf.len() bytes; len is a valid out pointer.
        check(unsafe {
            sys::cq_dequeue(self.as_raw(), buf.as_mut_ptr().cast(), buf.len(), &mut len)
        })?;
        Ok(len)
    }

    /// Dequeue one message (`EMPTY` when there is none). Never blocks.
    pub fn dequeue(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.max_message_size];
        let n = self.dequeue_into(&mut v)?;
        v.truncate(n);
        Ok(v)
    }

    /// Dequeue into `buf`, waiting while empty.
    pub fn dequeue_wait_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        let mut len = 0usize;
        // SAFETY: as dequeue_into.
        check(unsafe {
            sys::cq_dequeue_wait(
                self.as_raw(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut len,
                timeout_ns(timeout),
            )
        })?;
        Ok(len)
    }

    /// Dequeue one message, waiting while empty (`None` = forever, else `TIMEDOUT`).
    pub fn dequeue_wait(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.max_message_size];
        let n = self.dequeue_wait_into(&mut v, timeout)?;
        v.truncate(n);
        Ok(v)
    }

    /// Enqueue messages in order with one link; returns how many (a prefix) went in.
    pub fn enqueue_batch(&self, msgs: &[&[u8]]) -> Result<usize> {
        let iov: Vec<sys::cq_iov> = msgs
            .iter()
            .map(|m| sys::cq_iov {
                data: m.as_ptr().cast(),
                len: m.len(),
            })
            .collect();
        // SAFETY: every iov points into a live slice for this call.
        check(unsafe { sys::cq_enqueue_batch(self.as_raw(), iov.as_ptr(), iov.len()) })
            .map(|n| n as usize)
    }

    /// Counters of the queue.
    pub fn stats(&self) -> Result<QueueStats> {
        let mut s = QueueStats {
            struct_size: std::mem::size_of::<QueueStats>() as u32,
            ..Default::default()
        };
        // SAFETY: s is a valid cq_queue_stats with struct_size set.
        check(unsafe { sys::cq_stats(self.as_raw(), &mut s) })?;
        Ok(s)
    }

    /// Return nodes held by dead processes; the number reclaimed.
    pub fn recover(&self) -> Result<u64> {
        let mut n = 0u64;
        // SAFETY: valid handle and out pointer.
        check(unsafe { sys::cq_recover(self.as_raw(), &mut n) })?;
        Ok(n)
    }

    /// End the `enqueue_wait` / `dequeue_wait` calls on this queue in progress in
    /// other threads: they return `code::CANCELED`. Later waits are not affected.
    pub fn interrupt(&self) -> Result<()> {
        // SAFETY: valid handle; cq_interrupt is thread-safe.
        check(unsafe { sys::cq_interrupt(self.as_raw()) }).map(|_| ())
    }

    /// Close now, reporting the result (drop ignores it).
    pub fn close(self) -> Result<()> {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        // SAFETY: the handle is open and no longer reachable from Rust.
        check(unsafe { sys::cq_close(raw) }).map(drop)
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: the handle is open; &mut self means no other use is in progress.
        unsafe { sys::cq_close(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

// Keep helpers used by pool.rs and broker.rs in one place.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    panic::catch_unwind(AssertUnwindSafe(f))
}

pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}
