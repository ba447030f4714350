//! Cross-language broker test participant in Rust: see bindings/xlang/run_xlang_broker.py.
use cqueue::{Broker, BrokerOptions, SubscribeOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const TOPIC: &str = "xlang.broker";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 8 {
        eprintln!("usage: xlang_broker MODE DIR TAG N TOTAL OUTFILE SYNCDIR");
        std::process::exit(2);
    }
    let (mode, dir, tag, outfile, sync) = (&a[1], &a[2], &a[3], &a[6], Path::new(&a[7]));
    let n: u64 = a[4].parse()?;
    let total: u64 = a[5].parse()?;
    let b = Broker::open(dir, &BrokerOptions::new())?;
    if mode == "publish" {
        for i in 0..n {
            b.publish(TOPIC, format!("{tag}:2:{i}").as_bytes())?;
        }
        return Ok(b.close()?);
    }
    let mut opts = SubscribeOptions::new(TOPIC).durable(&format!("xl-{tag}"));
    if mode == "run1" {
        opts = opts.earliest();
    }
    let mut sub = b.subscribe(&opts)?;
    if mode == "run1" {
        std::fs::write(sync.join(format!("{tag}.ready")), b"")?;
        while !sync.join("go").exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
        for i in 0..n {
            b.publish(TOPIC, format!("{tag}:1:{i}").as_bytes())?;
        }
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(outfile)?);
    for got in 0..total {
        let Some(m) = sub.poll(Some(Duration::from_secs(30)))? else {
            return Err(format!("only {got} of {total} records").into());
        };
        writeln!(out, "{} {}", m.offset, String::from_utf8_lossy(m.data))?;
        sub.ack_last()?;
    }
    while let Some(m) = sub.poll(Some(Duration::from_millis(300)))? {
        writeln!(out, "{} {}", m.offset, String::from_utf8_lossy(m.data))?;
    }
    out.flush()?;
    sub.unsubscribe()?;
    Ok(b.close()?)
}
