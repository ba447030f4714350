use cqueue::{code, sys, Broker, BrokerOptions, Start, SubscribeOptions, Subscription};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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
