use cqueue::{code, CancelToken, JobOptions, JobOutcome, Pool, PoolOptions, Queue, QueueOptions};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// The jobs below panic on purpose: keep those expected panics out of the output
/// (RUST_BACKTRACE makes each one a page long); every other panic is printed as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let expected = p.downcast_ref::<&str>() == Some(&"job broke")
                || p.downcast_ref::<u32>() == Some(&7)
                || p.downcast_ref::<&str>() == Some(&"must not run");
            if !expected {
                default(info)
            }
        }));
    });
}

fn name(what: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "cqrs-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

struct Unlink(String);
impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = Queue::unlink(&self.0);
    }
}

fn small(n: &str, cap: u32, max: u32) -> Queue {
    Queue::open(
        n,
        &QueueOptions::new()
            .create(true)
            .capacity(cap)
            .max_message_size(max),
    )
    .unwrap()
}

#[test]
fn round_trip_and_stats() {
    let n = Unlink(name("rt"));
    let q = small(&n.0, 8, 64);
    assert_eq!(q.max_message_size(), 64);
    q.enqueue(b"one").unwrap();
    q.enqueue_wait(b"two", Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(q.dequeue().unwrap(), b"one");
    assert_eq!(
        q.dequeue_wait(Some(Duration::from_secs(1))).unwrap(),
        b"two"
    );
    let s = q.stats().unwrap();
    assert_eq!((s.enqueued, s.dequeued, s.length), (2, 2, 0));
    q.close().unwrap();
}

#[test]
fn errors_carry_codes() {
    let n = Unlink(name("err"));
    let e = Queue::open(&n.0, &QueueOptions::new()).unwrap_err();
    assert_eq!(e.code(), code::NOENT);
    assert!(e.to_string().contains(cqueue::strerror(code::NOENT)));

    let q = small(&n.0, 2, 4);
    let e = Queue::open(&n.0, &QueueOptions::new().create(true).exclusive(true)).unwrap_err();
    assert_eq!(e.code(), code::EXIST);
    assert!(q.dequeue().unwrap_err().is_empty());
    assert_eq!(q.enqueue(b"too long").unwrap_err().code(), code::MSGSIZE);
    q.enqueue(b"a").unwrap();
    q.enqueue(b"b").unwrap();
    assert!(q.enqueue(b"c").unwrap_err().is_full());
    let mut tiny = [0u8; 0];
    assert_eq!(q.dequeue_into(&mut tiny).unwrap_err().code(), code::MSGSIZE);
    assert_eq!(q.dequeue().unwrap(), b"a"); // still queued after MSGSIZE
    assert_eq!(
        Queue::open("bad\0name", &QueueOptions::new())
            .unwrap_err()
            .code(),
        code::INVAL
    );
}

#[test]
fn interrupt_ends_a_wait_in_another_thread() {
    let n = Unlink(name("intr"));
    let q = small(&n.0, 1, 8);
    let done = std::sync::atomic::AtomicBool::new(false);
    let err = thread::scope(|s| {
        let waiter = s.spawn(|| {
            // 20 s: without the interrupt, a timeout error instead of a hang.
            let r = q.dequeue_wait(Some(Duration::from_secs(20)));
            done.store(true, Ordering::Release);
            r
        });
        // Interrupt until the wait ended (one before it started does not end it).
        for _ in 0..2000 {
            if done.load(Ordering::Acquire) {
                break;
            }
            q.interrupt().unwrap();
            thread::sleep(Duration::from_millis(5));
        }
        waiter.join().unwrap().unwrap_err()
    });
    assert_eq!(err.code(), code::CANCELED, "{err}");
    // Later waits are not affected.
    q.enqueue(b"x").unwrap();
    assert_eq!(q.dequeue_wait(Some(Duration::from_secs(5))).unwrap(), b"x");
}

#[test]
fn waits_time_out() {
    let n = Unlink(name("wait"));
    let q = small(&n.0, 1, 8);
    let t0 = Instant::now();
    assert!(q
        .dequeue_wait(Some(Duration::from_millis(30)))
        .unwrap_err()
        .is_timeout());
    assert!(t0.elapsed() >= Duration::from_millis(25));
    q.enqueue(b"x").unwrap();
    assert!(q
        .enqueue_wait(b"y", Some(Duration::from_millis(10)))
        .unwrap_err()
        .is_timeout());
}

#[test]
fn batch_enqueue() {
    let n = Unlink(name("batch"));
    let q = small(&n.0, 4, 8);
    assert_eq!(q.enqueue_batch(&[b"1", b"22", b"333"]).unwrap(), 3);
    assert_eq!(q.dequeue().unwrap(), b"1");
    assert_eq!(q.dequeue().unwrap(), b"22");
    assert_eq!(q.dequeue().unwrap(), b"333");
}

#[test]
fn threads_share_one_queue_every_message_once() {
    let n = Unlink(name("mt"));
    let q = Arc::new(small(&n.0, 64, 8));
    const PER: u32 = 2000;
    let mut hs = Vec::new();
    for p in 0..2u32 {
        let q = q.clone();
        hs.push(thread::spawn(move || {
            for i in 0..PER {
                q.enqueue_wait(&(p * PER + i).to_le_bytes(), Some(Duration::from_secs(5)))
                    .unwrap();
            }
            Vec::new()
        }));
    }
    for _ in 0..2 {
        let q = q.clone();
        hs.push(thread::spawn(move || {
            (0..PER)
                .map(|_| {
                    let m = q.dequeue_wait(Some(Duration::from_secs(5))).unwrap();
                    u32::from_le_bytes(m.try_into().unwrap())
                })
                .collect::<Vec<_>>()
        }));
    }
    let all: Vec<u32> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let set: HashSet<u32> = all.iter().copied().collect();
    assert_eq!(all.len(), 2 * PER as usize);
    assert_eq!(set.len(), 2 * PER as usize);
}

#[test]
fn pool_runs_closures_and_drains() {
    let pool = Pool::new(&PoolOptions::new().workers(2).queue_capacity(1024)).unwrap();
    let sum = Arc::new(AtomicU64::new(0));
    for i in 1..=100u64 {
        let sum = sum.clone();
        pool.submit(move || {
            sum.fetch_add(i, Ordering::Relaxed);
        })
        .unwrap();
    }
    assert!(pool.shutdown(Some(Duration::from_secs(5))).unwrap());
    assert_eq!(sum.load(Ordering::Relaxed), 5050);
    let s = pool.stats().unwrap();
    assert_eq!((s.completed, s.failed), (100, 0));
    assert_eq!(pool.submit(|| {}).unwrap_err().code(), code::CLOSED);
}

#[test]
fn panics_are_caught_and_reported() {
    quiet_expected_panics();
    let pool = Pool::new(&PoolOptions::new().workers(1)).unwrap();
    let (tx, rx) = mpsc::channel();
    pool.submit_with(
        || panic!("job broke"),
        JobOptions {
            on_done: Some(Box::new(move |o| tx.send(o).unwrap())),
            ..Default::default()
        },
    )
    .unwrap();
    pool.submit(|| std::panic::panic_any(7u32)).unwrap();
    assert!(pool.shutdown(Some(Duration::from_secs(5))).unwrap());
    assert_eq!(rx.recv().unwrap(), JobOutcome::Panicked("job broke".into()));
    assert_eq!(pool.stats().unwrap().failed, 2);
}

#[test]
fn cancelled_and_expired_jobs_do_not_run() {
    let pool = Pool::new(&PoolOptions::new().workers(1)).unwrap();
    let token = CancelToken::new().unwrap();
    token.cancel();
    assert!(token.is_cancelled());
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    pool.submit_with(
        || panic!("must not run"),
        JobOptions {
            cancel: Some(token.clone()),
            on_done: Some(Box::new(move |o| tx.send(o).unwrap())),
            ..Default::default()
        },
    )
    .unwrap();
    pool.submit_with(
        || panic!("must not run"),
        JobOptions {
            deadline: Some(Instant::now() - Duration::from_millis(1)),
            on_done: Some(Box::new(move |o| tx2.send(o).unwrap())),
            ..Default::default()
        },
    )
    .unwrap();
    drop(token); // the pool holds its own reference
    assert!(pool.shutdown(Some(Duration::from_secs(5))).unwrap());
    let mut got = vec![rx.recv().unwrap(), rx.recv().unwrap()];
    got.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(got, vec![JobOutcome::Cancelled, JobOutcome::Expired]);
}

#[test]
fn full_pool_refuses_and_drop_cancels_queued_jobs() {
    let cancelled = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Barrier::new(2));
    let (started_tx, started_rx) = mpsc::channel();
    {
        let pool = Pool::new(&PoolOptions::new().workers(1).queue_capacity(1)).unwrap();
        let cap = pool.stats().unwrap().queue_capacity as usize;
        let g = gate.clone();
        pool.submit(move || {
            started_tx.send(()).unwrap();
            g.wait();
        })
        .unwrap();
        started_rx.recv().unwrap();
        let mut accepted = 0;
        loop {
            let c = cancelled.clone();
            let r = pool.submit_with(
                || {},
                JobOptions {
                    on_done: Some(Box::new(move |o| {
                        if o == JobOutcome::Cancelled {
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                    })),
                    ..Default::default()
                },
            );
            match r {
                Ok(()) => accepted += 1,
                Err(e) => {
                    assert!(e.is_full(), "{e}");
                    break;
                }
            }
            assert!(accepted <= cap * 4, "never full");
        }
        assert!(accepted >= 1);
        let g = gate.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            g.wait();
        });
        drop(pool); // shutdown(0): queued jobs are cancelled once the running one returns
        t.join().unwrap();
    }
    assert!(cancelled.load(Ordering::Relaxed) >= 1);
}

