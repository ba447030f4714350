package cqueue

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"cqueue/internal/raw"
)

// Fsync policies of BrokerOptions.Fsync: when a publish is on disk.
const (
	FsyncNone     = 0 // page cache only: survives process crashes, not power loss
	FsyncInterval = 1 // a background thread fdatasyncs every FsyncIntervalMs
	FsyncGroup    = 2 // Publish returns once its record is synced (shared fdatasyncs)
	FsyncAlways   = 3 // one fdatasync per Publish
)

// Overflow policies of BrokerOptions.Overflow: what Publish does when retention
// would delete records a durable subscriber has not acknowledged.
const (
	OverflowBlock = 0 // wait for acks, then ErrTimeout
	OverflowFail  = 1 // ErrFull
	OverflowDrop  = 2 // delete anyway; the subscriber counts the records as missed
)

// BrokerOptions for OpenBroker; the zero value is the library's defaults.
type BrokerOptions struct {
	Fsync           uint32 // Fsync*
	FsyncIntervalMs uint32 // FsyncInterval period (0: 100 ms)
	Overflow        uint32 // Overflow*
	SegmentSize     int64  // bytes, multiple of 4096 (0: 64 MiB)
	Mode            uint32 // permission bits of created files (0: 0600)
}

// Broker is an open broker directory (durable publish/subscribe over
// memory-mapped logs); safe for concurrent use by many goroutines.
type Broker struct {
	mu     sync.RWMutex // Close (write) against operations in flight (read)
	closed bool         // under mu: Close has begun
	h      raw.CqbBroker
	dir    string
	subs   map[io.Closer]struct{} // open *Subscription and *PushSubscription
	smu    sync.Mutex             // subs
}

// Message is one delivered record (its own copy).
type Message struct {
	Topic       string
	Offset      uint64
	TimestampNs int64 // CLOCK_REALTIME at publish
	Data        []byte
}

// SubscribeOptions for Broker.Subscribe and Broker.SubscribePush; the zero value
// is an ephemeral subscription starting at the next record published.
type SubscribeOptions struct {
	DurableID string // non-empty: durable, resuming after this subscriber's acks
	Earliest  bool   // a new subscription starts at the oldest retained record
	// Start, when set by StartAtOffset or StartAtTime, is where the subscription
	// starts in each matching topic (for a durable one, only in topics it has no
	// ack for yet).
	Start Start
}

// Start is a start position of SubscribeOptions.Start.
type Start struct {
	kind   uint32 // raw.START_*; 0 is START_DEFAULT
	offset uint64
	time   time.Time
}

// StartAtOffset starts at offset in each matching topic (clamped to the records
// retained). Subscribing fails with ErrInvalid above math.MaxInt64.
func StartAtOffset(offset uint64) Start {
	return Start{kind: uint32(raw.START_OFFSET), offset: offset}
}

// StartAtTime starts at the first record published at or after t (years 1678
// to 2262: nanoseconds since the epoch in an int64).
func StartAtTime(t time.Time) Start { return Start{kind: uint32(raw.START_TIME), time: t} }

// Subscription delivers the records of the topics matching its pattern. Its
// methods may be called from any goroutine; they are serialised (the C API
// allows one thread at a time): a poll waits for a poll in progress, any
// other call goes first (see turn). Close ends a poll in progress at once.
type Subscription struct {
	g      gate // Close against the calls in flight
	t      turn // one call at a time
	h      raw.CqbSubscription
	broker *Broker
}

// turn serialises the calls on a subscription. A poll holds it while it waits
// in the library; a call that does not wait and finds it held by a poll ends
// that wait with the subscription's interrupt and goes first (polls waiting
// for the turn let such calls go first); the poll then waits again. So an Ack
// from another goroutine is not held up until a record comes.
type turn struct {
	mu      sync.Mutex
	held    bool
	polling bool          // the holder is a poll
	urgent  int           // calls that do not wait, waiting for the turn
	free    chan struct{} // while someone waits for the turn: closed by release
}

// released is the channel release closes next (t.mu held).
func (t *turn) released() <-chan struct{} {
	if t.free == nil {
		t.free = make(chan struct{})
	}
	return t.free
}

