package cqueue

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"cqueue/internal/raw"
)

// gate guards a handle that Close frees while other goroutines may be using
// it, some of them waiting in the library. A call enters and leaves it; Close
// shuts it: no call enters any more, the waits in flight are ended with the
// handle's interrupt (they return ErrClosed), and the handle is freed once no
// call is left.
type gate struct {
	state atomic.Int64  // calls in flight, plus closing once Close has begun
	mu    sync.Mutex    // held by Close throughout (a second Close returns when the first is done); pins
	pins  int           // pools draining the queue (Pool.AttachQueue): Close fails with ErrPerm
	idle  chan struct{} // made by Close before it sets closing; closed by the last call to leave
}

const closing = 1 << 62

// enter admits a call: ErrClosed once Close has begun.
func (g *gate) enter(op string) error {
	for {
		s := g.state.Load()
		if s&closing != 0 {
			return &Error{Code: raw.ECLOSED, Op: op}
		}
		if g.state.CompareAndSwap(s, s+1) {
			return nil
		}
	}
}

func (g *gate) leave() {
	if g.state.Add(-1) == closing {
		close(g.idle) // the last call in flight of a Close that waits for them
	}
}

func (g *gate) isClosing() bool { return g.state.Load()&closing != 0 }

// pin marks a use that outlives calls (a pool draining the queue): Close
// fails with ErrPerm until unpin. False once Close has begun.
func (g *gate) pin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isClosing() {
		return false
	}
	g.pins++
	return true
}

func (g *gate) unpin() {
	g.mu.Lock()
	g.pins--
	g.mu.Unlock()
}

// close shuts g, ends the calls in flight with interrupt and then runs free;
// ErrPerm (nothing done) while pinned, nil if Close has run before.
func (g *gate) close(interrupt, free func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isClosing() {
		return nil
	}
	if g.pins > 0 {
		return &Error{Code: raw.EPERM, Op: "close", Detail: "a pool drains this queue: close the pool first"}
	}
	g.idle = make(chan struct{})
	if g.state.Add(closing) != closing {
		if err := interruptUntil(g.idle, interrupt); err != nil {
			return err
		}
	}
	return free()
}

// call runs f, a facade call that does not wait, in g: ErrClosed once Close
// has begun.
func (g *gate) call(op string, f func() int) (int, error) {
	if err := g.enter(op); err != nil {
		return 0, err
	}
	defer g.leave()
	return check(op, f)
}

// wait runs call in g, a call of the library that waits up to timeoutNs
// (negative: forever) and returns a count (>= 0) or a code, until it
// completes, ctx is done (ctx.Err()) or Close begins (ErrClosed). Nothing
// waits in slices: call gets what is left until ctx's deadline, and ctx's
// cancellation ends it with the handle's interrupt (context.AfterFunc), as
// Close does. An interrupt ends every wait on the handle, so CQ_ECANCELED
// while ctx is not done and Close has not begun was meant for another call:
// this one waits again. For the same reason ctx's deadline does not
// interrupt: the wait times out then by itself (call must not wait longer
// than timeLeft(ctx) from the moment it begins to wait), and an interrupt
// would also end the other waits on the handle, and wake every waiter of the
// queue or broker directory in every process, for nothing.
func (g *gate) wait(ctx context.Context, op string, interrupt func() error,
	call func(timeoutNs int64) int) (int, error) {
	if err := g.enter(op); err != nil {
		return 0, err
	}
	defer g.leave()
	runtime.LockOSThread() // lastError reads this thread's detail
	defer runtime.UnlockOSThread()
	if err := ctx.Err(); err != nil {
		return 0, err // before AfterFunc, which would run (and interrupt) at once
	}
	if ctx.Done() != nil {
		returned, stopped := make(chan struct{}), make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(stopped)
			if ctx.Err() == context.DeadlineExceeded && timeLeft(ctx) == 0 {
				return // the wait ends at the deadline by its own timeout
			}
			if err := interruptUntil(returned, interrupt); err != nil {
				// The handle stays open until this returns: it cannot fail.
				panic(err)
			}
		})
		defer func() {
			close(returned)
			if !stop() {
				<-stopped // it uses the handle: done before the caller leaves g
			}
		}()
	}
	for {
		if g.isClosing() {
			return 0, &Error{Code: raw.ECLOSED, Op: op}
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		timeoutNs := timeLeft(ctx)
		if timeoutNs == 0 {
			return 0, context.DeadlineExceeded // ctx.Err() from the moment its timer fires
		}
		rc := call(timeoutNs)
		if rc >= 0 {
			return rc, nil
		}
		if rc != raw.ECANCELED && rc != raw.ETIMEDOUT {
			return 0, lastError(op, rc)
		}
	}
}

// timeLeft is the time left until ctx's deadline in nanoseconds, the longest
// a wait in the library may take: -1 if ctx has no deadline, 0 once it has
// passed.
func timeLeft(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return -1
	}
	return max(0, int64(time.Until(dl)))
}

// Pauses between the interrupts of interruptUntil: doubling from the first
// to the last.
const (
	firstRetry = time.Millisecond
	lastRetry  = 16 * time.Millisecond
)

// interruptUntil calls interrupt until done is closed. Once is not enough: an
// interrupt ends only the waits already in the library, and the call it is
// meant for may be about to begin one (it has entered, it has not yet
// waited), so it is repeated, after a pause that grows, until that call has
// returned. None if it has returned already.
func interruptUntil(done <-chan struct{}, interrupt func() error) error {
	for pause := firstRetry; ; pause = min(2*pause, lastRetry) {
		select {
		case <-done:
			return nil
		default:
		}
		if err := interrupt(); err != nil {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-done:
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// check runs f, a facade call, on a locked OS thread (the library's error
// detail is per thread) and turns a negative result into an *Error.
func check(op string, f func() int) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc < 0 {
		return 0, lastError(op, rc)
	}
	return rc, nil
}
