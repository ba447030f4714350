package cqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"cqueue"
)

func openBroker(t *testing.T, dir string, opts *cqueue.BrokerOptions) *cqueue.Broker {
	t.Helper()
	b, err := cqueue.OpenBroker(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func pollT(t *testing.T, s *cqueue.Subscription) *cqueue.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBrokerPublishAndPollInOrder(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	s, err := b.Subscribe("orders.>", &cqueue.SubscribeOptions{Earliest: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint64{0, 1} {
		off, err := b.Publish("orders.eu", []byte(fmt.Sprint("eu", i)))
		if err != nil || off != want {
			t.Fatalf("publish: %d %v", off, err)
		}
	}
	if off, err := b.Publish("orders.us", nil); err != nil || off != 0 {
		t.Fatalf("offsets are per topic: %d %v", off, err)
	}
	var eu []string
	for i := 0; i < 3; i++ {
		m := pollT(t, s)
		if m.TimestampNs <= 0 {
			t.Fatal("no timestamp")
		}
		if m.Topic == "orders.eu" {
			if m.Offset != uint64(len(eu)) {
				t.Fatalf("offset %d", m.Offset)
			}
			eu = append(eu, string(m.Data))
		} else if m.Topic != "orders.us" || len(m.Data) != 0 {
			t.Fatalf("unexpected %+v", m)
		}
	}
	if fmt.Sprint(eu) != "[eu0 eu1]" {
		t.Fatal(eu)
	}
	if _, err := s.TryPoll(); !errors.Is(err, cqueue.ErrTimeout) {
		t.Fatalf("TryPoll on nothing: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll past its context: %v", err)
	}
	topics, err := b.Topics()
	sort.Strings(topics)
	if err != nil || fmt.Sprint(topics) != "[orders.eu orders.us]" {
		t.Fatal(topics, err)
	}
}

func TestBrokerErrors(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	if _, err := b.Publish("bad topic!", []byte("x")); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("a.b", &cqueue.SubscribeOptions{DurableID: "bad id!"}); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	s, err := b.Subscribe("a.b", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close() // closes s too
	if _, err := s.TryPoll(); !errors.Is(err, cqueue.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := b.Publish("a.b", nil); !errors.Is(err, cqueue.ErrClosed) {
		t.Fatal(err)
	}
}

func TestBrokerDurableResumesAfterAcks(t *testing.T) {
	dir := t.TempDir()
	b, err := cqueue.OpenBroker(dir, &cqueue.BrokerOptions{Fsync: cqueue.FsyncGroup})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Subscribe("jobs", &cqueue.SubscribeOptions{DurableID: "worker-1", Earliest: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := b.Publish("jobs", []byte(fmt.Sprint("r", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		m := pollT(t, s)
		if m.Offset != uint64(i) {
			t.Fatalf("offset %d", m.Offset)
		}
		if err := s.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBroker(t, dir, nil)
	s, err = b.Subscribe("jobs", &cqueue.SubscribeOptions{DurableID: "worker-1"})
	if err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, s); m.Offset != 3 || string(m.Data) != "r3" {
		t.Fatalf("resumed at %+v", m)
	}
	if err := s.Seek("", 1); err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, s); m.Offset != 1 {
		t.Fatalf("after seek %+v", m)
	}
}

func TestBrokerGoroutinesAndCloseEndsPoll(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	s, err := b.Subscribe("mt", &cqueue.SubscribeOptions{Earliest: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := b.Publish("mt", []byte(fmt.Sprint(g, "-", i))); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	seen := map[string]bool{}
	for i := 0; i < 400; i++ {
		m := pollT(t, s)
		if m.Offset != uint64(i) || seen[string(m.Data)] {
			t.Fatalf("record %d: %+v", i, m)
		}
		seen[string(m.Data)] = true
	}
	wg.Wait()
	done := make(chan error)
	go func() {
		_, err := s.Poll(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_ = s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, cqueue.ErrClosed) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Poll")
	}
}
