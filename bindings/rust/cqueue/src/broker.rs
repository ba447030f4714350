//! The broker: durable publish/subscribe over memory-mapped logs in a directory.
use crate::{catch, check, code, panic_text, sys, timeout_ns, Error, Pool, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn c_str(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(code::INVAL, format!("{what} contains a NUL byte")))
}

/// Options for [`Broker::open`]; builder style (defaults of `cq_broker_options_init`).
#[derive(Clone, Copy, Debug)]
pub struct BrokerOptions {
    raw: sys::cq_broker_options,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl BrokerOptions {
    pub fn new() -> Self {
        let mut raw = MaybeUninit::<sys::cq_broker_options>::zeroed();
        // SAFETY: _init fills the whole struct.
        unsafe { sys::cq_broker_options_init(raw.as_mut_ptr()) };
        BrokerOptions {
            // SAFETY: initialised just above (and zeroed before).
            raw: unsafe { raw.assume_init() },
        }
    }
    /// `sys::CQ_FSYNC_NONE`, `_INTERVAL`, `_GROUP` or `_ALWAYS`.
    pub fn fsync_policy(mut self, p: u32) -> Self {
        self.raw.fsync_policy = p;
        self
    }
    pub fn fsync_interval(mut self, d: Duration) -> Self {
        self.raw.fsync_interval_ms = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        self
    }
    /// `sys::CQ_OVERFLOW_BLOCK`, `_FAIL` or `_DROP`.
    pub fn overflow_policy(mut self, p: u32) -> Self {
        self.raw.overflow_policy = p;
        self
    }
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.raw.segment_size = bytes;
        self
    }
    pub fn retention_bytes(mut self, bytes: u64) -> Self {
        self.raw.retention_bytes = bytes;
        self
    }
    pub fn retention_age(mut self, d: Duration) -> Self {
        self.raw.retention_age_ns = timeout_ns(Some(d));
        self
    }
    pub fn block_timeout(mut self, d: Duration) -> Self {
        self.raw.block_timeout_ns = timeout_ns(Some(d));
        self
    }
    pub fn hole_timeout(mut self, d: Duration) -> Self {
        self.raw.hole_timeout_ns = timeout_ns(Some(d));
        self
    }
    pub fn mode(mut self, m: u32) -> Self {
        self.raw.mode = m;
        self
    }
}

/// Where a subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Durable: after the last ack; otherwise the next record published (or the
    /// oldest retained with [`SubscribeOptions::earliest`]).
    Default,
    Earliest,
    Latest,
    /// This offset in each matching topic.
    Offset(u64),
    /// The first record at or after this CLOCK_REALTIME time, in ns.
    Time(i64),
}

/// What [`Broker::subscribe`] subscribes to, and how.
#[derive(Clone, Debug)]
pub struct SubscribeOptions {
    pattern: String,
    subscriber_id: Option<String>,
    flags: u32,
    start: Start,
}

impl SubscribeOptions {
    /// A topic, or a pattern with `*` (one token) and a final `>` (one or more).
    pub fn new(pattern: &str) -> Self {
        SubscribeOptions {
            pattern: pattern.to_owned(),
            subscriber_id: None,
            flags: 0,
            start: Start::Default,
        }
    }
    /// Durable, with this subscriber id: resumes after its acknowledged offsets.
    pub fn durable(mut self, id: &str) -> Self {
        self.subscriber_id = Some(id.to_owned());
        self.flags |= sys::CQ_SUB_DURABLE;
        self
    }
    /// A new subscription starts at the oldest retained record (`CQ_SUB_EARLIEST`).
    pub fn earliest(mut self) -> Self {
        self.flags |= sys::CQ_SUB_EARLIEST;
        self
    }
    pub fn start(mut self, s: Start) -> Self {
        self.start = s;
        self
    }
}

/// Counters of a broker handle and of its directory.
pub type BrokerStats = sys::cq_broker_stats;
/// Counters of one subscription for one topic.
pub type SubscriptionStats = sys::cq_subscription_stats;

