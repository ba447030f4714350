// Package raw is the SWIG-generated layer over the C facades of
// bindings/swig/cqueue.i (the same interface as Java and Python use), plus the
// exported trampolines the C side calls for pool jobs, attached queues and push
// subscriptions (trampoline.go). Package cqueue is the API.
//
// raw.go and cqueue_wrap.c are generated: run `go generate ./...` (needs swig 4.1
// and the cqueue headers: `pkg-config cqueue`, or CGO_CFLAGS/CGO_LDFLAGS for a
// build tree) before building.
package raw

//go:generate sh -c "swig -go -cgo -intgosize 64 -module raw $(pkg-config --cflags-only-I cqueue 2>/dev/null) $CQUEUE_SWIG_FLAGS -o cqueue_wrap.c -outdir . ../../../swig/cqueue.i && gofmt -w raw.go"
