package cqueue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"cqueue/internal/raw"
)

// fakeHandle stands in for a handle of the library in gate.wait: wait waits up
// to its timeout (CQ_ETIMEDOUT) unless interrupt is called meanwhile
// (CQ_ECANCELED), as cq_dequeue_wait and cq_interrupt do; it counts the
// interrupts.
type fakeHandle struct {
	mu         sync.Mutex
	interrupts int
	woken      chan struct{} // closed by the next interrupt
}

func newFakeHandle() *fakeHandle { return &fakeHandle{woken: make(chan struct{})} }

func (f *fakeHandle) interrupt() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.interrupts++
	close(f.woken)
	f.woken = make(chan struct{})
	return nil
}

func (f *fakeHandle) interrupted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.interrupts
}

func (f *fakeHandle) wait(timeoutNs int64) int {
	f.mu.Lock()
	woken := f.woken
	f.mu.Unlock()
	var timeout <-chan time.Time
	if timeoutNs >= 0 {
		timeout = time.After(time.Duration(timeoutNs))
	}
	select {
	case <-woken:
		return raw.ECANCELED
	case <-timeout:
		return raw.ETIMEDOUT
	}
}

// A context's deadline ends the wait by the wait's own timeout: no interrupt,
// which would end every other wait on the handle too.
func TestWaitEndsAtItsDeadlineWithoutInterrupting(t *testing.T) {
	var g gate
	f := newFakeHandle()
	for i := 0; i < 100; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := g.wait(ctx, "wait", f.interrupt, f.wait)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: want DeadlineExceeded, got %v", i, err)
		}
	}
	if n := f.interrupted(); n != 0 {
		t.Fatalf("%d interrupts for 100 waits that reached their deadline", n)
	}
}

func TestWaitWithAContextDoneBeforeDoesNotInterrupt(t *testing.T) {
	var g gate
	f := newFakeHandle()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.wait(ctx, "wait", f.interrupt, f.wait); !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	if n := f.interrupted(); n != 0 {
		t.Fatalf("%d interrupts for a wait that did not begin", n)
	}
}

// The counterpart of the two above: cancelling interrupts the wait.
func TestCancelInterruptsTheWait(t *testing.T) {
	var g gate
	f := newFakeHandle()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	errc := make(chan error, 1)
	go func() {
		_, err := g.wait(ctx, "wait", f.interrupt, f.wait)
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want Canceled, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end 10 s after its context was cancelled")
	}
	if f.interrupted() == 0 {
		t.Fatal("no interrupt")
	}
}