/// An open broker directory. Closed on drop; its [`Subscription`]s borrow it, so
/// they are always dropped first (as `broker_close` requires).
pub struct Broker {
    b: *mut sys::cq_broker,
}

// SAFETY: broker.h: "a cq_broker may be used by any number of threads at once";
// nothing here is tied to the opening thread.
unsafe impl Send for Broker {}
// SAFETY: as above: every &self method is a C call the library makes thread-safe.
unsafe impl Sync for Broker {}

impl Broker {
    /// Open (creating if missing) the broker directory `dir`.
    pub fn open(dir: impl AsRef<Path>, opts: &BrokerOptions) -> Result<Broker> {
        let dir = dir
            .as_ref()
            .to_str()
            .ok_or_else(|| Error::new(code::INVAL, "directory is not UTF-8"))?;
        let cdir = c_str(dir, "directory")?;
        let mut b = ptr::null_mut();
        // SAFETY: valid C string, options and out pointer.
        check(unsafe { sys::broker_open(cdir.as_ptr(), &opts.raw, &mut b) })?;
        Ok(Broker { b })
    }

    /// The C handle, still owned by `self`.
    pub fn as_raw(&self) -> *mut sys::cq_broker {
        self.b
    }

    /// Append one record to `topic`; returns its offset.
    pub fn publish(&self, topic: &str, data: &[u8]) -> Result<u64> {
        let t = c_str(topic, "topic")?;
        let mut off = 0u64;
        // SAFETY: data is valid for len bytes during the call.
        check(unsafe {
            sys::broker_publish(
                self.b,
                t.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                &mut off,
            )
        })?;
        Ok(off)
    }

    /// Append records with consecutive offsets; returns (first offset, count appended).
    /// The count is smaller than `msgs.len()` when an error stopped it after some.
    pub fn publish_batch(&self, topic: &str, msgs: &[&[u8]]) -> Result<(u64, usize)> {
        let t = c_str(topic, "topic")?;
        let iov: Vec<sys::cq_iov> = msgs
            .iter()
            .map(|m| sys::cq_iov {
                data: m.as_ptr().cast(),
                len: m.len(),
            })
            .collect();
        let mut first = 0u64;
        // SAFETY: iov points into msgs, alive during the call.
        let n = check(unsafe {
            sys::broker_publish_batch(self.b, t.as_ptr(), iov.as_ptr(), iov.len(), &mut first)
        })?;
        Ok((first, n as usize))
    }

    /// Subscribe to the topics matching the pattern of `opts`, now and created later.
    pub fn subscribe(&self, opts: &SubscribeOptions) -> Result<Subscription<'_>> {
        let mut s = ptr::null_mut();
        // SAFETY: the strings outlive the call (the library copies them).
        check(opts.with_raw(|raw| unsafe { sys::broker_subscribe_ex(self.b, raw, &mut s) })?)?;
        Ok(Subscription {
            s,
            last: None,
            _broker: PhantomData,
        })
    }

    pub fn stats(&self) -> Result<BrokerStats> {
        let mut st = BrokerStats {
            struct_size: std::mem::size_of::<BrokerStats>() as u32,
            ..Default::default()
        };
        // SAFETY: struct_size set, out valid.
        check(unsafe { sys::broker_stats(self.b, &mut st) })?;
        Ok(st)
    }

    /// The topics in the directory.
    pub fn topics(&self) -> Result<Vec<String>> {
        Ok(self
            .text(sys::broker_topics)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Every metric, in the Prometheus text exposition format.
    pub fn metrics(&self) -> Result<String> {
        self.text(sys::broker_metrics)
    }

    fn text(
        &self,
        f: unsafe extern "C" fn(*mut sys::cq_broker, *mut c_char, usize, *mut usize) -> i32,
    ) -> Result<String> {
        let mut buf = vec![0u8; 4096];
        loop {
            let mut needed = 0usize;
            // SAFETY: buf is valid for its length.
            let rc = unsafe { f(self.b, buf.as_mut_ptr().cast(), buf.len(), &mut needed) };
            if rc == code::MSGSIZE && needed > buf.len() {
                buf.resize(needed, 0);
                continue;
            }
            check(rc)?;
            let s = CStr::from_bytes_until_nul(&buf)
                .map_err(|_| Error::new(code::CORRUPT, "text not NUL-terminated"))?;
            return Ok(s.to_string_lossy().into_owned());
        }
    }

    /// Close now, reporting a failed final fdatasync (drop ignores it).
    pub fn close(self) -> Result<()> {
        let b = self.b;
        std::mem::forget(self);
        // SAFETY: no subscription borrows self any more (we own it).
        check(unsafe { sys::broker_close(b) }).map(|_| ())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // SAFETY: every Subscription borrowing self was dropped before.
        unsafe { sys::broker_close(self.b) };
    }
}

/// One delivered record, borrowed from its subscription until the next poll.
#[derive(Clone, Copy, Debug)]
pub struct Message<'s> {
    pub offset: u64,
    /// CLOCK_REALTIME at publish, in ns.
    pub timestamp_ns: i64,
    pub topic: &'s str,
    pub data: &'s [u8],
}

