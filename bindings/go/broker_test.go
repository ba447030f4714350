package cqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
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

func TestBrokerPublishBatchAndPollBatch(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	s, err := b.Subscribe("batch", &cqueue.SubscribeOptions{Earliest: true})
	if err != nil {
		t.Fatal(err)
	}
	first, n, err := b.PublishBatch("batch", [][]byte{[]byte("a"), nil, []byte("ccc")})
	if err != nil || first != 0 || n != 3 {
		t.Fatalf("publish batch: %d %d %v", first, n, err)
	}
	first, n, err = b.PublishBatch("batch", [][]byte{[]byte("d"), []byte("e")})
	if err != nil || first != 3 || n != 2 {
		t.Fatalf("second publish batch: %d %d %v", first, n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.PollBatch(ctx, 100) // every record is there: one call returns them all
	if err != nil || len(msgs) != 5 {
		t.Fatalf("poll batch: %d %v", len(msgs), err)
	}
	for i, want := range []string{"a", "", "ccc", "d", "e"} {
		if m := msgs[i]; m.Offset != uint64(i) || string(m.Data) != want || m.Topic != "batch" {
			t.Fatalf("record %d: %+v", i, m)
		}
	}
	if _, err := s.TryPollBatch(10); !errors.Is(err, cqueue.ErrTimeout) {
		t.Fatal(err)
	}
	if _, _, err := b.PublishBatch("batch", [][]byte{[]byte("f"), []byte("g"), []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if msgs, err := s.TryPollBatch(2); err != nil || len(msgs) != 2 || msgs[1].Offset != 6 {
		t.Fatalf("at most max: %v %v", msgs, err)
	}
	if _, err := s.PollBatch(ctx, 0); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	if _, _, err := b.PublishBatch("batch", nil); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	if _, _, err := b.PublishBatch("bad topic!", [][]byte{nil}); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
	big := make([]byte, 16<<20+1) // CQ_BROKER_MAX_MESSAGE_SIZE + 1
	if _, _, err := b.PublishBatch("batch", [][]byte{nil, big}); !errors.Is(err, cqueue.ErrMsgSize) {
		t.Fatal(err)
	}
}

// publishSpaced publishes r0..r5 to topic with a pause between r2 and r3, and
// returns the timestamp of r3 (later than those of r0..r2).
func publishSpaced(t *testing.T, b *cqueue.Broker, topic string) time.Time {
	t.Helper()
	for i := 0; i < 6; i++ {
		if i == 3 {
			time.Sleep(2 * time.Millisecond)
		}
		if _, err := b.Publish(topic, []byte(fmt.Sprint("r", i))); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Subscribe(topic, &cqueue.SubscribeOptions{Start: cqueue.StartAtOffset(3)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := pollT(t, s)
	if m.Offset != 3 {
		t.Fatalf("StartAtOffset(3) started at %d", m.Offset)
	}
	return time.Unix(0, m.TimestampNs)
}

func TestBrokerStartPositionsAndSeekTime(t *testing.T) {
	b := openBroker(t, t.TempDir(), nil)
	t3 := publishSpaced(t, b, "st")
	s, err := b.Subscribe("st", &cqueue.SubscribeOptions{Start: cqueue.StartAtTime(t3)})
	if err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, s); m.Offset != 3 {
		t.Fatalf("StartAtTime started at %d", m.Offset)
	}
	if err := s.Seek("", 0); err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, s); m.Offset != 0 {
		t.Fatalf("after seek: %d", m.Offset)
	}
	if err := s.SeekTime(t3); err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, s); m.Offset != 3 {
		t.Fatalf("after SeekTime: %d", m.Offset)
	}
	if err := s.SeekTime(time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, s); m.Offset != 0 {
		t.Fatalf("after SeekTime(epoch): %d", m.Offset)
	}
	// A durable subscription starts there too, in topics it has no ack for yet.
	d, err := b.Subscribe("st", &cqueue.SubscribeOptions{DurableID: "late", Start: cqueue.StartAtOffset(5)})
	if err != nil {
		t.Fatal(err)
	}
	if m := pollT(t, d); m.Offset != 5 || string(m.Data) != "r5" {
		t.Fatalf("durable StartAtOffset: %+v", m)
	}
	if _, err := b.Subscribe("st", &cqueue.SubscribeOptions{Start: cqueue.StartAtOffset(1 << 63)}); !errors.Is(err, cqueue.ErrInvalid) {
		t.Fatal(err)
	}
}

func TestBrokerStatsAndMetrics(t *testing.T) {
	b := openBroker(t, t.TempDir(), &cqueue.BrokerOptions{Fsync: cqueue.FsyncGroup})
	s, err := b.Subscribe("m.t", &cqueue.SubscribeOptions{DurableID: "watcher", Earliest: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.PublishBatch("m.t", [][]byte{[]byte("12345"), []byte("67890"), []byte("x")}); err != nil {
		t.Fatal(err)
	}
	m := pollT(t, s)
	if err := s.Ack(m); err != nil {
		t.Fatal(err)
	}
	pollT(t, s)
	st, err := s.Stats("m.t")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Durable || st.Delivered != 2 || st.NextOffset != 2 || st.AckedOffset != 1 || st.EndOffset != 3 ||
		st.LagRecords != 1 || st.LagBytes == 0 || st.DurableOffset != 3 || st.Missed != 0 {
		t.Fatalf("subscription stats %+v", st)
	}
	if _, err := s.Stats("other"); !errors.Is(err, cqueue.ErrNotFound) {
		t.Fatal(err)
	}
	bs, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if bs.Topics != 1 || bs.Published != 3 || bs.PublishedBytes != 11 || bs.Delivered != 2 || bs.Fsyncs == 0 ||
		bs.PublishFailures != 0 || bs.SyncFailed {
		t.Fatalf("broker stats %+v", bs)
	}
	text, err := b.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cqueue_broker_published_total 3\n",
		`cqueue_topic_end_offset{topic="m.t"} 3` + "\n",
		`cqueue_subscriber_acked_offset{subscriber="watcher",topic="m.t"} 1` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("metrics lack %q:\n%s", want, text)
		}
	}
	_ = b.Close()
	if _, err := b.Metrics(); !errors.Is(err, cqueue.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := b.Stats(); !errors.Is(err, cqueue.ErrClosed) {
		t.Fatal(err)
	}
}
