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
	g    gate // Close against the calls in flight
	h    raw.CqbQueue
	max  int
	name string
}

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
	if _, err := check("open "+name, func() int {
		return raw.Cqb_queue_open(h, name, flags, uint(opts.Capacity), uint(opts.MaxMessageSize),
			uint(opts.Mode))
	}); err != nil {
		raw.DeleteCqbQueue(h)
		return nil, err
	}
	q := &Queue{h: h, max: int(h.GetMax_message_size()), name: name}
	runtime.SetFinalizer(q, func(q *Queue) { _ = q.Close() })
	return q, nil
}

// Unlink removes the name; open handles keep working.
func Unlink(name string) error {
	_, err := check("unlink "+name, func() int { return raw.Cqb_queue_unlink(name) })
	return err
}

// MaxMessageSize is the largest message the queue holds.
func (q *Queue) MaxMessageSize() int { return q.max }

// Close detaches; the queue itself stays. Safe to call twice. Waits in other
// goroutines end at once with ErrClosed; the handle is freed when they have
// returned. While a pool drains the queue: ErrPerm (close the pool first).
func (q *Queue) Close() error {
	return q.g.close(q.interrupt, func() error {
		_, err := check("close", func() int { return raw.Cqb_queue_close(q.h) })
		raw.DeleteCqbQueue(q.h)
		q.h = nil
		runtime.SetFinalizer(q, nil)
		return err
	})
}

// interrupt ends every wait on q in progress in this process (ErrCanceled
// inside, see gate.wait).
func (q *Queue) interrupt() error {
	_, err := check("interrupt", func() int { return raw.Cqb_queue_interrupt(q.h) })
	return err
}

// Enqueue appends msg without waiting: ErrFull when there is no room.
func (q *Queue) Enqueue(msg []byte) error {
	_, err := q.g.call("enqueue", func() int { return raw.Cqb_queue_put(q.h, msg, 0) })
	return err
}

// Dequeue takes the oldest message without waiting: ErrEmpty when there is none.
func (q *Queue) Dequeue() ([]byte, error) {
	buf := make([]byte, q.max)
	n, err := q.DequeueInto(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// DequeueInto takes the oldest message into buf and returns its length
// (ErrMsgSize when buf is too small; the message stays queued).
func (q *Queue) DequeueInto(buf []byte) (int, error) {
	return q.g.call("dequeue", func() int { return raw.Cqb_queue_get(q.h, buf, 0) })
}

// DequeueWait takes the oldest message, waiting while the queue is empty until
// ctx is done (then it returns ctx.Err()) or q is closed (ErrClosed).
func (q *Queue) DequeueWait(ctx context.Context) ([]byte, error) {
	buf := make([]byte, q.max)
	n, err := q.g.wait(ctx, "dequeue", q.interrupt,
		func(t int64) int { return raw.Cqb_queue_get(q.h, buf, t) })
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// EnqueueWait appends msg, waiting while the queue is full until ctx is done
// or q is closed.
func (q *Queue) EnqueueWait(ctx context.Context, msg []byte) error {
	_, err := q.g.wait(ctx, "enqueue", q.interrupt,
		func(t int64) int { return raw.Cqb_queue_put(q.h, msg, t) })
	return err
}

// Stats are the queue's counters.
type Stats struct {
	Capacity, MaxMessageSize                         int64
	Length, FreeNodes, Enqueued, Dequeued, Reclaimed int64
}

// Stats reads the queue's counters.
func (q *Queue) Stats() (Stats, error) {
	s := raw.NewCqbQueueStats()
	defer raw.DeleteCqbQueueStats(s)
	if _, err := q.g.call("stats", func() int { return raw.Cqb_queue_stats(q.h, s) }); err != nil {
		return Stats{}, err
	}
	return Stats{s.GetCapacity(), s.GetMax_message_size(), s.GetLength(), s.GetFree_nodes(),
		s.GetEnqueued(), s.GetDequeued(), s.GetReclaimed()}, nil
}
