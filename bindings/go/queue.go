// Package cqueue is the Go API of libcqueue: a lock-free MPMC queue in named
// shared memory, shared with processes in any language, and a worker pool
// that runs Go funcs.
//
//	q, err := cqueue.Open("orders", &cqueue.Options{Create: true})
//	err = q.Enqueue([]byte("hello"))
//	msg, err := q.DequeueWait(ctx)
package cqueue

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cqueue/internal/raw"
)

// Options for Open. The zero value attaches to an existing queue.
type Options struct {
	Create         bool   // create the queue if it does not exist
	Exclusive      bool   // with Create: fail with ErrExist if it exists
	Capacity       uint32 // messages, when creating (0: library default)
	MaxMessageSize uint32 // bytes, when creating (0: library default)
	Mode           uint32 // permission bits, when creating (0: 0600)
}

// Queue is an open queue; safe for concurrent use by many goroutines.
type Queue struct {
	mu   sync.RWMutex // Close (write) against operations in flight (read)
	h    raw.CqbQueue
	max  int
	name string
	pins atomic.Int32 // pools draining this queue (Pool.AttachQueue)
}

// waitSlice bounds one blocking call into the library, so a context's
// cancellation (and Close) is noticed within about this long.
const waitSlice = 50 * time.Millisecond

// Open opens (with Options.Create, creates) the queue name: a POSIX
// shared-memory name, or a path containing '/'. opts may be nil.
func Open(name string, opts *Options) (*Queue, error) {
	if opts == nil {
		opts = &Options{}
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, &Error{Code: raw.EINVAL, Op: "open", Detail: "name contains a NUL byte"}
	}
	var flags uint
	if opts.Create {
		flags |= uint(raw.CREATE)
	}
	if opts.Exclusive {
		flags |= uint(raw.EXCL)
	}
	h := raw.NewCqbQueue()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_queue_open(h, name, flags, uint(opts.Capacity), uint(opts.MaxMessageSize),
		uint(opts.Mode)); rc < 0 {
		err := lastError("open "+name, rc)
		raw.DeleteCqbQueue(h)
		return nil, err
	}
	q := &Queue{h: h, max: int(h.GetMax_message_size()), name: name}
	runtime.SetFinalizer(q, func(q *Queue) { _ = q.Close() })
	return q, nil
}

// Unlink removes the name; open handles keep working.
func Unlink(name string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_queue_unlink(name); rc < 0 {
		return lastError("unlink "+name, rc)
	}
	return nil
}

// MaxMessageSize is the largest message the queue holds.
func (q *Queue) MaxMessageSize() int { return q.max }

// Close detaches; the queue itself stays. Safe to call twice. While a pool
// drains the queue: ErrPerm (close the pool first).
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.h == nil {
		return nil
	}
	if q.pins.Load() > 0 {
		return &Error{Code: raw.EPERM, Op: "close", Detail: "a pool drains this queue: close the pool first"}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := raw.Cqb_queue_close(q.h)
	raw.DeleteCqbQueue(q.h)
	q.h = nil
	runtime.SetFinalizer(q, nil)
	if rc < 0 {
		return lastError("close", rc)
	}
	return nil
}

func (q *Queue) put(op string, msg []byte, timeoutNs int64) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.h == nil {
		return &Error{Code: raw.ECLOSED, Op: op}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_queue_put(q.h, msg, timeoutNs); rc < 0 {
		return lastError(op, rc)
	}
	return nil
}

func (q *Queue) get(op string, buf []byte, timeoutNs int64) (int, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.h == nil {
		return 0, &Error{Code: raw.ECLOSED, Op: op}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n := raw.Cqb_queue_get(q.h, buf, timeoutNs)
	if n < 0 {
		return 0, lastError(op, n)
	}
	return n, nil
}

// Enqueue appends msg without waiting: ErrFull when there is no room.
func (q *Queue) Enqueue(msg []byte) error { return q.put("enqueue", msg, 0) }

// Dequeue takes the oldest message without waiting: ErrEmpty when there is none.
func (q *Queue) Dequeue() ([]byte, error) {
	buf := make([]byte, q.max)
	n, err := q.get("dequeue", buf, 0)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// DequeueInto takes the oldest message into buf and returns its length
// (ErrMsgSize when buf is too small; the message stays queued).
func (q *Queue) DequeueInto(buf []byte) (int, error) { return q.get("dequeue", buf, 0) }

// sliceNs is the next wait slice: until ctx's deadline, at most waitSlice.
func sliceNs(ctx context.Context) int64 {
	d := waitSlice
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
	}
	if d <= 0 {
		return 1 // the library treats 0 as "do not wait"; 1 ns is "hardly"
	}
	return int64(d)
}

// DequeueWait takes the oldest message, waiting while the queue is empty until
// ctx is done (then it returns ctx.Err()).
func (q *Queue) DequeueWait(ctx context.Context) ([]byte, error) {
	buf := make([]byte, q.max)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := q.get("dequeue", buf, sliceNs(ctx))
		if err == nil {
			return buf[:n], nil
		}
		if !isTimeout(err) {
			return nil, err
		}
	}
}

// EnqueueWait appends msg, waiting while the queue is full until ctx is done.
func (q *Queue) EnqueueWait(ctx context.Context, msg []byte) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := q.put("enqueue", msg, sliceNs(ctx))
		if err == nil || !isTimeout(err) {
			return err
		}
	}
}

func isTimeout(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Code == raw.ETIMEDOUT
}

// Stats are the queue's counters.
type Stats struct {
	Capacity, MaxMessageSize                         int64
	Length, FreeNodes, Enqueued, Dequeued, Reclaimed int64
}

// Stats reads the queue's counters.
func (q *Queue) Stats() (Stats, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.h == nil {
		return Stats{}, &Error{Code: raw.ECLOSED, Op: "stats"}
	}
	s := raw.NewCqbQueueStats()
	defer raw.DeleteCqbQueueStats(s)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_queue_stats(q.h, s); rc < 0 {
		return Stats{}, lastError("stats", rc)
	}
	return Stats{s.GetCapacity(), s.GetMax_message_size(), s.GetLength(), s.GetFree_nodes(),
		s.GetEnqueued(), s.GetDequeued(), s.GetReclaimed()}, nil
}