impl SubscribeOptions {
    /// Calls f with the C view of these options (its strings live during the call).
    fn with_raw<R>(&self, f: impl FnOnce(&sys::cq_subscribe_options) -> R) -> Result<R> {
        let pattern = c_str(&self.pattern, "pattern")?;
        let id = self
            .subscriber_id
            .as_deref()
            .map(|i| c_str(i, "subscriber id"))
            .transpose()?;
        let (start, start_value) = match self.start {
            Start::Default => (sys::CQ_START_DEFAULT, 0),
            Start::Earliest => (sys::CQ_START_EARLIEST, 0),
            Start::Latest => (sys::CQ_START_LATEST, 0),
            Start::Offset(o) => (sys::CQ_START_OFFSET, i64::try_from(o).unwrap_or(i64::MAX)),
            Start::Time(t) => (sys::CQ_START_TIME, t),
        };
        let raw = sys::cq_subscribe_options {
            flags: self.flags,
            pattern: pattern.as_ptr(),
            subscriber_id: id.as_ref().map_or(ptr::null(), |i| i.as_ptr()),
            start,
            start_value,
            ..Default::default()
        };
        Ok(f(&raw))
    }
}

/// A subscription of a [`Broker`]; unsubscribes (persisting pending acks) on drop.
///
/// `Send` but not `Sync`: broker.h says a `cq_subscription` is used by one thread
/// at a time. Moving it to another thread is fine (nothing in it is tied to the
/// thread that subscribed, and the broker it borrows is `Sync`), but sharing
/// `&Subscription` between threads would let two of them call into it at once
/// — so every call takes `&mut self` anyway and the type is not `Sync`. `poll`
/// takes `&mut self` for a second reason: the [`Message`] it returns borrows the
/// subscription, so no later poll can run while it is alive (its data would be
/// invalidated by that poll).
///
/// ```compile_fail
/// fn is_sync<T: Sync>() {}
/// is_sync::<cqueue::Subscription<'static>>();
/// ```
pub struct Subscription<'b> {
    s: *mut sys::cq_subscription,
    /// Topic (library-owned, valid until the next poll) and offset of the last record.
    last: Option<(*const c_char, u64)>,
    _broker: PhantomData<&'b Broker>,
}

// SAFETY: see the type's documentation: one thread at a time, any thread.
unsafe impl Send for Subscription<'_> {}