// takeToPoll takes the turn for a poll, after the calls that do not wait:
// ctx.Err() if ctx is done first.
func (t *turn) takeToPoll(ctx context.Context) error {
	t.mu.Lock()
	for t.held || t.urgent > 0 {
		free := t.released()
		t.mu.Unlock()
		select {
		case <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		t.mu.Lock()
	}
	t.held, t.polling = true, true
	t.mu.Unlock()
	return nil
}

// take takes the turn for a call that does not wait, ending the wait of a
// poll that holds it with interrupt.
func (t *turn) take(interrupt func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.urgent++
	defer func() { t.urgent-- }()
	for t.held {
		free, polling := t.released(), t.polling
		t.mu.Unlock()
		var err error
		if polling {
			err = interruptUntil(free, interrupt)
		} else {
			<-free
		}
		t.mu.Lock()
		if err != nil {
			if !t.held {
				t.wake() // polls that let this call go first
			}
			return err
		}
	}
	t.held, t.polling = true, false
	return nil
}

func (t *turn) release() {
	t.mu.Lock()
	t.held = false
	t.wake()
	t.mu.Unlock()
}

// wake lets those waiting for the turn look again (t.mu held).
func (t *turn) wake() {
	if t.free != nil {
		close(t.free)
		t.free = nil
	}
}

// BrokerStats are the counters of a broker handle (this process) and of its directory.
type BrokerStats struct {
	Topics          uint64 // topics in the directory
	Published       uint64 // records published through this handle
	PublishedBytes  uint64 // their body bytes
	Delivered       uint64 // records delivered to this handle's subscriptions
	Fsyncs          uint64 // fdatasync calls of this handle
	HolesSkipped    uint64 // dead publishers' records turned to padding (all processes)
	SegmentsDeleted uint64 // by retention, through this handle
	PublishFailures uint64 // publishes that returned an error
	SyncFailed      bool   // an fdatasync failed: publishes return ErrIO
}

// SubscriptionStats are the counters of a subscription for one topic.
type SubscriptionStats struct {
	Durable       bool
	Delivered     uint64 // records of the topic delivered
	Missed        uint64 // deleted by retention before delivery, or dead publishers' gaps
	NextOffset    uint64 // offset of the next record to deliver
	AckedOffset   uint64 // next offset after the last ack (0: none)
	EndOffset     uint64 // next offset to be appended to the topic
	DurableOffset uint64 // records below it are as durable as the fsync policy promises
	LagRecords    uint64 // EndOffset - NextOffset
	LagBytes      uint64 // bytes of the log from the cursor to the end
}

func hasNUL(s ...string) bool {
	for _, x := range s {
		if strings.IndexByte(x, 0) >= 0 {
			return true
		}
	}
	return false
}

// OpenBroker opens (creating if missing) the broker directory dir. opts may be nil.
func OpenBroker(dir string, opts *BrokerOptions) (*Broker, error) {
	if opts == nil {
		opts = &BrokerOptions{}
	}
	if hasNUL(dir) {
		return nil, &Error{Code: raw.EINVAL, Op: "open broker", Detail: "directory contains a NUL byte"}
	}
	h := raw.NewCqbBroker()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_broker_open(h, dir, uint(opts.Fsync), uint(opts.FsyncIntervalMs),
		uint(opts.Overflow), opts.SegmentSize, uint(opts.Mode)); rc < 0 {
		err := lastError("open broker "+dir, rc)
		raw.DeleteCqbBroker(h)
		return nil, err
	}
	b := &Broker{h: h, dir: dir, subs: map[io.Closer]struct{}{}}
	runtime.SetFinalizer(b, func(b *Broker) { _ = b.Close() })
	return b, nil
}

// call runs f with b's handle under the read lock, on a locked OS thread (the
// library's error detail is per thread); a negative result becomes an *Error.
func (b *Broker) call(op string, f func(h raw.CqbBroker) int64) (int64, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return 0, &Error{Code: raw.ECLOSED, Op: op}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f(b.h)
	if rc < 0 {
		return 0, lastError(op, int(rc))
	}
	return rc, nil
}

// Close closes every open subscription of b (a push subscription after its batch
// in flight), then b. Safe to call twice. ErrPerm from a push handler (it would
// wait for that handler itself).
func (b *Broker) Close() error {
	if inPushHandler() {
		return errInPushHandler("close broker")
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true // the calls in flight have ended; later ones get ErrClosed
	b.mu.Unlock()
	// Without b.mu: a push handler may still call b while its subscription waits for it.
	b.smu.Lock()
	subs := make([]io.Closer, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.smu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := raw.Cqb_broker_close(b.h)
	raw.DeleteCqbBroker(b.h)
	runtime.SetFinalizer(b, nil)
	if rc < 0 {
		return lastError("close broker", rc)
	}
	return nil
}

func (b *Broker) adopt(s io.Closer) {
	b.smu.Lock()
	b.subs[s] = struct{}{}
	b.smu.Unlock()
}

func (b *Broker) forget(s io.Closer) {
	b.smu.Lock()
	delete(b.subs, s)
	b.smu.Unlock()
}

// Publish appends data to topic and returns its offset.
func (b *Broker) Publish(topic string, data []byte) (uint64, error) {
	if hasNUL(topic) {
		return 0, &Error{Code: raw.EINVAL, Op: "publish", Detail: "topic contains a NUL byte"}
	}
	off, err := b.call("publish", func(h raw.CqbBroker) int64 {
		return raw.Cqb_broker_publish(h, topic, data)
	})
	return uint64(off), err
}

// PublishBatch appends msgs to topic in one call and returns the offset of the
// first; their offsets are consecutive. n is below len(msgs) only when an error
// stopped the batch after n records (err is nil then); when none was appended,
// err says why.
func (b *Broker) PublishBatch(topic string, msgs [][]byte) (first uint64, n int, err error) {
	const op = "publish batch"
	if hasNUL(topic) {
		return 0, 0, &Error{Code: raw.EINVAL, Op: op, Detail: "topic contains a NUL byte"}
	}
	if len(msgs) == 0 {
		return 0, 0, &Error{Code: raw.EINVAL, Op: op, Detail: "no record to publish"}
	}
	// Framed as cqb_broker_publish_batch takes them: a 4-byte little-endian length, the bytes.
	size := 0
	for i, m := range msgs {
		if len(m) > raw.BROKER_MAX_MESSAGE_SIZE {
			return 0, 0, &Error{Code: raw.EMSGSIZE, Op: op,
				Detail: fmt.Sprintf("record %d has %d bytes (max %d)", i, len(m), raw.BROKER_MAX_MESSAGE_SIZE)}
		}
		size += 4 + len(m)
	}
	frames := make([]byte, 0, size)
	for _, m := range msgs {
		frames = binary.LittleEndian.AppendUint32(frames, uint32(len(m)))
		frames = append(frames, m...)
	}
	out := raw.NewCqbBatchPublish()
	defer raw.DeleteCqbBatchPublish(out)
	if _, err := b.call(op, func(h raw.CqbBroker) int64 {
		return int64(raw.Cqb_broker_publish_batch(h, topic, frames, out))
	}); err != nil {
		return 0, 0, err
	}
	return uint64(out.GetFirst_offset()), int(out.GetCount()), nil
}

// subscribeArgs checks pattern and opts and returns the facades' flags, start and
// start value.
func subscribeArgs(op, pattern string, opts *SubscribeOptions) (
	flags, start uint, value int64, err error) {
	if hasNUL(pattern, opts.DurableID) {
		return 0, 0, 0, &Error{Code: raw.EINVAL, Op: op, Detail: "argument contains a NUL byte"}
	}
	if opts.Earliest {
		flags |= uint(raw.SUB_EARLIEST)
	}
	switch int(opts.Start.kind) {
	case raw.START_OFFSET:
		if opts.Start.offset > math.MaxInt64 {
			return 0, 0, 0, &Error{Code: raw.EINVAL, Op: op, Detail: "start offset above math.MaxInt64"}
		}
		value = int64(opts.Start.offset)
	case raw.START_TIME:
		value = opts.Start.time.UnixNano()
	}
	return flags, uint(opts.Start.kind), value, nil
}

// Subscribe to every topic matching pattern ("a.*.c", "a.>"). opts may be nil.
func (b *Broker) Subscribe(pattern string, opts *SubscribeOptions) (*Subscription, error) {
	if opts == nil {
		opts = &SubscribeOptions{}
	}
	const op = "subscribe"
	flags, start, value, err := subscribeArgs(op, pattern, opts)
	if err != nil {
		return nil, err
	}
	s := &Subscription{h: raw.NewCqbSubscription(), broker: b}
	if _, err := b.call(op, func(h raw.CqbBroker) int64 {
		rc := raw.Cqb_broker_subscribe(h, s.h, pattern, opts.DurableID, flags, start, value)
		if rc >= 0 {
			b.adopt(s) // under b.mu: Close cannot miss it
		}
		return int64(rc)
	}); err != nil {
		raw.DeleteCqbSubscription(s.h)
		return nil, err
	}
	return s, nil
}

// text is one of the directory's texts (what 0: topics, 1: metrics; see cqb_broker_text).
func (b *Broker) text(op string, what int) (string, error) {
	buf := make([]byte, 4096)
	for {
		need, err := b.call(op, func(h raw.CqbBroker) int64 { return raw.Cqb_broker_text(h, what, buf) })
		if err != nil {
			return "", err
		}
		if int(need) <= len(buf) {
			return string(buf[:max(0, need-1)]), nil
		}
		buf = make([]byte, need)
	}
}

// Topics lists the topics in the directory.
func (b *Broker) Topics() ([]string, error) {
	text, err := b.text("topics", 0)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range strings.Split(text, "\n") {
		if t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// Metrics returns every metric of the directory and of this handle in the
// Prometheus text exposition format.
func (b *Broker) Metrics() (string, error) { return b.text("metrics", 1) }

// Stats reads the counters of this handle and of the directory.
func (b *Broker) Stats() (BrokerStats, error) {
	s := raw.NewCqbBrokerStats()
	defer raw.DeleteCqbBrokerStats(s)
	if _, err := b.call("broker stats", func(h raw.CqbBroker) int64 {
		return int64(raw.Cqb_broker_stats(h, s))
	}); err != nil {
		return BrokerStats{}, err
	}
	return BrokerStats{
		Topics:          uint64(s.GetTopics()),
		Published:       uint64(s.GetPublished()),
		PublishedBytes:  uint64(s.GetPublished_bytes()),
		Delivered:       uint64(s.GetDelivered()),
		Fsyncs:          uint64(s.GetFsyncs()),
		HolesSkipped:    uint64(s.GetHoles_skipped()),
		SegmentsDeleted: uint64(s.GetSegments_deleted()),
		PublishFailures: uint64(s.GetPublish_failures()),
		SyncFailed:      s.GetSync_failed() != 0,
	}, nil
}

// Close unsubscribes (persisting pending acks). Safe to call twice. A Poll
// waiting in another goroutine ends at once with ErrClosed.
func (s *Subscription) Close() error {
	return s.g.close(s.interrupt, func() error {
		_, err := check("unsubscribe", func() int { return raw.Cqb_sub_close(s.h) })
		raw.DeleteCqbSubscription(s.h)
		s.h = nil
		s.broker.forget(s)
		return err
	})
}

// interrupt ends a poll on s in progress (ErrCanceled inside, see gate.wait);
// the one call the C API allows while another thread uses s.
func (s *Subscription) interrupt() error {
	_, err := check("interrupt", func() int { return raw.Cqb_sub_interrupt(s.h) })
	return err
}

// messages turns records into Messages.
func messages(recs []raw.Record) []*Message {
	all := make([]Message, len(recs))
	out := make([]*Message, len(recs))
	for i, r := range recs {
		all[i] = Message{Topic: r.Topic, Offset: r.Offset, TimestampNs: r.TimestampNs, Data: r.Data}
		out[i] = &all[i]
	}
	return out
}

// pollNow polls for up to max records without waiting.
func (s *Subscription) pollNow(max int) ([]*Message, error) {
	var recs []raw.Record
	err := s.call("poll", func() int {
		n := raw.Cqb_sub_poll_batch(s.h, uint(max), 0)
		if n > 0 {
			recs = raw.SubBatch(s.h, n)
		}
		return n
	})
	if err != nil {
		return nil, err
	}
	return messages(recs), nil
}

// poll waits for up to max records until one comes, ctx is done or s is
// closed (see gate.wait); it takes the turn for each wait in the library.
func (s *Subscription) poll(ctx context.Context, max int) ([]*Message, error) {
	var recs []raw.Record
	if _, err := s.g.wait(ctx, "poll", s.interrupt, func(int64) int {
		if s.t.takeToPoll(ctx) != nil {
			return raw.ECANCELED // gate.wait returns ctx.Err()
		}
		defer s.t.release()
		if s.g.isClosing() {
			return raw.ECANCELED // gate.wait returns ErrClosed
		}
		// What is left now, after waiting for the turn (gate.wait relies on
		// the wait ending by ctx's deadline).
		timeoutNs := timeLeft(ctx)
		if timeoutNs == 0 {
			return raw.ETIMEDOUT // gate.wait returns context.DeadlineExceeded
		}
		n := raw.Cqb_sub_poll_batch(s.h, uint(max), timeoutNs)
		if n > 0 {
			recs = raw.SubBatch(s.h, n)
		}
		return n
	}); err != nil {
		return nil, err
	}
	return messages(recs), nil
}

// TryPoll returns the next record without waiting: ErrTimeout when there is none.
func (s *Subscription) TryPoll() (*Message, error) {
	m, err := s.pollNow(1)
	if err != nil {
		return nil, err
	}
	return m[0], nil
}

// Poll returns the next record of any matching topic, waiting until ctx is
// done (then it returns ctx.Err()). Records of one topic come in offset order.
func (s *Subscription) Poll(ctx context.Context) (*Message, error) {
	m, err := s.poll(ctx, 1)
	if err != nil {
		return nil, err
	}
	return m[0], nil
}

func checkBatchMax(max int) error {
	if max < 1 || max > raw.POLL_BATCH_MAX {
		return &Error{Code: raw.EINVAL, Op: "poll batch",
			Detail: fmt.Sprintf("max must be 1 .. %d", raw.POLL_BATCH_MAX)}
	}
	return nil
}

// TryPollBatch returns up to max (1 .. 4096) records that are there, in one
// call, without waiting: ErrTimeout when there is none.
func (s *Subscription) TryPollBatch(max int) ([]*Message, error) {
	if err := checkBatchMax(max); err != nil {
		return nil, err
	}
	return s.pollNow(max)
}

// PollBatch waits as Poll for the first record and returns it with those that
// are there after it, up to max (1 .. 4096) in all, in one call.
func (s *Subscription) PollBatch(ctx context.Context, max int) ([]*Message, error) {
	if err := checkBatchMax(max); err != nil {
		return nil, err
	}
	return s.poll(ctx, max)
}

// call runs f, a facade call that does not wait, with the turn (see turn).
func (s *Subscription) call(op string, f func() int) error {
	if err := s.g.enter(op); err != nil {
		return err
	}
	defer s.g.leave()
	if err := s.t.take(s.interrupt); err != nil {
		return err
	}
	defer s.t.release()
	_, err := check(op, f)
	return err
}

// Ack acknowledges m and every earlier record of its topic.
func (s *Subscription) Ack(m *Message) error { return s.AckOffset(m.Topic, m.Offset) }

// AckOffset acknowledges every record of topic up to and including offset.
func (s *Subscription) AckOffset(topic string, offset uint64) error {
	if hasNUL(topic) {
		return &Error{Code: raw.EINVAL, Op: "ack", Detail: "topic contains a NUL byte"}
	}
	return s.call("ack", func() int { return raw.Cqb_sub_ack(s.h, topic, int64(offset)) })
}

// Seek moves the cursor of topic ("" = every topic) to offset.
func (s *Subscription) Seek(topic string, offset uint64) error {
	if hasNUL(topic) {
		return &Error{Code: raw.EINVAL, Op: "seek", Detail: "topic contains a NUL byte"}
	}
	return s.call("seek", func() int { return raw.Cqb_sub_seek(s.h, topic, int64(offset)) })
}

// SeekTime moves every cursor to the first record published at or after t.
func (s *Subscription) SeekTime(t time.Time) error {
	return s.call("seek time", func() int { return raw.Cqb_sub_seek_time(s.h, t.UnixNano()) })
}

// Stats reads the counters of s for topic (ErrNotFound if s has no such topic).
func (s *Subscription) Stats(topic string) (SubscriptionStats, error) {
	const op = "subscription stats"
	if hasNUL(topic) {
		return SubscriptionStats{}, &Error{Code: raw.EINVAL, Op: op, Detail: "topic contains a NUL byte"}
	}
	st := raw.NewCqbSubscriptionStats()
	defer raw.DeleteCqbSubscriptionStats(st)
	if err := s.call(op, func() int { return raw.Cqb_sub_stats(s.h, topic, st) }); err != nil {
		return SubscriptionStats{}, err
	}
	return SubscriptionStats{
		Durable:       st.GetDurable() != 0,
		Delivered:     uint64(st.GetDelivered()),
		Missed:        uint64(st.GetMissed()),
		NextOffset:    uint64(st.GetNext_offset()),
		AckedOffset:   uint64(st.GetAcked_offset()),
		EndOffset:     uint64(st.GetEnd_offset()),
		DurableOffset: uint64(st.GetDurable_offset()),
		LagRecords:    uint64(st.GetLag_records()),
		LagBytes:      uint64(st.GetLag_bytes()),
	}, nil
}
