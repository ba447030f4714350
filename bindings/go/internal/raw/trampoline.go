package raw

/*
#cgo pkg-config: cqueue
#include <stddef.h>
#include <stdint.h>
#include <cqueue/broker.h>

// In cqueue_wrap.c (cqueue.i): the records of a subscription's last cqb_sub_poll_batch.
const cq_message *cqb_go_sub_batch(uintptr_t sub);
*/
import "C"

import "unsafe"

// JobRunner runs the Go job behind handle and reports whether it panicked; it is
// set by package cqueue. JobDoner gets the job's final status exactly once.
// MessageHandler gets each message of an attached queue (a copy). PushBatch gets
// each batch of a push subscription (copies) and returns how many leading records
// the handler handled, or -1 when it panicked.
var (
	JobRunner      func(handle uintptr) (panicked bool)
	JobDoner       func(handle uintptr, status int)
	MessageHandler func(handle uintptr, msg []byte)
	PushBatch      func(handle uintptr, recs []Record) int64
)

// Record is one record of the broker, copied into Go memory.
type Record struct {
	Topic       string
	Offset      uint64
	TimestampNs int64
	Data        []byte
}

//export cqbGoRunJob
func cqbGoRunJob(handle C.uintptr_t) {
	// JobRunner recovers any panic itself: nothing unwinds into the C frames.
	if JobRunner(uintptr(handle)) {
		Cqb_pool_job_fail()
	}
}

//export cqbGoJobDone
func cqbGoJobDone(handle C.uintptr_t, status C.int) {
	JobDoner(uintptr(handle), int(status))
}

//export cqbGoMessage
func cqbGoMessage(handle C.uintptr_t, data unsafe.Pointer, n C.size_t) {
	// MessageHandler recovers any panic itself. The data is valid only during the call.
	MessageHandler(uintptr(handle), C.GoBytes(data, C.int(n)))
}

//export cqbGoPushBatch
func cqbGoPushBatch(handle C.uintptr_t, msgs *C.cq_message, n C.size_t) C.int64_t {
	// PushBatch recovers any panic itself. The records are valid only during the call.
	return C.int64_t(PushBatch(uintptr(handle), records(msgs, int(n))))
}

// SubBatch copies the n records of s's last successful Cqb_sub_poll_batch.
func SubBatch(s CqbSubscription, n int) []Record {
	return records(C.cqb_go_sub_batch(C.uintptr_t(s.Swigcptr())), n)
}

// records copies n cq_messages into Go memory. Records of one topic share its
// string: a topic's pointer stays put while its subscription lives.
func records(msgs *C.cq_message, n int) []Record {
	out := make([]Record, n)
	var last *C.char
	var topic string
	for i, m := range unsafe.Slice(msgs, n) {
		if m.topic != last {
			last, topic = m.topic, C.GoString(m.topic)
		}
		out[i] = Record{
			Topic:       topic,
			Offset:      uint64(m.offset),
			TimestampNs: int64(m.timestamp_ns),
			Data:        C.GoBytes(m.data, C.int(m.len)),
		}
	}
	return out
}
