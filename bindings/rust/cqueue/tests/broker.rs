use cqueue::{
    code, sys, Broker, BrokerOptions, Pool, PoolOptions, PushSubscription, Start, SubscribeOptions,
    Subscription,
};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const WAIT: Option<Duration> = Some(Duration::from_secs(5));

/// A fresh broker directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "cqrs-broker-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_send<T: Send>() {}

#[test]
fn handles_are_send_and_broker_is_sync() {
    fn assert_sync<T: Sync>() {}
    assert_send::<Broker>();
    assert_sync::<Broker>();
    assert_send::<Subscription<'static>>();
}

#[test]
fn publish_returns_offsets_and_poll_delivers_in_order() {
    let d = TempDir::new("order");
    let b = Broker::open(&d.0, &BrokerOptions::new()).unwrap();
    let mut sub = b
        .subscribe(&SubscribeOptions::new("orders.>").earliest())
        .unwrap();
    assert_eq!(b.publish("orders.eu", b"zero").unwrap(), 0);
    assert_eq!(b.publish("orders.eu", b"one").unwrap(), 1);
    assert_eq!(
        b.publish("orders.us", b"").unwrap(),
        0,
        "offsets are per topic"
    );
    let mut eu = Vec::new();
    let mut us = 0;
    for _ in 0..3 {
        let m = sub.poll(WAIT).unwrap().expect("a record");
        assert!(m.timestamp_ns > 0);
        if m.topic == "orders.eu" {
            assert_eq!(m.offset, eu.len() as u64);
            eu.push(m.data.to_vec());
        } else {
            assert_eq!(m.topic, "orders.us");
            assert!(m.data.is_empty());
            us += 1;
        }
    }
    assert_eq!(eu, vec![b"zero".to_vec(), b"one".to_vec()]);
    assert_eq!(us, 1);
    assert!(sub.poll(Some(Duration::from_millis(10))).unwrap().is_none());
    let mut topics = b.topics().unwrap();
    topics.sort();
    assert_eq!(topics, vec!["orders.eu", "orders.us"]);
    assert_eq!(b.stats().unwrap().published, 3);
    assert!(b.metrics().unwrap().contains("orders"));
    drop(sub);
    b.close().unwrap();
}

#[test]
fn errors_carry_the_code() {
    let d = TempDir::new("err");
    let b = Broker::open(&d.0, &BrokerOptions::new()).unwrap();
    assert_eq!(
        b.publish("bad topic!", b"x").unwrap_err().code(),
        code::INVAL
    );
    assert_eq!(b.publish("a\0b", b"x").unwrap_err().code(), code::INVAL);
    let e = b
        .subscribe(&SubscribeOptions::new("a.b").durable("bad id!"))
        .err()
        .unwrap();
    assert_eq!(e.code(), code::INVAL);
    let mut s = b.subscribe(&SubscribeOptions::new("a.b")).unwrap();
    assert_eq!(s.stats("nope").unwrap_err().code(), code::NOENT);
    assert_eq!(s.ack_last().unwrap_err().code(), code::INVAL);
}

#[test]
fn batch_publish_has_consecutive_offsets() {
    let d = TempDir::new("batch");
    let b = Broker::open(&d.0, &BrokerOptions::new().segment_size(64 * 1024)).unwrap();
    b.publish("t", b"first").unwrap();
    let bodies: [&[u8]; 4] = [b"a", b"bb", b"ccc", b"dddd"];
    assert_eq!(b.publish_batch("t", &bodies).unwrap(), (1, 4));
    let mut sub = b
        .subscribe(&SubscribeOptions::new("t").start(Start::Offset(1)))
        .unwrap();
    for (i, body) in bodies.iter().enumerate() {
        let m = sub.poll(WAIT).unwrap().unwrap();
        assert_eq!(m.offset, 1 + i as u64);
        assert_eq!(&m.data, body);
    }
}

