package raw

/*
#cgo pkg-config: cqueue
#include <stddef.h>
#include <stdint.h>
*/
import "C"

import "unsafe"

// JobRunner runs the Go job behind handle and reports whether it panicked; it is
// set by package cqueue. JobDoner gets the job's final status exactly once.
// MessageHandler gets each message of an attached queue (a copy).
var (
	JobRunner      func(handle uintptr) (panicked bool)
	JobDoner       func(handle uintptr, status int)
	MessageHandler func(handle uintptr, msg []byte)
)

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
