//! Pool job crossing cost, Rust closures: see bench/bindings/run.sh. Usage: bench_pool N
use cqueue::{Pool, PoolOptions};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), cqueue::Error> {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10000, |s| s.parse().unwrap());
    let pool = Pool::new(&PoolOptions::new().workers(1).queue_capacity(16384))?;
    let gate = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    pool.submit(move || while !g.load(Ordering::Acquire) {})?;
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let r = ran.clone();
        pool.submit(move || {
            r.fetch_add(1, Ordering::Relaxed);
        })?;
    }
    let t0 = Instant::now();
    gate.store(true, Ordering::Release);
    pool.shutdown(None)?;
    let dt = t0.elapsed();
    assert_eq!(ran.load(Ordering::Relaxed), n);
    println!(
        "rust   {n:6} jobs  {:8.0} ns/job",
        dt.as_nanos() as f64 / n as f64
    );
    Ok(())
}
