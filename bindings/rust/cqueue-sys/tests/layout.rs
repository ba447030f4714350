//! The handwritten declarations against the real library.
use core::ffi::CStr;
use core::mem::{offset_of, size_of, MaybeUninit};
use cqueue_sys::*;

#[test]
fn layouts_match_the_library() {
    // The library's _init functions write sizeof() of its own struct into struct_size.
    let mut q = MaybeUninit::<cq_queue_options>::zeroed();
    let mut p = MaybeUninit::<cq_pool_options>::zeroed();
    unsafe {
        cq_queue_options_init(q.as_mut_ptr());
        cq_pool_options_init(p.as_mut_ptr());
        assert_eq!(
            q.assume_init().struct_size as usize,
            size_of::<cq_queue_options>()
        );
        assert_eq!(
            p.assume_init().struct_size as usize,
            size_of::<cq_pool_options>()
        );
    }
    // sizeof() of the C structs on 64-bit Linux (gcc).
    assert_eq!(size_of::<cq_queue_stats>(), 72);
    assert_eq!(size_of::<cq_job>(), 48);
    assert_eq!(size_of::<cq_pool_stats>(), 96);
    assert_eq!(size_of::<cq_iov>(), 16);
    assert_eq!(size_of::<cq_rbuf>(), 24);
    // broker.h
    assert_eq!(size_of::<cq_message>(), 40);
    assert_eq!(offset_of!(cq_message, topic), 16);
    assert_eq!(size_of::<cq_broker_options>(), 64);
    assert_eq!(offset_of!(cq_broker_options, mode), 56);
    assert_eq!(size_of::<cq_subscribe_options>(), 40);
    assert_eq!(offset_of!(cq_subscribe_options, start), 24);
    assert_eq!(size_of::<cq_broker_stats>(), 72);
    assert_eq!(offset_of!(cq_broker_stats, sync_failed), 64);
    assert_eq!(size_of::<cq_subscription_stats>(), 72);
}

#[test]
fn broker_options_init_matches_the_macro() {
    let mut o = MaybeUninit::<cq_broker_options>::zeroed();
    unsafe {
        cq_broker_options_init(o.as_mut_ptr());
        let o = o.assume_init();
        assert_eq!(o.struct_size as usize, size_of::<cq_broker_options>());
        assert_eq!(o.fsync_policy, CQ_FSYNC_NONE);
        assert_eq!(o.fsync_interval_ms, 100);
        assert_eq!(o.overflow_policy, CQ_OVERFLOW_BLOCK);
        assert_eq!(o.segment_size, CQ_BROKER_DEFAULT_SEGMENT_SIZE as u64);
        assert_eq!(o.block_timeout_ns, 5_000_000_000);
        assert_eq!(o.hole_timeout_ns, 1_000_000_000);
        assert_eq!(o.mode, 0o600);
    }
}

#[test]
fn broker_stats_struct_sizes_are_accepted() {
    let dir = std::env::temp_dir().join(format!("cqsys-broker-{}", std::process::id()));
    let cdir = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    let topic = c"t";
    unsafe {
        let mut b = std::ptr::null_mut();
        assert_eq!(broker_open(cdir.as_ptr(), std::ptr::null(), &mut b), CQ_OK);
        let mut off = 99u64;
        assert_eq!(
            broker_publish(b, topic.as_ptr(), b"x".as_ptr().cast(), 1, &mut off),
            CQ_OK
        );
        assert_eq!(off, 0);
        let opts = cq_subscribe_options {
            pattern: topic.as_ptr(),
            start: CQ_START_EARLIEST,
            ..Default::default()
        };
        let mut s = std::ptr::null_mut();
        assert_eq!(broker_subscribe_ex(b, &opts, &mut s), CQ_OK);
        let mut m = MaybeUninit::<cq_message>::zeroed();
        assert_eq!(broker_poll(s, m.as_mut_ptr(), 5_000_000_000), CQ_OK);
        let m = m.assume_init();
        assert_eq!(m.offset, 0);
        assert_eq!(m.len, 1);
        assert_eq!(CStr::from_ptr(m.topic).to_bytes(), b"t");
        let mut ss = cq_subscription_stats {
            struct_size: size_of::<cq_subscription_stats>() as u32,
            ..Default::default()
        };
        assert_eq!(broker_subscription_stats(s, topic.as_ptr(), &mut ss), CQ_OK);
        assert_eq!(ss.next_offset, 1);
        assert_eq!(ss.end_offset, 1);
        let mut bs = cq_broker_stats {
            struct_size: size_of::<cq_broker_stats>() as u32,
            ..Default::default()
        };
        assert_eq!(broker_stats(b, &mut bs), CQ_OK);
        assert_eq!(bs.published, 1);
        assert_eq!(broker_unsubscribe(s), CQ_OK);
        assert_eq!(broker_close(b), CQ_OK);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stats_struct_size_is_accepted() {
    // cq_stats refuses a struct_size it does not know; ours must be the full size.
    let name = std::ffi::CString::new(format!("cqsys-{}", std::process::id())).unwrap();
    let mut opts = MaybeUninit::<cq_queue_options>::zeroed();
    unsafe {
        cq_queue_options_init(opts.as_mut_ptr());
        let mut opts = opts.assume_init();
        opts.flags = CQ_CREATE;
        opts.capacity = 4;
        let mut q = std::ptr::null_mut();
        assert_eq!(cq_open(name.as_ptr(), &opts, &mut q), CQ_OK);
        let mut s = cq_queue_stats {
            struct_size: size_of::<cq_queue_stats>() as u32,
            ..Default::default()
        };
        assert_eq!(cq_stats(q, &mut s), CQ_OK);
        assert_eq!(s.capacity, 4);
        assert_eq!(s.max_message_size, CQ_DEFAULT_MAX_MESSAGE_SIZE);
        assert_eq!(cq_close(q), CQ_OK);
        assert_eq!(cq_unlink(name.as_ptr()), CQ_OK);
    }
}

#[test]
fn strerror_and_version() {
    unsafe {
        let s = CStr::from_ptr(cq_strerror(CQ_EFULL));
        assert!(!s.to_bytes().is_empty());
        let v = CStr::from_ptr(cq_version());
        assert!(v.to_bytes().starts_with(b"1."), "major version 1");
    }
}