impl Subscription<'_> {
    /// The C handle, still owned by `self`.
    pub fn as_raw(&self) -> *mut sys::cq_subscription {
        self.s
    }

    /// The next record of any matching topic, waiting up to `timeout` (`None`:
    /// forever). `Ok(None)` when nothing came in time.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<Option<Message<'_>>> {
        let mut m = MaybeUninit::<sys::cq_message>::zeroed();
        // SAFETY: m is valid; self is used by this thread only (&mut).
        let rc = unsafe { sys::broker_poll(self.s, m.as_mut_ptr(), timeout_ns(timeout)) };
        self.last = None;
        if rc == code::TIMEDOUT {
            return Ok(None);
        }
        check(rc)?;
        // SAFETY: filled by a successful poll.
        let m = unsafe { m.assume_init() };
        self.last = Some((m.topic, m.offset));
        Ok(Some(unsafe { message(&m) }))
    }

    /// Up to `max` records in one call, waiting up to `timeout` (`None`: forever) for
    /// the first; empty when nothing came in time. The views borrow the subscription.
    pub fn poll_batch(
        &mut self,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Message<'_>>> {
        self.last = None;
        if max == 0 {
            return Err(Error::new(code::INVAL, "poll_batch: max is 0"));
        }
        let mut raw: Vec<sys::cq_message> = Vec::with_capacity(max);
        // SAFETY: raw has room for max messages; the library fills the first rc.
        let rc =
            unsafe { sys::broker_poll_batch(self.s, raw.as_mut_ptr(), max, timeout_ns(timeout)) };
        if rc == code::TIMEDOUT {
            return Ok(Vec::new());
        }
        let n = check(rc)? as usize;
        // SAFETY: the first n elements were written by the successful call.
        unsafe { raw.set_len(n.min(max)) };
        self.last = raw.last().map(|m| (m.topic, m.offset));
        // SAFETY: filled by a successful poll; the views end with the borrow of self.
        Ok(raw.iter().map(|m| unsafe { message(m) }).collect())
    }

    /// Acknowledge every record of `topic` up to and including `offset`.
    pub fn ack(&mut self, topic: &str, offset: u64) -> Result<()> {
        let t = c_str(topic, "topic")?;
        // SAFETY: valid handle and string.
        check(unsafe { sys::broker_ack(self.s, t.as_ptr(), offset) }).map(|_| ())
    }

    /// Acknowledge the record the last `poll` returned (and what came before it in
    /// its topic), without copying its topic.
    pub fn ack_last(&mut self) -> Result<()> {
        let (t, off) = self
            .last
            .ok_or_else(|| Error::new(code::INVAL, "no record polled since the last poll"))?;
        // SAFETY: the topic text stays valid until the next poll, which clears `last`.
        check(unsafe { sys::broker_ack(self.s, t, off) }).map(|_| ())
    }

    /// Move the cursor of `topic` (`None`: every topic) to `offset`.
    pub fn seek(&mut self, topic: Option<&str>, offset: u64) -> Result<()> {
        let t = topic.map(|t| c_str(t, "topic")).transpose()?;
        // SAFETY: valid handle; NULL topic means every topic.
        check(unsafe {
            sys::broker_seek(
                self.s,
                t.as_ref().map_or(ptr::null(), |t| t.as_ptr()),
                offset,
            )
        })
        .map(|_| ())
    }

    /// Move every cursor to the first record at or after `timestamp_ns` (CLOCK_REALTIME).
    pub fn seek_time(&mut self, timestamp_ns: i64) -> Result<()> {
        // SAFETY: valid handle.
        check(unsafe { sys::broker_seek_time(self.s, timestamp_ns) }).map(|_| ())
    }

    /// Counters for one topic (`code::NOENT` if the subscription has no such topic).
    pub fn stats(&mut self, topic: &str) -> Result<SubscriptionStats> {
        let t = c_str(topic, "topic")?;
        let mut st = SubscriptionStats {
            struct_size: std::mem::size_of::<SubscriptionStats>() as u32,
            ..Default::default()
        };
        // SAFETY: struct_size set, out valid.
        check(unsafe { sys::broker_subscription_stats(self.s, t.as_ptr(), &mut st) })?;
        Ok(st)
    }

    /// Unsubscribe now, reporting an error persisting the acks (drop ignores it).
    pub fn unsubscribe(self) -> Result<()> {
        let s = self.s;
        std::mem::forget(self);
        // SAFETY: we own the handle; it is not used again.
        check(unsafe { sys::broker_unsubscribe(s) }).map(|_| ())
    }
}

