//! Rust quick example (README): a queue and a pool job.
use cqueue::{Pool, PoolOptions, Queue, QueueOptions};
use std::time::Duration;

fn main() -> Result<(), cqueue::Error> {
    let name = format!("example-rust-{}", std::process::id());
    let q = Queue::open(&name, &QueueOptions::new().create(true).capacity(1024))?;
    q.enqueue(b"hello from Rust")?;
    let msg = q.dequeue_wait(Some(Duration::from_secs(1)))?;
    println!("{}", String::from_utf8_lossy(&msg));

    let pool = Pool::new(&PoolOptions::new().workers(2))?;
    pool.submit(|| println!("job ran"))?;
    pool.shutdown(None)?;
    Queue::unlink(&name)
}
