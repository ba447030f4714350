package cqueue_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cqueue"
)

func newPool(t *testing.T, workers uint32) *cqueue.Pool {
	t.Helper()
	p, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func publishN(t *testing.T, b *cqueue.Broker, topic string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := b.Publish(topic, []byte(fmt.Sprint("r", i))); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a push handler that keeps every batch's offsets and lets a test
// decide each call's return value.
type recorder struct {
	mu      sync.Mutex
	batches [][]uint64
	ret     func(call int, msgs []*cqueue.Message) int
}

func (r *recorder) handle(msgs []*cqueue.Message) int {
	r.mu.Lock()
	offs := make([]uint64, len(msgs))
	for i, m := range msgs {
		offs[i] = m.Offset
	}
	r.batches = append(r.batches, offs)
	call := len(r.batches) - 1
	r.mu.Unlock()
	if r.ret != nil {
		return r.ret(call, msgs)
	}
	return len(msgs)
}

func (r *recorder) snapshot() [][]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]uint64(nil), r.batches...)
}

// waitFor sleeps until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// lastGot: the latest call got offset, and was not given first (a redelivery,
// after a failure).
func lastGot(r *recorder, offset, first uint64) func() bool {
	return func() bool {
		b := r.snapshot()
		if len(b) == 0 || b[len(b)-1][0] == first {
			return false
		}
		for _, o := range b[len(b)-1] {
			if o == offset {
				return true
			}
		}
		return false
	}
}

func seen(r *recorder, offset uint64) func() bool {
	return func() bool {
		for _, b := range r.snapshot() {
			for _, o := range b {
				if o == offset {
					return true
				}
			}
		}
		return false
	}
}

func TestPushDeliversBatchesInOrder(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	publishN(t, b, "p.in", 0, 200)
	var mu sync.Mutex
	var got []*cqueue.Message
	calls := 0
	s, err := b.SubscribePush("p.>", &cqueue.SubscribeOptions{Earliest: true}, newPool(t, 1),
		func(msgs []*cqueue.Message) int {
			mu.Lock()
			defer mu.Unlock()
			if len(msgs) < 1 || len(msgs) > 64 {
				t.Errorf("batch of %d", len(msgs))
			}
			got = append(got, msgs...) // kept past the call: they are copies
			calls++
			return len(msgs)
		})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "200 records", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 200 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 200 {
		t.Fatalf("%d records", len(got))
	}
	for i, m := range got {
		if m.Offset != uint64(i) || string(m.Data) != fmt.Sprint("r", i) || m.Topic != "p.in" || m.TimestampNs <= 0 {
			t.Fatalf("record %d: %+v", i, m)
		}
	}
	// 200 records published before subscribing come in batches of up to 64: 4 calls.
	if calls != 4 {
		t.Fatalf("%d handler calls for 200 records", calls)
	}
	if s.Failures() != 0 || s.LastFailure() != nil {
		t.Fatal(s.Failures(), s.LastFailure())
	}
}

func TestPushShortReturnFailsOneAndRedeliversTheRest(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, &cqueue.BrokerOptions{Fsync: cqueue.FsyncGroup})
	publishN(t, b, "short", 0, 10)
	pool := newPool(t, 1)
	r := &recorder{ret: func(call int, msgs []*cqueue.Message) int {
		if call == 0 {
			return 3 // 0..2 handled, 3 failed, 4..9 again
		}
		return len(msgs)
	}}
	s, err := b.SubscribePush("short", &cqueue.SubscribeOptions{DurableID: "d1", Earliest: true}, pool, r.handle)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "offset 9 again", lastGot(r, 9, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// 3 failed, 4.. came again.
	if batches := r.snapshot(); fmt.Sprint(batches[:2]) != "[[0 1 2 3 4 5 6 7 8 9] [4 5 6 7 8 9]]" {
		t.Fatalf("batches %v", batches)
	}
	if st, _ := pool.Stats(); st.Failed != 0 || s.Failures() != 0 {
		t.Fatalf("a short return is no failure: %+v %d", st, s.Failures())
	}
	// 0..2 were acknowledged; from 3 on the topic was not: a durable subscriber resumes at 3.
	pull, err := b.Subscribe("short", &cqueue.SubscribeOptions{DurableID: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, pull); m.Offset != 3 {
		t.Fatalf("resumed at %d", m.Offset)
	}
}

func TestPushPanicFailsTheBatchAndDurableResumesThere(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, &cqueue.BrokerOptions{Fsync: cqueue.FsyncGroup})
	pool := newPool(t, 1)
	publishN(t, b, "boom", 0, 5)
	r := &recorder{ret: func(call int, msgs []*cqueue.Message) int {
		if msgs[0].Offset == 5 {
			panic("boom at 5")
		}
		return len(msgs)
	}}
	s, err := b.SubscribePush("boom", &cqueue.SubscribeOptions{DurableID: "d2", Earliest: true}, pool, r.handle)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "offset 4", seen(r, 4))
	publishN(t, b, "boom", 5, 10)
	waitFor(t, "offset 9 after the failure", lastGot(r, 9, 5))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var pe *cqueue.PanicError
	if s.Failures() != 1 || !errors.As(s.LastFailure(), &pe) || pe.Value != "boom at 5" {
		t.Fatalf("failures %d, last %v", s.Failures(), s.LastFailure())
	}
	if st, _ := pool.Stats(); st.Failed != 1 {
		t.Fatalf("pool counts the failed batch: %+v", st)
	}
	// The call after the one that panicked starts after 5: 5 failed, the rest came again.
	batches := r.snapshot()
	failed := 0
	for batches[failed][0] != 5 {
		failed++
	}
	if batches[failed+1][0] != 6 {
		t.Fatalf("batches %v", batches)
	}
	pull, err := b.Subscribe("boom", &cqueue.SubscribeOptions{DurableID: "d2"})
	if err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, pull); m.Offset != 5 {
		t.Fatalf("durable subscriber resumed at %d, not at the failed record", m.Offset)
	}
}

