package cqueue

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"

	"cqueue/internal/raw"
)

// PoolOptions for NewPool; zero values take the library's defaults.
type PoolOptions struct {
	Workers       uint32 // 0: one per online CPU
	QueueCapacity uint32 // jobs that may wait
}

// Pool is a bounded set of library-owned worker threads running Go funcs.
// Safe for concurrent use.
type Pool struct {
	mu       sync.RWMutex // Close (write) against calls in flight (read)
	closing  atomic.Bool
	h        raw.CqbPool
	attached *attachment                    // the queue the workers drain, if any
	push     map[*PushSubscription]struct{} // open, delivering through this pool
	pmu      sync.Mutex                     // push
}

type attachment struct {
	q        *Queue
	handle   cgo.Handle
	failures atomic.Int64
	handler  func([]byte)
}

// JobResult is how a job ended: Err is nil when it ran and returned; a
// *PanicError when it panicked; an *Error with ErrCanceled or ErrTimeout codes
// when it never ran.
type JobResult struct{ Err error }

// PanicError is the recovered panic of a pool job or a push handler.
type PanicError struct {
	Value any
	in    string // what panicked
}

func (p *PanicError) Error() string { return fmt.Sprintf("cqueue: %s panicked: %v", p.in, p.Value) }

type job struct {
	fn       func()
	done     func(JobResult)
	panicked *PanicError
}

func init() {
	raw.JobRunner = func(h uintptr) (panicked bool) {
		j := cgo.Handle(h).Value().(*job)
		defer func() {
			// The panic stops here, in Go: it never unwinds through C frames.
			if r := recover(); r != nil {
				j.panicked = &PanicError{Value: r, in: "pool job"}
				panicked = true
			}
		}()
		j.fn()
		return false
	}
	raw.MessageHandler = func(h uintptr, msg []byte) {
		a := cgo.Handle(h).Value().(*attachment)
		defer func() {
			if r := recover(); r != nil {
				a.failures.Add(1) // the message is lost; the panic stops here
			}
		}()
		a.handler(msg)
	}
	raw.JobDoner = func(h uintptr, status int) {
		hd := cgo.Handle(h)
		j := hd.Value().(*job)
		hd.Delete()
		if j.done == nil {
			return
		}
		var res JobResult
		switch {
		case j.panicked != nil:
			res.Err = j.panicked
		case status < 0:
			res.Err = &Error{Code: status, Op: "pool job"}
		}
		defer func() { _ = recover() }() // a panicking done func has no one to report to
		j.done(res)
	}
}

// NewPool starts a pool. opts may be nil.
func NewPool(opts *PoolOptions) (*Pool, error) {
	if opts == nil {
		opts = &PoolOptions{}
	}
	h := raw.NewCqbPool()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_pool_create(h, uint(opts.Workers), uint(opts.QueueCapacity)); rc < 0 {
		err := lastError("pool create", rc)
		raw.DeleteCqbPool(h)
		return nil, err
	}
	p := &Pool{h: h, push: map[*PushSubscription]struct{}{}}
	// A Pool dropped without Close still stops its threads (queued jobs are cancelled).
	runtime.SetFinalizer(p, func(p *Pool) { _ = p.Close() })
	return p, nil
}

// use runs f with p's handle under the read lock: Close waits for it.
func (p *Pool) use(op string, f func(h raw.CqbPool) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.h == nil {
		return &Error{Code: raw.ECLOSED, Op: op}
	}
	return f(p.h)
}

func (p *Pool) adoptPush(s *PushSubscription) {
	p.pmu.Lock()
	p.push[s] = struct{}{}
	p.pmu.Unlock()
}

func (p *Pool) forgetPush(s *PushSubscription) {
	p.pmu.Lock()
	delete(p.push, s)
	p.pmu.Unlock()
}

func (p *Pool) submit(f func(), done func(JobResult), timeoutNs int64) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.h == nil {
		return &Error{Code: raw.ECLOSED, Op: "submit"}
	}
	h := cgo.NewHandle(&job{fn: f, done: done})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_pool_submit(p.h, uint(h), timeoutNs); rc < 0 {
		h.Delete() // not accepted: nothing of it runs
		return lastError("submit", rc)
	}
	return nil
}

// Submit runs f on a worker; it never waits (ErrFull, ErrClosed).
func (p *Pool) Submit(f func()) error { return p.submit(f, nil, 0) }

// SubmitDone runs f on a worker and calls done exactly once with the outcome.
func (p *Pool) SubmitDone(f func(), done func(JobResult)) error { return p.submit(f, done, 0) }