/// A borrowed view of a delivered record.
///
/// # Safety
/// `m` must come from a successful poll; the view must not outlive the next poll.
unsafe fn message<'a>(m: &sys::cq_message) -> Message<'a> {
    let topic = if m.topic.is_null() {
        ""
    } else {
        // Topic names are ASCII tokens (broker.h), so valid UTF-8.
        CStr::from_ptr(m.topic).to_str().unwrap_or("")
    };
    let data = if m.len == 0 {
        &[][..]
    } else {
        std::slice::from_raw_parts(m.data.cast::<u8>(), m.len)
    };
    Message {
        offset: m.offset,
        timestamp_ns: m.timestamp_ns,
        topic,
        data,
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        // SAFETY: owned handle, not used again.
        unsafe { sys::broker_unsubscribe(self.s) };
    }
}

type RecordHandler = Box<dyn FnMut(&Message<'_>) -> bool + Send + 'static>;
type BatchHandler = Box<dyn FnMut(&[Message<'_>]) -> usize + Send + 'static>;

enum PushHandler {
    Record(Mutex<RecordHandler>),
    Batch(Mutex<BatchHandler>),
}

/// What the library's push trampolines reach through their context pointer.
struct PushState {
    handler: PushHandler,
    failures: AtomicU64,
    last_panic: Mutex<Option<String>>,
}

impl PushState {
    fn new(handler: PushHandler) -> PushState {
        PushState {
            handler,
            failures: AtomicU64::new(0),
            last_panic: Mutex::new(None),
        }
    }

    fn panicked(&self, p: Box<dyn std::any::Any + Send>) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let text = panic_text(&*p);
        // Dropping the payload may itself panic; keep that in too.
        let _ = catch(move || drop(p));
        if let Ok(mut last) = self.last_panic.lock() {
            *last = Some(text);
        }
    }
}

// The trampolines: no panic unwinds out of them into the library's frames.
unsafe extern "C" fn on_record(ctx: *mut c_void, m: *const sys::cq_message) -> c_int {
    // SAFETY: ctx is the PushState that PushSubscription keeps until unsubscribe returned.
    let st = unsafe { &*(ctx as *const PushState) };
    let PushHandler::Record(handler) = &st.handler else {
        return 1;
    };
    // SAFETY: the library passes a record valid during this call.
    let msg = unsafe { message(&*m) };
    match catch(|| (handler.lock().unwrap_or_else(|e| e.into_inner()))(&msg)) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            st.panicked(p);
            1
        }
    }
}

unsafe extern "C" fn on_batch(ctx: *mut c_void, m: *const sys::cq_message, n: usize) -> usize {
    // SAFETY: as in on_record.
    let st = unsafe { &*(ctx as *const PushState) };
    let PushHandler::Batch(handler) = &st.handler else {
        return 0;
    };
    // SAFETY: the library passes n (1..64) records valid during this call.
    let raw = unsafe { std::slice::from_raw_parts(m, n) };
    let msgs: Vec<Message<'_>> = raw.iter().map(|r| unsafe { message(r) }).collect();
    match catch(|| (handler.lock().unwrap_or_else(|e| e.into_inner()))(&msgs)) {
        Ok(k) => k,
        Err(p) => {
            st.panicked(p);
            0 // the first record failed; the rest come again
        }
    }
}

/// A push subscription: the library's dispatcher thread hands the records to a
/// handler on a [`Pool`]'s workers, in order, one job per run of up to 64 records.
/// Unsubscribes on drop (after the job in flight).
///
/// It holds its broker and pool by `Arc`, so both outlive it even if it is leaked
/// (`mem::forget`): the library requires a subscription to end before its broker
/// is closed, and push delivery submits to the pool until it ends.
///
/// Handler semantics (broker.h): a record whose handler returned `false` or
/// panicked is not acknowledged, nor is anything after it in its topic for the
/// rest of this subscription's life (a durable subscriber gets it again when it
/// subscribes next); delivery goes on. A batch handler returns how many leading
/// records it handled: the record at that index failed, and the ones after it
/// come again in the next call; a panic counts as 0. Panics are caught at the
/// trampoline and counted ([`PushSubscription::handler_failures`]).
pub struct PushSubscription {
    s: *mut sys::cq_subscription,
    state: Box<PushState>,
    _broker: Arc<Broker>,
    _pool: Arc<Pool>,
}

