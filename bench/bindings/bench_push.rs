//! Push delivery cost per record, Rust batch handler: see bench/bindings/run.sh.
//! Usage: bench_push N (N records of 16 bytes published first, then delivered).
use cqueue::{Broker, BrokerOptions, Pool, PoolOptions, PushSubscription, SubscribeOptions};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

fn main() -> Result<(), cqueue::Error> {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().unwrap());
    let dir = std::env::temp_dir().join(format!("cq-bench-push-rs-{}", std::process::id()));
    let broker = Arc::new(Broker::open(&dir, &BrokerOptions::new())?);
    for _ in 0..n {
        broker.publish("bench", &[b'r'; 16])?;
    }
    let pool = Arc::new(Pool::new(&PoolOptions::new().workers(1))?);
    // (records, calls), and a condition variable the main thread sleeps on.
    let done = Arc::new((Mutex::new((0u64, 0u64)), Condvar::new()));
    let d = Arc::clone(&done);
    let t0 = Instant::now();
    let sub = PushSubscription::batched(
        &broker,
        &SubscribeOptions::new("bench").earliest(),
        &pool,
        move |msgs| {
            let mut g = d.0.lock().unwrap();
            g.0 += msgs.len() as u64;
            g.1 += 1;
            if g.0 >= n {
                d.1.notify_one();
            }
            msgs.len()
        },
    )?;
    let (got, calls) = {
        let g = done
            .1
            .wait_while(done.0.lock().unwrap(), |g| g.0 < n)
            .unwrap();
        *g
    };
    let dt = t0.elapsed();
    drop(sub);
    println!(
        "rust push batch: {:.0} ns/record ({got} records, {calls} handler calls)",
        dt.as_nanos() as f64 / n as f64
    );
    drop(pool);
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
