//! Cross-language test participant in Rust: see bindings/xlang/run_xlang.py for the protocol.
use cqueue::{Queue, QueueOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: xlang QUEUE TAG N OUTFILE SYNCDIR");
        std::process::exit(2);
    }
    let (name, tag, n, outfile, sync) = (
        &a[1],
        a[2].clone(),
        a[3].parse::<u32>()?,
        &a[4],
        Path::new(&a[5]),
    );
    let q = Arc::new(Queue::open(
        name,
        &QueueOptions::new()
            .create(true)
            .capacity(64)
            .max_message_size(64),
    )?);
    std::fs::write(sync.join(format!("{tag}.ready")), b"")?;
    while !sync.join("go").exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let produced_all = Arc::new(AtomicBool::new(false));
    let producer = {
        let (q, done) = (q.clone(), produced_all.clone());
        std::thread::spawn(move || -> cqueue::Result<()> {
            for i in 0..n {
                q.enqueue_wait(
                    format!("{tag}:{i}").as_bytes(),
                    Some(Duration::from_secs(10)),
                )?;
            }
            done.store(true, Ordering::Release);
            Ok(())
        })
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(outfile)?);
    let mut idle = Duration::ZERO;
    loop {
        match q.dequeue_wait(Some(Duration::from_millis(100))) {
            Ok(m) => {
                out.write_all(&m)?;
                out.write_all(b"\n")?;
                idle = Duration::ZERO;
            }
            Err(e) if e.is_timeout() => {
                if produced_all.load(Ordering::Acquire) {
                    idle += Duration::from_millis(100);
                    if idle >= Duration::from_millis(1500) {
                        break;
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    out.flush()?;
    producer.join().expect("producer panicked")?;
    Ok(())
}
