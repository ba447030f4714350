//! Finds libcqueue: pkg-config first (cqueue.pc), then the CQUEUE_LIB_DIR env var.
//! The directory is passed on to dependents as DEP_CQUEUE_LIB_DIR (links = "cqueue") so
//! their build scripts can put it on the runtime path of their tests and binaries.
use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=CQUEUE_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    if let Ok(dir) = env::var("CQUEUE_LIB_DIR") {
        // An explicit directory wins over pkg-config: it is how a build tree is tested.
        if !Path::new(&dir).join("libcqueue.so").exists()
            && !Path::new(&dir).join("libcqueue.so.1").exists()
        {
            panic!("CQUEUE_LIB_DIR={dir} holds no libcqueue.so");
        }
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-lib=dylib=cqueue");
        emit_dir(&dir);
        return;
    }
    match pkg_config::Config::new()
        .atleast_version("1.0")
        .probe("cqueue")
    {
        Ok(lib) => {
            if let Some(dir) = lib.link_paths.first() {
                emit_dir(&dir.display().to_string());
            }
        }
        Err(e) => panic!(
            "libcqueue not found: install it so that `pkg-config cqueue` works \
             (or set PKG_CONFIG_PATH), or set CQUEUE_LIB_DIR to the directory of \
             libcqueue.so.\npkg-config said: {e}"
        ),
    }
}

/// Tells dependents where the library is (DEP_CQUEUE_LIB_DIR) and puts it on the
/// runtime path of this crate's own tests.
fn emit_dir(dir: &str) {
    println!("cargo:lib_dir={dir}");
    println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
}
