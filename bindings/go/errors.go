package cqueue

import (
	"fmt"

	"cqueue/internal/raw"
)

// Error is a libcqueue failure: the negative CQ_E* code, the operation and the
// library's detail text. errors.Is(err, cqueue.ErrFull) compares codes.
type Error struct {
	Code   int
	Op     string
	Detail string
}

func (e *Error) Error() string {
	msg := text(0, e.Code)
	if e.Detail != "" && e.Detail != msg {
		msg += ": " + e.Detail
	}
	if e.Op != "" {
		return fmt.Sprintf("cqueue: %s: %s", e.Op, msg)
	}
	return "cqueue: " + msg
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrEmpty    = &Error{Code: raw.EEMPTY}
	ErrFull     = &Error{Code: raw.EFULL}
	ErrTimeout  = &Error{Code: raw.ETIMEDOUT}
	ErrMsgSize  = &Error{Code: raw.EMSGSIZE}
	ErrInvalid  = &Error{Code: raw.EINVAL}
	ErrNotFound = &Error{Code: raw.ENOENT}
	ErrExist    = &Error{Code: raw.EEXIST}
	ErrPerm     = &Error{Code: raw.EPERM}
	ErrCorrupt  = &Error{Code: raw.ECORRUPT}
	ErrVersion  = &Error{Code: raw.EVERSION}
	ErrNoMem    = &Error{Code: raw.ENOMEM}
	ErrIO       = &Error{Code: raw.EIO}
	ErrClosed   = &Error{Code: raw.ECLOSED}
	ErrCanceled = &Error{Code: raw.ECANCELED}
	ErrBusy     = &Error{Code: raw.EBUSY}
	ErrForeign  = &Error{Code: raw.EFOREIGN}
)

// lastError builds the error of a failed facade call. The caller must still be
// on the OS thread that made the call (cq_last_error is per thread): every call
// site holds runtime.LockOSThread across both.
func lastError(op string, code int) error {
	return &Error{Code: code, Op: op, Detail: text(1, 0)}
}

// Version of the loaded library.
func Version() string { return text(2, 0) }

// text copies one of the library's strings (see cqb_copy_text in cqueue.i).
func text(what, code int) string {
	buf := make([]byte, 256)
	n := raw.Cqb_copy_text(what, code, buf)
	if n > len(buf) {
		buf = make([]byte, n)
		n = raw.Cqb_copy_text(what, code, buf)
	}
	return string(buf[:min(n, len(buf))])
}
