package cqueue

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"

	"cqueue/internal/raw"
)

// PushSubscription delivers the records of a Broker to a handler on a Pool's
// workers (Broker.SubscribePush): one cgo callback per batch of up to 64 records.
//
// While open it keeps delivering, and keeps its handler, broker and pool alive,
// even when nothing else refers to it (like a goroutine). Close, Broker.Close and
// Pool.Close stop it; each returns once the batch in flight is done, and none of
// them may be called from a push handler (ErrPerm: it would wait for itself).
// Pool.Shutdown stops the delivery too (nothing more is acknowledged) but leaves
// it open until one of those closes it.
type PushSubscription struct {
	mu       sync.Mutex // Close
	h        raw.CqbPush
	handle   cgo.Handle // what the library hands back with each batch
	broker   *Broker
	pool     *Pool
	handler  func(msgs []*Message) int
	failures atomic.Int64
	fmu      sync.Mutex
	last     error // under fmu
}

func init() {
	raw.PushBatch = func(h uintptr, recs []raw.Record) int64 {
		return cgo.Handle(h).Value().(*PushSubscription).deliver(messages(recs))
	}
}

// SubscribePush delivers the records of every topic matching pattern to handler
// on pool's workers, one call per batch of 1 to 64 records (copies in Go memory,
// in offset order per topic). opts may be nil.
//
// handler returns how many leading records it handled (len(msgs) for all):
// those are acknowledged (persisted for a durable subscription); msgs[k] after
// them fails (its topic is acknowledged no further by this subscription: a
// durable resubscription gets it again) and the rest come again in the next
// call. A handler that panics or returns a negative count fails its batch as
// returning 0 does; the panic is recovered, counted in Failures and kept in
// LastFailure, and the pool counts a failed job.
func (b *Broker) SubscribePush(pattern string, opts *SubscribeOptions, pool *Pool,
	handler func(msgs []*Message) int) (*PushSubscription, error) {
	const op = "subscribe push"
	if pool == nil || handler == nil {
		return nil, &Error{Code: raw.EINVAL, Op: op, Detail: "pool and handler are required"}
	}
	if opts == nil {
		opts = &SubscribeOptions{}
	}
	flags, start, value, err := subscribeArgs(op, pattern, opts)
	if err != nil {
		return nil, err
	}
	s := &PushSubscription{h: raw.NewCqbPush(), broker: b, pool: pool, handler: handler}
	s.handle = cgo.NewHandle(s)
	err = pool.use(op, func(ph raw.CqbPool) error {
		_, err := b.call(op, func(bh raw.CqbBroker) int64 {
			rc := raw.Cqb_broker_subscribe_push(bh, s.h, ph, pattern, opts.DurableID, flags, start,
				value, uint(s.handle))
			if rc >= 0 { // under both locks: neither Close can miss it
				b.adopt(s)
				pool.adoptPush(s)
			}
			return int64(rc)
		})
		return err
	})
	if err != nil {
		s.handle.Delete()
		raw.DeleteCqbPush(s.h)
		return nil, err
	}
	return s, nil
}

// deliver runs the handler on one batch: the handled count, or -1 when it
// failed. A panic stops here: it never unwinds through the library's frames.
func (s *PushSubscription) deliver(msgs []*Message) (handled int64) {
	defer func() {
		if r := recover(); r != nil {
			s.fail(&PanicError{Value: r, in: "push handler"})
			handled = -1
		}
	}()
	n := s.handler(msgs)
	if n < 0 {
		s.fail(&Error{Code: raw.EINVAL, Op: "push handler", Detail: fmt.Sprintf("returned %d", n)})
		return -1
	}
	return int64(min(n, len(msgs)))
}

func (s *PushSubscription) fail(err error) {
	s.failures.Add(1)
	s.fmu.Lock()
	s.last = err
	s.fmu.Unlock()
}

// Failures counts the batches whose handler panicked or returned a negative count.
func (s *PushSubscription) Failures() int64 { return s.failures.Load() }

// LastFailure is the latest of those failures (a *PanicError for a panic), or nil.
func (s *PushSubscription) LastFailure() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.last
}

// Close stops the delivery (persisting pending acks) and returns once the batch
// in flight is done: the handler is not called after. Safe to call twice.
func (s *PushSubscription) Close() error {
	if inPushHandler() {
		return errInPushHandler("close push subscription")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := raw.Cqb_push_close(s.h)
	raw.DeleteCqbPush(s.h)
	s.h = nil
	s.handle.Delete() // no batch is in flight any more
	s.broker.forget(s)
	s.pool.forgetPush(s)
	if rc < 0 {
		return lastError("unsubscribe push", rc)
	}
	return nil
}

// inPushHandler reports whether the calling goroutine runs a push handler (the
// callback's goroutine stays on the worker's thread, where the library notes it).
func inPushHandler() bool {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return raw.Cqb_push_in_handler() != 0
}

func errInPushHandler(op string) error {
	return &Error{Code: raw.EPERM, Op: op, Detail: "called from a push handler, it would wait for " +
		"the handler itself: close from another goroutine"}
}