// SubmitWait is Submit that waits up to timeout (negative: forever) for room.
func (p *Pool) SubmitWait(f func(), timeout time.Duration) error {
	ns := int64(timeout)
	if timeout < 0 {
		ns = -1
	} else if ns == 0 {
		ns = 1
	}
	return p.submit(f, nil, ns)
}

// Go runs f on a worker and returns a channel that receives its outcome.
func (p *Pool) Go(f func()) (<-chan JobResult, error) {
	ch := make(chan JobResult, 1)
	if err := p.submit(f, func(r JobResult) { ch <- r }, 0); err != nil {
		return nil, err
	}
	return ch, nil
}

// AttachQueue lets the workers also drain q, calling handler for each message (a
// copy) between jobs. One queue per pool (ErrInvalid for a second). q cannot be
// closed (ErrPerm) until the pool is. A handler that panics loses that message; the
// panic is recovered and counted in HandlerFailures.
func (p *Pool) AttachQueue(q *Queue, handler func(msg []byte)) error {
	p.mu.Lock() // exclusive: sets p.attached
	defer p.mu.Unlock()
	if p.h == nil {
		return &Error{Code: raw.ECLOSED, Op: "attach queue"}
	}
	if p.attached != nil {
		return &Error{Code: raw.EINVAL, Op: "attach queue", Detail: "a queue is already attached"}
	}
	if !q.g.pin() { // q stays open while pinned
		return &Error{Code: raw.ECLOSED, Op: "attach queue"}
	}
	a := &attachment{q: q, handler: handler}
	a.handle = cgo.NewHandle(a)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_pool_attach_queue(p.h, q.h, uint(a.handle)); rc < 0 {
		a.handle.Delete()
		q.g.unpin()
		return lastError("attach queue", rc)
	}
	p.attached = a
	return nil
}

// HandlerFailures counts the messages whose handler panicked (see AttachQueue).
func (p *Pool) HandlerFailures() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.attached == nil {
		return 0
	}
	return p.attached.failures.Load()
}

// Shutdown stops accepting, runs what is queued and joins the workers. It
// returns false when the timeout (negative: none) cancelled queued jobs.
func (p *Pool) Shutdown(timeout time.Duration) (bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.h == nil {
		return true, nil
	}
	ns := int64(timeout)
	if timeout < 0 {
		ns = -1
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := raw.Cqb_pool_shutdown(p.h, ns)
	if rc == raw.ETIMEDOUT {
		return false, nil
	}
	if rc < 0 {
		return false, lastError("shutdown", rc)
	}
	return true, nil
}

// Close shuts the pool down without grace (queued jobs are cancelled) if
// Shutdown was not called, closes the push subscriptions delivering through it
// (their delivery stopped with the shutdown) and frees it. Must not be called
// from a job; ErrPerm from a push handler.
func (p *Pool) Close() error {
	if inPushHandler() {
		return errInPushHandler("close pool")
	}
	if !p.closing.CompareAndSwap(false, true) {
		return nil
	}
	// Shut down first, without the lock: calls in flight (a Shutdown waiting in another
	// goroutine, a job submitting more) then end at once, so the write lock below never
	// waits on them for long; the pool is freed only when nothing uses it.
	raw.Cqb_pool_shutdown(p.h, 0)
	p.mu.Lock()
	h := p.h
	p.h = nil // the calls in flight have ended; later ones get ErrClosed
	p.mu.Unlock()
	// Without p.mu: a push handler still running may call p while its subscription waits
	// for it.
	p.pmu.Lock()
	subs := make([]*PushSubscription, 0, len(p.push))
	for s := range p.push {
		subs = append(subs, s)
	}
	p.pmu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	raw.Cqb_pool_destroy(h)
	raw.DeleteCqbPool(h)
	if a := p.attached; a != nil { // no worker calls the handler any more
		a.handle.Delete()
		a.q.g.unpin()
	}
	runtime.SetFinalizer(p, nil)
	return nil
}

// PoolStats are the pool's counters.
type PoolStats struct {
	Workers, QueueCapacity, Submitted, Completed, Cancelled, Expired, Failed, QueueDepth int64
}

// Stats reads the pool's counters.
func (p *Pool) Stats() (PoolStats, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.h == nil {
		return PoolStats{}, &Error{Code: raw.ECLOSED, Op: "pool stats"}
	}
	s := raw.NewCqbPoolStats()
	defer raw.DeleteCqbPoolStats(s)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_pool_stats(p.h, s); rc < 0 {
		return PoolStats{}, lastError("pool stats", rc)
	}
	return PoolStats{s.GetWorkers(), s.GetQueue_capacity(), s.GetSubmitted(), s.GetCompleted(),
		s.GetCancelled(), s.GetExpired(), s.GetFailed(), s.GetQueue_depth()}, nil
}
