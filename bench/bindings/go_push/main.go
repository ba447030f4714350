// Push delivery crossing cost, Go: one cgo callback (records copied into Go
// memory) per batch of up to 64 records. Usage: bench_push_go N
//
// N records of 16 bytes are published to one topic of a fresh broker before
// subscribing; a 1-worker pool then pushes them from the oldest on to a handler
// that only counts. Prints the time from subscribing until the waiting goroutine
// learns that all were handled, per record, and the number of calls.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"cqueue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench_push_go:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: %s N", os.Args[0])
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		return fmt.Errorf("N must be a positive integer, not %q", os.Args[1])
	}
	dir, err := os.MkdirTemp("", "bench_push_go.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := cqueue.OpenBroker(dir, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	chunk := make([][]byte, 1024)
	for i := range chunk {
		chunk[i] = []byte("0123456789abcdef")
	}
	for i := 0; i < n; i += len(chunk) {
		if _, _, err := b.PublishBatch("bench", chunk[:min(len(chunk), n-i)]); err != nil {
			return err
		}
	}
	pool, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	// Touched by the one worker only; read after done is closed.
	var got, calls int
	done := make(chan struct{})
	start := time.Now()
	s, err := b.SubscribePush("bench", &cqueue.SubscribeOptions{Earliest: true}, pool,
		func(msgs []*cqueue.Message) int {
			got += len(msgs)
			calls++
			if got >= n {
				close(done)
			}
			return len(msgs)
		})
	if err != nil {
		return err
	}
	<-done
	elapsed := time.Since(start)
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Printf("go push batch: %.0f ns/record (%d records, %d handler calls)\n",
		float64(elapsed.Nanoseconds())/float64(n), n, calls)
	return nil
}