// SAFETY: the handle is only used to unsubscribe, which takes `self` (Drop or
// unsubscribe); the state is Sync (atomics and mutexes; the handlers are Send).
unsafe impl Send for PushSubscription {}
unsafe impl Sync for PushSubscription {}

impl PushSubscription {
    /// Push delivery, one record per call of `handler` (`false`: failed).
    pub fn per_record<F>(
        broker: &Arc<Broker>,
        opts: &SubscribeOptions,
        pool: &Arc<Pool>,
        handler: F,
    ) -> Result<PushSubscription>
    where
        F: FnMut(&Message<'_>) -> bool + Send + 'static,
    {
        let state = PushState::new(PushHandler::Record(Mutex::new(Box::new(handler))));
        Self::start(broker, opts, pool, state)
    }

    /// Push delivery in runs of up to 64 records per call of `handler`, which returns
    /// how many leading records it handled.
    pub fn batched<F>(
        broker: &Arc<Broker>,
        opts: &SubscribeOptions,
        pool: &Arc<Pool>,
        handler: F,
    ) -> Result<PushSubscription>
    where
        F: FnMut(&[Message<'_>]) -> usize + Send + 'static,
    {
        let state = PushState::new(PushHandler::Batch(Mutex::new(Box::new(handler))));
        Self::start(broker, opts, pool, state)
    }

    fn start(
        broker: &Arc<Broker>,
        opts: &SubscribeOptions,
        pool: &Arc<Pool>,
        state: PushState,
    ) -> Result<PushSubscription> {
        let state = Box::new(state);
        let ctx = &*state as *const PushState as *mut c_void;
        let mut s = ptr::null_mut();
        // SAFETY: valid handles and options (the library copies the strings); ctx
        // stays alive (boxed, owned by the returned value) until broker_unsubscribe
        // has returned.
        let rc = opts.with_raw(|raw| unsafe {
            if matches!(state.handler, PushHandler::Batch(_)) {
                sys::broker_subscribe_push_batch(
                    broker.as_raw(),
                    raw,
                    pool.as_raw(),
                    Some(on_batch),
                    ctx,
                    &mut s,
                )
            } else {
                sys::broker_subscribe_push(
                    broker.as_raw(),
                    raw,
                    pool.as_raw(),
                    Some(on_record),
                    ctx,
                    &mut s,
                )
            }
        })?;
        check(rc)?;
        Ok(PushSubscription {
            s,
            state,
            _broker: Arc::clone(broker),
            _pool: Arc::clone(pool),
        })
    }

    /// The C handle, still owned by `self`.
    pub fn as_raw(&self) -> *mut sys::cq_subscription {
        self.s
    }

    /// Handler calls that panicked.
    pub fn handler_failures(&self) -> u64 {
        self.state.failures.load(Ordering::Relaxed)
    }

    /// The text of the last panic of a handler, if any.
    pub fn last_panic(&self) -> Option<String> {
        self.state.last_panic.lock().ok().and_then(|p| p.clone())
    }

    /// Stop delivery now (after the job in flight), reporting an error persisting
    /// the acks (drop ignores it).
    pub fn unsubscribe(mut self) -> Result<()> {
        let s = std::mem::replace(&mut self.s, ptr::null_mut());
        // SAFETY: we own the handle; it is not used again (Drop sees null).
        check(unsafe { sys::broker_unsubscribe(s) }).map(|_| ())
    }
}

impl Drop for PushSubscription {
    fn drop(&mut self) {
        // SAFETY: owned handle (or null, which the library accepts); the state is
        // dropped after this, when no worker can call a handler any more.
        unsafe { sys::broker_unsubscribe(self.s) };
    }
}
