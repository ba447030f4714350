//! The handwritten declarations against the real library.
use core::ffi::CStr;
use core::mem::{size_of, MaybeUninit};
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