#[test]
fn attached_queue_messages_reach_the_handler() {
    quiet_expected_panics();
    let n = Unlink(name("attach"));
    let q = Arc::new(small(&n.0, 256, 16));
    let handled = Arc::new(AtomicU64::new(0));
    let pool = Pool::new(&PoolOptions::new().workers(2)).unwrap();
    let h = handled.clone();
    pool.attach_queue(q.clone(), move |m| {
        if m == b"boom" {
            panic!("job broke");
        }
        assert_eq!(m, b"msg");
        h.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    let n2 = Unlink(name("attach2"));
    let q2 = Arc::new(small(&n2.0, 4, 8));
    assert_eq!(
        pool.attach_queue(q2, |_| {}).unwrap_err().code(),
        code::INVAL
    );
    for _ in 0..100 {
        q.enqueue_wait(b"msg", Some(Duration::from_secs(5)))
            .unwrap();
    }
    q.enqueue_wait(b"boom", Some(Duration::from_secs(5)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while (handled.load(Ordering::Relaxed) < 100 || pool.handler_failures() < 1)
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(handled.load(Ordering::Relaxed), 100);
    assert_eq!(pool.handler_failures(), 1);
    assert!(pool.shutdown(Some(Duration::from_secs(5))).unwrap());
    drop(pool);
    assert_eq!(q.stats().unwrap().length, 0);
}
