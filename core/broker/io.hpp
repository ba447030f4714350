// The broker's file operations, in one place so that tests can inject
// faults: fail the k-th operation with EIO or ENOSPC, and observe every
// successful fdatasync (a test keeps a copy of what was synced, "crashes" by
// putting the copies back, and so drops or tears unsynced writes).
//
// Not thread-safe to configure: tests set the hooks while no broker is open.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/util/errors.hpp"

namespace cq::broker {

enum class IoOp { open, fdatasync, ftruncate, rename, write, unlink, mkdir, fsync_dir };

struct IoFaults {
    // Operations counted so far (of the kinds in `mask`), and the number k
    // (1-based) of the one that fails with `error`; 0 = none fails.
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> fail_at{0};
    int error = 0;
    uint32_t mask = ~0u;  // 1 << IoOp
    bool sticky = false;  // keep failing after the k-th
    // Called after every successful fdatasync with the file's path.
    void (*synced)(void *ctx, int fd, const char *path) = nullptr;
    void *ctx = nullptr;
};

// The hooks in force (tests only; nullptr in production).
void io_set_faults(IoFaults *f) noexcept;

// Each returns 0 or -1 with errno set, like the system call it wraps.
int io_open(const std::string &path, int flags, mode_t mode);
int io_fdatasync(int fd, const std::string &path);
int io_ftruncate(int fd, off_t size);
// rename that never replaces: -1/EEXIST if `to` exists.
int io_rename_noreplace(const std::string &from, const std::string &to);
int io_rename(const std::string &from, const std::string &to);
int io_write_all(int fd, const void *data, size_t n);
int io_unlink(const std::string &path);
int io_mkdir(const std::string &path, mode_t mode);  // EEXIST is success
int io_fsync_dir(const std::string &dir);

// "PID-N": unique among the temporary names of all processes and threads
// (a process-wide counter; no thread-local state, which would cost static TLS
// and break dlopen of the library).
std::string temp_suffix();

// Writes n bytes to a temporary file in dir and renames it to path, so the
// file appears whole or not at all: over an existing one (replace), or only
// if there is none (!replace: one that is there counts as done, another
// process created it first). sync: fdatasync the file before the rename and
// fsync dir after it. Errc with the path in the error text.
Errc write_file_whole(const std::string &dir, const std::string &path, const void *data, size_t n,
                      mode_t mode, bool sync, bool replace);

// Removes the temporary files (".tmp-" in the name, as every create-then-
// rename here writes them) of dir that a process killed mid-write left
// behind: those whose writer pid (the number after "tmp-") is not running.
void remove_stale_temps(const std::string &dir);

}  // namespace cq::broker