func TestPushCloseWaitsForTheBatchAndStopsDelivery(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	pool := newPool(t, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	inHandler := make(chan error, 3)
	var mu sync.Mutex
	calls := 0
	var s *cqueue.PushSubscription
	s, err := b.SubscribePush("c", nil, pool, func(msgs []*cqueue.Message) int {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			// Closing from the handler would wait for itself: refused.
			inHandler <- s.Close()
			inHandler <- b.Close()
			inHandler <- pool.Close()
			close(entered)
			<-release
		}
		return len(msgs)
	})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "c", 0, 1)
	<-entered
	for i := 0; i < 3; i++ {
		if err := <-inHandler; !errors.Is(err, cqueue.ErrPerm) {
			t.Fatalf("close from the handler: %v", err)
		}
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while the batch was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "c", 1, 5)
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("%d calls after Close", calls)
	}
}

func TestPushSubscriptionsCloseWithTheirBrokerOrPool(t *testing.T) {
	for _, closeFirst := range []string{"broker", "pool"} {
		t.Run(closeFirst, func(t *testing.T) {
			b, err := cqueue.OpenBroker(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			pool, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			r := &recorder{}
			s, err := b.SubscribePush("w", &cqueue.SubscribeOptions{Earliest: true}, pool, r.handle)
			if err != nil {
				t.Fatal(err)
			}
			publishN(t, b, "w", 0, 3)
			waitFor(t, "offset 2", seen(r, 2))
			if closeFirst == "broker" {
				err = b.Close()
			} else {
				err = pool.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			n := len(r.snapshot())
			if err := s.Close(); err != nil { // already closed: a no-op
				t.Fatal(err)
			}
			if closeFirst == "pool" {
				publishN(t, b, "w", 3, 6)
				time.Sleep(100 * time.Millisecond)
			}
			if len(r.snapshot()) != n {
				t.Fatal("delivered after its broker or pool was closed")
			}
			if _, err := b.SubscribePush("w", nil, pool, r.handle); !errors.Is(err, cqueue.ErrClosed) {
				t.Fatalf("subscribe on a closed %s: %v", closeFirst, err)
			}
		})
	}
}

func TestPushArgumentsAreChecked(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	pool := newPool(t, 1)
	if _, err := b.SubscribePush("x", nil, pool, nil); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := b.SubscribePush("x", nil, nil, func([]*cqueue.Message) int { return 0 }); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := b.SubscribePush("bad pattern!", nil, pool, func([]*cqueue.Message) int { return 0 }); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	// A negative count fails the batch like a panic.
	r := &recorder{ret: func(call int, msgs []*cqueue.Message) int {
		if call == 0 {
			return -1
		}
		return len(msgs)
	}}
	s, err := b.SubscribePush("neg", &cqueue.SubscribeOptions{Earliest: true}, pool, r.handle)
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "neg", 0, 1)
	waitFor(t, "a failure", func() bool { return s.Failures() == 1 })
	if !errors.Is(s.LastFailure(), cqueue.ErrInvalid) {
		t.Fatal(s.LastFailure())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