#[test]
fn durable_subscription_resumes_after_its_acks() {
    let d = TempDir::new("durable");
    {
        let b = Broker::open(&d.0, &BrokerOptions::new()).unwrap();
        let mut sub = b
            .subscribe(&SubscribeOptions::new("jobs").durable("worker-1").earliest())
            .unwrap();
        for i in 0..5 {
            b.publish("jobs", format!("r{i}").as_bytes()).unwrap();
        }
        for i in 0..3 {
            let m = sub.poll(WAIT).unwrap().unwrap();
            assert_eq!(m.offset, i);
            sub.ack_last().unwrap();
        }
        let st = sub.stats("jobs").unwrap();
        assert_eq!(st.acked_offset, 3);
        assert_eq!(st.durable, 1);
        sub.unsubscribe().unwrap();
    }
    let b = Broker::open(&d.0, &BrokerOptions::new()).unwrap();
    let mut sub = b
        .subscribe(&SubscribeOptions::new("jobs").durable("worker-1"))
        .unwrap();
    let m = sub.poll(WAIT).unwrap().unwrap();
    assert_eq!((m.offset, m.data), (3, &b"r3"[..]));
    sub.ack("jobs", 3).unwrap();
    assert_eq!(sub.poll(WAIT).unwrap().unwrap().offset, 4);
    sub.seek(Some("jobs"), 0).unwrap();
    assert_eq!(sub.poll(WAIT).unwrap().unwrap().offset, 0);
    sub.seek(None, 2).unwrap();
    assert_eq!(sub.poll(WAIT).unwrap().unwrap().offset, 2);
}

#[test]
fn threads_publish_through_one_handle_and_a_subscription_moves_threads() {
    let d = TempDir::new("mt");
    let b = Broker::open(
        &d.0,
        &BrokerOptions::new().fsync_policy(sys::CQ_FSYNC_GROUP),
    )
    .unwrap();
    let sub = b
        .subscribe(&SubscribeOptions::new("mt").earliest())
        .unwrap();
    const THREADS: u64 = 4;
    const EACH: u64 = 200;
    thread::scope(|s| {
        for t in 0..THREADS {
            let b = &b;
            s.spawn(move || {
                for i in 0..EACH {
                    b.publish("mt", (t * EACH + i).to_string().as_bytes())
                        .unwrap();
                }
            });
        }
        // The subscription is used by another thread (Send).
        let reader = s.spawn(move || {
            let mut sub = sub;
            let mut seen = HashSet::new();
            for i in 0..THREADS * EACH {
                let m = sub.poll(WAIT).unwrap().expect("a record");
                assert_eq!(m.offset, i);
                assert!(seen.insert(m.data.to_vec()));
            }
            seen.len()
        });
        assert_eq!(reader.join().unwrap(), (THREADS * EACH) as usize);
    });
    assert!(b.stats().unwrap().fsyncs >= 1);
}

