// Pool job crossing cost, Go funcs: see ../run.sh. Usage: bench N
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"cqueue"
)

func main() {
	n := 10000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	pool, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 1, QueueCapacity: 16384})
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	gate := make(chan struct{})
	if err := pool.Submit(func() { <-gate }); err != nil {
		panic(err)
	}
	var ran atomic.Int64
	for i := 0; i < n; i++ {
		if err := pool.Submit(func() { ran.Add(1) }); err != nil {
			panic(err)
		}
	}
	t0 := time.Now()
	close(gate)
	if _, err := pool.Shutdown(-1); err != nil {
		panic(err)
	}
	dt := time.Since(t0)
	if ran.Load() != int64(n) {
		panic("lost jobs")
	}
	fmt.Printf("go     %6d jobs  %8.0f ns/job\n", n, float64(dt.Nanoseconds())/float64(n))
}
