package cqueue_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"cqueue"
)

// Every wait below has no timeout of its own: only an interrupt ends it. The
// bound is there so that a wait that does not end fails the test instead of
// hanging it.
const hang = 10 * time.Second

// spin busy-waits about i%50 µs: the rounds of the tests that race an interrupt
// against the start of a wait come at every moment of it (time.Sleep is too
// coarse for that).
func spin(i int) {
	d := time.Duration(i%50) * time.Microsecond
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

func ended(t *testing.T, what string, errc <-chan error, want error) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, want) {
			t.Fatalf("%s: want %v, got %v", what, want, err)
		}
	case <-time.After(hang):
		t.Fatalf("%s: still waiting %v later", what, hang)
	}
}

// closeT closes c, failing the test instead of hanging it when Close waits for
// a wait that did not end.
func closeT(t *testing.T, c io.Closer) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c.Close() }()
	ended(t, "Close", errc, nil)
}

// openQ opens a new queue that the test's end closes with closeT.
func openQ(t *testing.T, capacity uint32) *cqueue.Queue {
	t.Helper()
	q, err := cqueue.Open(newName(t), &cqueue.Options{Create: true, Capacity: capacity, MaxMessageSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeT(t, q) })
	return q
}

// openB opens a broker in a temporary directory that the test's end closes
// with closeT.
func openB(t *testing.T) *cqueue.Broker {
	t.Helper()
	b, err := cqueue.OpenBroker(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeT(t, b) })
	return b
}

func TestCloseEndsEveryWaitOnTheQueue(t *testing.T) {
	empty, full := openQ(t, 1), openQ(t, 1)
	if err := full.Enqueue([]byte("x")); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 4)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := empty.DequeueWait(context.Background())
			errc <- err
		}()
	}
	go func() { errc <- full.EnqueueWait(context.Background(), []byte("y")) }()
	time.Sleep(50 * time.Millisecond) // most likely waiting in the library by now
	closeT(t, empty)
	closeT(t, full)
	for i := 0; i < 4; i++ {
		ended(t, "wait", errc, cqueue.ErrClosed)
	}
}

// Close right after the wait began: the interrupt may come before the wait is
// in the library, and must be repeated until it has returned.
func TestCloseRacingTheStartOfAWait(t *testing.T) {
	for i := 0; i < 1000; i++ {
		q := openQ(t, 1)
		errc := make(chan error, 1)
		go func() {
			_, err := q.DequeueWait(context.Background())
			errc <- err
		}()
		spin(i)
		closeT(t, q)
		ended(t, "DequeueWait", errc, cqueue.ErrClosed)
	}
}

func TestCancelEndsQueueWaits(t *testing.T) {
	q := openQ(t, 1)
	for i := 0; i < 1000; i++ { // cancelled before, while and right after the wait begins
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := q.DequeueWait(ctx)
			errc <- err
		}()
		spin(i)
		cancel()
		ended(t, "DequeueWait", errc, context.Canceled)
	}
	if err := q.Enqueue([]byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- q.EnqueueWait(ctx, []byte("y")) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	ended(t, "EnqueueWait", errc, context.Canceled)
}

// An interrupt ends every wait on the handle: the one whose context was not
// cancelled waits again and still gets its message.
func TestCancelOfOneWaiterLeavesTheOtherWaiting(t *testing.T) {
	q := openQ(t, 4)
	type result struct {
		msg []byte
		err error
	}
	stays := make(chan result, 1)
	go func() {
		m, err := q.DequeueWait(context.Background())
		stays <- result{m, err}
	}()
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := q.DequeueWait(ctx)
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond) // both waiting in the library by now, most likely
		cancel()
		ended(t, "cancelled DequeueWait", errc, context.Canceled)
		select {
		case r := <-stays:
			t.Fatalf("round %d: the other wait ended too: %q, %v", i, r.msg, r.err)
		default:
		}
	}
	if err := q.Enqueue([]byte("m")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-stays:
		if r.err != nil || string(r.msg) != "m" {
			t.Fatalf("want \"m\", got %q, %v", r.msg, r.err)
		}
	case <-time.After(hang):
		t.Fatal("the other wait did not get the message")
	}
}

func TestCancelAndCloseEndPolls(t *testing.T) {
	b := openB(t)
	s, err := b.Subscribe("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 2)
		go func() {
			_, err := s.Poll(ctx)
			errc <- err
		}()
		go func() {
			_, err := s.PollBatch(ctx, 16)
			errc <- err
		}()
		spin(i)
		cancel()
		ended(t, "Poll", errc, context.Canceled)
		ended(t, "PollBatch", errc, context.Canceled)
	}
	errc := make(chan error, 2)
	for i := 0; i < 2; i++ { // one waits in the library, the other for its turn
		go func() {
			_, err := s.Poll(context.Background())
			errc <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	closeT(t, s)
	ended(t, "Poll", errc, cqueue.ErrClosed)
	ended(t, "Poll", errc, cqueue.ErrClosed)
}

// Calls that do not wait go before a poll waiting in another goroutine, which
// then waits again and gets the next record.
func TestCallsGoBeforeAWaitingPoll(t *testing.T) {
	b := openB(t)
	s, err := b.Subscribe("t", &cqueue.SubscribeOptions{DurableID: "d", Earliest: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish("t", []byte("first")); err != nil {
		t.Fatal(err)
	}
	first := pollT(t, s)
	type result struct {
		m   *cqueue.Message
		err error
	}
	polled := make(chan result, 1)
	go func() {
		m, err := s.Poll(context.Background())
		polled <- result{m, err}
	}()
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		if err := s.Ack(first); err != nil {
			done <- err
			return
		}
		if _, err := s.TryPoll(); !errors.Is(err, cqueue.ErrTimeout) {
			done <- err
			return
		}
		st, err := s.Stats("t")
		if err == nil && st.AckedOffset != 1 {
			err = errors.New("the ack is not in the stats")
		}
		done <- err
	}()
	ended(t, "Ack, TryPoll and Stats", done, nil)
	select {
	case r := <-polled:
		t.Fatalf("the poll ended: %v, %v", r.m, r.err)
	default:
	}
	if _, err := b.Publish("t", []byte("second")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-polled:
		if r.err != nil || string(r.m.Data) != "second" {
			t.Fatalf("want \"second\", got %v, %v", r.m, r.err)
		}
	case <-time.After(hang):
		t.Fatal("the poll did not get the record")
	}
}

// A poll's deadline counts the time it waited for its turn behind another
// poll: it does not wait for the turn and then its whole timeout again.
func TestPollDeadlineCountsTheWaitForTheTurn(t *testing.T) {
	b := openB(t)
	s, err := b.Subscribe("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	first := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := s.Poll(ctx)
		first <- err
	}()
	time.Sleep(50 * time.Millisecond) // the first poll holds the turn, most likely
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := s.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second poll: want DeadlineExceeded, got %v", err)
	}
	// Waiting for the turn (until the first poll's deadline, 1 s after t0) and
	// then 1.5 s more would end 2.5 s after t0 at the earliest.
	if took := time.Since(t0); took >= 2500*time.Millisecond {
		t.Fatalf("the second poll returned %v after the first began", took)
	}
	ended(t, "first poll", first, context.DeadlineExceeded)
}
