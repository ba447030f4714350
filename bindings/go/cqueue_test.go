package cqueue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cqueue"
)

var seq atomic.Int64

func newName(t *testing.T) string {
	n := fmt.Sprintf("cqgo-%d-%d", os.Getpid(), seq.Add(1))
	t.Cleanup(func() { _ = cqueue.Unlink(n) })
	return n
}

func mustOpen(t *testing.T, name string, capacity, max uint32) *cqueue.Queue {
	t.Helper()
	q, err := cqueue.Open(name, &cqueue.Options{Create: true, Capacity: capacity, MaxMessageSize: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func TestRoundTrip(t *testing.T) {
	q := mustOpen(t, newName(t), 8, 32)
	if q.MaxMessageSize() != 32 {
		t.Fatalf("max %d", q.MaxMessageSize())
	}
	if err := q.Enqueue([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueWait(context.Background(), []byte("two")); err != nil {
		t.Fatal(err)
	}
	m, err := q.Dequeue()
	if err != nil || string(m) != "one" {
		t.Fatalf("%q %v", m, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err = q.DequeueWait(ctx)
	if err != nil || string(m) != "two" {
		t.Fatalf("%q %v", m, err)
	}
	s, err := q.Stats()
	if err != nil || s.Enqueued != 2 || s.Dequeued != 2 || s.Length != 0 {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestErrorsWrapCodes(t *testing.T) {
	name := newName(t)
	_, err := cqueue.Open(name, nil)
	if !errors.Is(err, cqueue.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	var ce *cqueue.Error
	if !errors.As(err, &ce) || ce.Code != -6 {
		t.Fatalf("code: %v", err)
	}
	q := mustOpen(t, name, 2, 4)
	if _, err := cqueue.Open(name, &cqueue.Options{Create: true, Exclusive: true}); !errors.Is(err, cqueue.ErrExist) {
		t.Fatalf("want ErrExist, got %v", err)
	}
	if _, err := q.Dequeue(); !errors.Is(err, cqueue.ErrEmpty) {
		t.Fatalf("want ErrEmpty, got %v", err)
	}
	if err := q.Enqueue([]byte("too long")); !errors.Is(err, cqueue.ErrMsgSize) {
		t.Fatalf("want ErrMsgSize, got %v", err)
	}
	_ = q.Enqueue([]byte("a"))
	_ = q.Enqueue([]byte("b"))
	err = q.Enqueue([]byte("c"))
	if !errors.Is(err, cqueue.ErrFull) || errors.Is(err, cqueue.ErrEmpty) {
		t.Fatalf("want ErrFull, got %v", err)
	}
	wrapped := fmt.Errorf("context: %w", err)
	if !errors.Is(wrapped, cqueue.ErrFull) {
		t.Fatal("errors.Is through a wrap")
	}
	if _, err := q.DequeueInto(nil); !errors.Is(err, cqueue.ErrMsgSize) {
		t.Fatalf("want ErrMsgSize, got %v", err)
	}
	if m, _ := q.Dequeue(); string(m) != "a" {
		t.Fatalf("got %q", m)
	}
	if _, err := cqueue.Open("bad\x00name", nil); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal("second Close", err)
	}
	if err := q.Enqueue([]byte("x")); !errors.Is(err, cqueue.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

func TestDequeueWaitHonoursContext(t *testing.T) {
	q := mustOpen(t, newName(t), 1, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := q.DequeueWait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if time.Since(t0) < 25*time.Millisecond {
		t.Fatal("returned early")
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel2() }()
	t0 = time.Now()
	if _, err := q.DequeueWait(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	if time.Since(t0) > 2*time.Second {
		t.Fatal("cancellation noticed too late")
	}
	_ = q.Enqueue([]byte("x"))
	ctx3, cancel3 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel3()
	if err := q.EnqueueWait(ctx3, []byte("y")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

func TestGoroutinesEveryMessageOnce(t *testing.T) {
	q := mustOpen(t, newName(t), 64, 16)
	const per = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := q.EnqueueWait(ctx, []byte(fmt.Sprintf("%d:%d", p, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(p)
	}
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				m, err := q.DequeueWait(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[string(m)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 2*per {
		t.Fatalf("distinct %d", len(seen))
	}
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("%s seen %d times", k, v)
		}
	}
}

func TestPoolRunsFuncsAndRecoversPanics(t *testing.T) {
	p, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 2, QueueCapacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var sum atomic.Int64
	for i := 1; i <= 100; i++ {
		i := i
		if err := p.Submit(func() { sum.Add(int64(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := p.Go(func() { panic("job broke") })
	if err != nil {
		t.Fatal(err)
	}
	res := <-ch
	var pe *cqueue.PanicError
	if !errors.As(res.Err, &pe) || pe.Value != "job broke" {
		t.Fatalf("want PanicError, got %v", res.Err)
	}
	ok, err := p.Shutdown(5 * time.Second)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if sum.Load() != 5050 {
		t.Fatalf("sum %d", sum.Load())
	}
	s, _ := p.Stats()
	if s.Completed != 100 || s.Failed != 1 {
		t.Fatalf("%+v", s)
	}
	if err := p.Submit(func() {}); !errors.Is(err, cqueue.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

func TestPoolFullAndCloseCancelsQueued(t *testing.T) {
	p, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 1, QueueCapacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	if err := p.Submit(func() { close(started); <-release }); err != nil {
		t.Fatal(err)
	}
	<-started
	var results []<-chan cqueue.JobResult
	for i := 0; ; i++ {
		ch, err := p.Go(func() {})
		if err != nil {
			if !errors.Is(err, cqueue.ErrFull) {
				t.Fatal(err)
			}
			break
		}
		results = append(results, ch)
		if i > 10000 {
			t.Fatal("never full")
		}
	}
	if len(results) == 0 {
		t.Fatal("no job accepted")
	}
	time.AfterFunc(20*time.Millisecond, func() { close(release) })
	_ = p.Close() // no grace: queued jobs are cancelled
	for _, ch := range results {
		if r := <-ch; !errors.Is(r.Err, cqueue.ErrCanceled) {
			t.Fatalf("want ErrCanceled, got %v", r.Err)
		}
	}
}

func TestQuickExample(t *testing.T) {
	dir, _ := filepath.Abs("../../examples/go")
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if string(out) != "hello from Go\njob ran\n" {
		t.Fatalf("output %q", out)
	}
}

func TestCloseEndsWaitsAndShutdownInOtherGoroutines(t *testing.T) {
	q := mustOpen(t, newName(t), 4, 8)
	errc := make(chan error, 1)
	go func() {
		_, err := q.DequeueWait(context.Background()) // forever
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_ = q.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, cqueue.ErrClosed) {
			t.Fatalf("want ErrClosed, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DequeueWait still blocked after Close")
	}

	p, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	for i := 0; i < 20; i++ {
		_ = p.Submit(func() {
			select {
			case <-gate:
			case <-time.After(5 * time.Second):
			}
		})
	}
	done := make(chan struct{})
	go func() { _, _ = p.Shutdown(-1); close(done) }()
	time.Sleep(50 * time.Millisecond)
	time.AfterFunc(100*time.Millisecond, func() { close(gate) })
	_ = p.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown still blocked after Close")
	}
}

func TestAttachedQueueMessagesReachTheHandler(t *testing.T) {
	q := mustOpen(t, newName(t), 256, 16)
	p, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	err = p.AttachQueue(q, func(m []byte) {
		if string(m) == "boom" {
			panic("bad message")
		}
		mu.Lock()
		got[string(m)]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AttachQueue(q, func([]byte) {}); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatalf("second attach: want ErrInvalid, got %v", err)
	}
	if err := q.Close(); !errors.Is(err, cqueue.ErrPerm) {
		t.Fatalf("close while attached: want ErrPerm, got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 100; i++ {
		if err := q.EnqueueWait(ctx, []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.EnqueueWait(ctx, []byte("boom"))
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 100 && p.HandlerFailures() == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("handled %d, failures %d", n, p.HandlerFailures())
		}
		time.Sleep(time.Millisecond)
	}
	_ = p.Close()
	for k, v := range got {
		if v != 1 {
			t.Fatalf("%s handled %d times", k, v)
		}
	}
	if s, _ := q.Stats(); s.Length != 0 {
		t.Fatalf("left %d", s.Length)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("close after the pool: %v", err)
	}
}
