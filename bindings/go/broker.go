package cqueue

import (
	"context"
	"runtime"
	"strings"
	"sync"

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
	mu   sync.RWMutex // Close (write) against operations in flight (read)
	h    raw.CqbBroker
	dir  string
	subs map[*Subscription]struct{}
	smu  sync.Mutex // subs
}

// Message is one delivered record (its own copy).
type Message struct {
	Topic       string
	Offset      uint64
	TimestampNs int64 // CLOCK_REALTIME at publish
	Data        []byte
}

// SubscribeOptions for Broker.Subscribe; the zero value is an ephemeral
// subscription starting at the next record published.
type SubscribeOptions struct {
	DurableID string // non-empty: durable, resuming after this subscriber's acks
	Earliest  bool   // a new subscription starts at the oldest retained record
}

// Subscription delivers the records of the topics matching its pattern. Its
// methods may be called from any goroutine; polls are serialised (the C API
// allows one thread at a time).
type Subscription struct {
	mu     sync.Mutex // one call at a time; Close between wait slices
	h      raw.CqbSubscription
	broker *Broker
	topic  []byte
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
	b := &Broker{h: h, dir: dir, subs: map[*Subscription]struct{}{}}
	runtime.SetFinalizer(b, func(b *Broker) { _ = b.Close() })
	return b, nil
}

// Close closes every open subscription of b, then b. Safe to call twice.
func (b *Broker) Close() error {
	b.smu.Lock()
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.smu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.h == nil {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := raw.Cqb_broker_close(b.h)
	raw.DeleteCqbBroker(b.h)
	b.h = nil
	runtime.SetFinalizer(b, nil)
	if rc < 0 {
		return lastError("close broker", rc)
	}
	return nil
}

// Publish appends data to topic and returns its offset.
func (b *Broker) Publish(topic string, data []byte) (uint64, error) {
	if hasNUL(topic) {
		return 0, &Error{Code: raw.EINVAL, Op: "publish", Detail: "topic contains a NUL byte"}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.h == nil {
		return 0, &Error{Code: raw.ECLOSED, Op: "publish"}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	off := raw.Cqb_broker_publish(b.h, topic, data)
	if off < 0 {
		return 0, lastError("publish "+topic, int(off))
	}
	return uint64(off), nil
}

// Subscribe to every topic matching pattern ("a.*.c", "a.>"). opts may be nil.
func (b *Broker) Subscribe(pattern string, opts *SubscribeOptions) (*Subscription, error) {
	if opts == nil {
		opts = &SubscribeOptions{}
	}
	if hasNUL(pattern, opts.DurableID) {
		return nil, &Error{Code: raw.EINVAL, Op: "subscribe", Detail: "argument contains a NUL byte"}
	}
	var flags uint
	if opts.Earliest {
		flags |= uint(raw.SUB_EARLIEST)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.h == nil {
		return nil, &Error{Code: raw.ECLOSED, Op: "subscribe"}
	}
	h := raw.NewCqbSubscription()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := raw.Cqb_broker_subscribe(b.h, h, pattern, opts.DurableID, flags,
		uint(raw.START_DEFAULT), 0); rc < 0 {
		err := lastError("subscribe "+pattern, rc)
		raw.DeleteCqbSubscription(h)
		return nil, err
	}
	s := &Subscription{h: h, broker: b, topic: make([]byte, 256)}
	b.smu.Lock()
	b.subs[s] = struct{}{}
	b.smu.Unlock()
	return s, nil
}

// Topics lists the topics in the directory.
func (b *Broker) Topics() ([]string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.h == nil {
		return nil, &Error{Code: raw.ECLOSED, Op: "topics"}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, 4096)
	for {
		need := raw.Cqb_broker_text(b.h, 0, buf)
		if need < 0 {
			return nil, lastError("topics", int(need))
		}
		if int(need) <= len(buf) {
			var out []string
			for _, t := range strings.Split(string(buf[:max(0, need-1)]), "\n") {
				if t != "" {
					out = append(out, t)
				}
			}
			return out, nil
		}
		buf = make([]byte, need)
	}
}

// Close unsubscribes (persisting pending acks). Safe to call twice; a Poll
// waiting in another goroutine returns ErrClosed within one wait slice.
func (s *Subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := raw.Cqb_sub_close(s.h)
	raw.DeleteCqbSubscription(s.h)
	s.h = nil
	s.broker.smu.Lock()
	delete(s.broker.subs, s)
	s.broker.smu.Unlock()
	if rc < 0 {
		return lastError("unsubscribe", rc)
	}
	return nil
}

func (s *Subscription) pollOnce(timeoutNs int64) (*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return nil, &Error{Code: raw.ECLOSED, Op: "poll"}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n := raw.Cqb_sub_poll(s.h, timeoutNs)
	if n < 0 {
		return nil, lastError("poll", n)
	}
	data := make([]byte, n)
	raw.Cqb_sub_copy_data(s.h, data)
	tl := raw.Cqb_sub_copy_topic(s.h, s.topic)
	return &Message{
		Topic:       string(s.topic[:min(tl, len(s.topic))]),
		Offset:      uint64(raw.Cqb_sub_offset(s.h)),
		TimestampNs: raw.Cqb_sub_timestamp(s.h),
		Data:        data,
	}, nil
}

// TryPoll returns the next record without waiting: ErrTimeout when there is none.
func (s *Subscription) TryPoll() (*Message, error) { return s.pollOnce(0) }

// Poll returns the next record of any matching topic, waiting until ctx is
// done (then it returns ctx.Err()). Records of one topic come in offset order.
func (s *Subscription) Poll(ctx context.Context) (*Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := s.pollOnce(sliceNs(ctx))
		if err == nil || !isTimeout(err) {
			return m, err
		}
	}
}

func (s *Subscription) call(op string, f func() int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return &Error{Code: raw.ECLOSED, Op: op}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := f(); rc < 0 {
		return lastError(op, rc)
	}
	return nil
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