fn wait_until(mut pred: impl FnMut() -> bool) -> bool {
    for _ in 0..10_000 {
        if pred() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    pred()
}

#[test]
fn poll_batch_returns_runs_and_ack_last_acknowledges_the_last_of_them() {
    let dir = TempDir::new("pollbatch");
    let b = Broker::open(&dir.0, &BrokerOptions::new()).unwrap();
    for i in 0..100u32 {
        b.publish("t", format!("r{i}").as_bytes()).unwrap();
    }
    let mut sub = b
        .subscribe(&SubscribeOptions::new("t").durable("batcher").earliest())
        .unwrap();
    let mut next = 0u64;
    while next < 100 {
        let got = sub.poll_batch(32, WAIT).unwrap();
        assert!(!got.is_empty() && got.len() <= 32);
        for m in &got {
            assert_eq!(m.offset, next);
            assert_eq!(m.data, format!("r{next}").as_bytes());
            next += 1;
        }
        if next == 64 {
            sub.ack_last().unwrap();
        }
    }
    assert!(sub
        .poll_batch(8, Some(Duration::from_millis(10)))
        .unwrap()
        .is_empty());
    assert_eq!(sub.poll_batch(0, WAIT).unwrap_err().code(), code::INVAL);
    drop(sub);
    let mut again = b
        .subscribe(&SubscribeOptions::new("t").durable("batcher"))
        .unwrap();
    assert_eq!(again.poll(WAIT).unwrap().unwrap().offset, 64);
}

#[test]
fn push_per_record_in_order_and_a_failed_record_is_redelivered_to_the_next_subscriber() {
    let dir = TempDir::new("push");
    let b = Arc::new(Broker::open(&dir.0, &BrokerOptions::new()).unwrap());
    let pool = Arc::new(Pool::new(&PoolOptions::new().workers(2)).unwrap());
    for i in 0..200u32 {
        b.publish("events", format!("e{i}").as_bytes()).unwrap();
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let push = PushSubscription::per_record(
        &b,
        &SubscribeOptions::new("events").durable("pusher").earliest(),
        &pool,
        move |m| {
            assert_eq!(m.data, format!("e{}", m.offset).as_bytes());
            s2.lock().unwrap().push(m.offset);
            if m.offset == 120 {
                panic!("boom at 120");
            }
            m.offset != 150 // false: failed
        },
    )
    .unwrap();
    assert!(wait_until(|| seen.lock().unwrap().len() >= 200));
    assert_eq!(push.handler_failures(), 1);
    assert!(push.last_panic().unwrap().contains("boom at 120"));
    // The pull API is refused on a push handle.
    let mut m = std::mem::MaybeUninit::<sys::cq_message>::zeroed();
    // SAFETY: a valid handle and message.
    let rc = unsafe { sys::broker_poll(push.as_raw(), m.as_mut_ptr(), 0) };
    assert_eq!(rc, code::PERM);
    push.unsubscribe().unwrap();
    // Each record once, in order: the rest of the job that panicked came again.
    assert_eq!(*seen.lock().unwrap(), (0..200).collect::<Vec<u64>>());
    // Acknowledged up to 119: the panic failed 120.
    let mut pull = b
        .subscribe(&SubscribeOptions::new("events").durable("pusher"))
        .unwrap();
    assert_eq!(pull.poll(WAIT).unwrap().unwrap().offset, 120);
}

#[test]
fn push_batched_gets_runs_and_a_short_return_redelivers_the_rest() {
    let dir = TempDir::new("pushbatch");
    let b = Arc::new(Broker::open(&dir.0, &BrokerOptions::new()).unwrap());
    let pool = Arc::new(Pool::new(&PoolOptions::new().workers(1)).unwrap());
    for i in 0..500u32 {
        b.publish("t", format!("r{i}").as_bytes()).unwrap();
    }
    let seen = Arc::new(Mutex::new((Vec::new(), Vec::new()))); // offsets, call sizes
    let s2 = Arc::clone(&seen);
    let mut refused = false;
    let push = PushSubscription::batched(
        &b,
        &SubscribeOptions::new("t").durable("batcher").earliest(),
        &pool,
        move |msgs| {
            let mut g = s2.lock().unwrap();
            g.1.push(msgs.len());
            for (i, m) in msgs.iter().enumerate() {
                g.0.push(m.offset);
                // Refuse 300 once: it fails, what came after it in the call comes again.
                if m.offset == 300 && !refused {
                    refused = true;
                    return i;
                }
            }
            msgs.len()
        },
    )
    .unwrap();
    assert!(wait_until(|| seen.lock().unwrap().0.last() == Some(&499)));
    drop(push);
    let g = seen.lock().unwrap();
    assert!(g.1.iter().all(|&n| (1..=64).contains(&n)));
    assert!(g.1.iter().any(|&n| n > 1), "runs, not single records");
    let want: Vec<u64> = (0..=300).chain(301..500).collect();
    assert_eq!(g.0, want);
    let mut pull = b
        .subscribe(&SubscribeOptions::new("t").durable("batcher"))
        .unwrap();
    assert_eq!(pull.poll(WAIT).unwrap().unwrap().offset, 300, "300 failed");
}

#[test]
fn push_subscription_is_send_and_sync_and_keeps_broker_and_pool_alive() {
    fn assert_sync<T: Sync>() {}
    assert_send::<PushSubscription>();
    assert_sync::<PushSubscription>();
    let dir = TempDir::new("pushlife");
    let b = Arc::new(Broker::open(&dir.0, &BrokerOptions::new()).unwrap());
    let pool = Arc::new(Pool::new(&PoolOptions::new().workers(1)).unwrap());
    let n = Arc::new(AtomicU64::new(0));
    let n2 = Arc::clone(&n);
    let push = PushSubscription::batched(&b, &SubscribeOptions::new("x"), &pool, move |m| {
        n2.fetch_add(m.len() as u64, Ordering::Relaxed);
        m.len()
    })
    .unwrap();
    let publisher = Arc::clone(&b);
    drop(b);
    drop(pool); // both still held by the subscription
    publisher.publish("x", b"one").unwrap();
    assert!(wait_until(|| n.load(Ordering::Relaxed) == 1));
    drop(push); // unsubscribes, then releases the pool and the broker
    assert_eq!(Arc::strong_count(&publisher), 1);
}
