//! Puts the directory of libcqueue (found by cqueue-sys, passed as DEP_CQUEUE_LIB_DIR)
//! on the runtime path of this crate's tests and examples, so `cargo test` runs
//! without LD_LIBRARY_PATH. Binaries of other crates choose their own runtime path.
fn main() {
    if let Ok(dir) = std::env::var("DEP_CQUEUE_LIB_DIR") {
        println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg-examples=-Wl,-rpath,{dir}");
    }
}
