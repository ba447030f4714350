// Cross-language test participant in Go: see run_xlang.py for the protocol.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"cqueue"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: xlang QUEUE TAG N OUTFILE SYNCDIR")
		os.Exit(2)
	}
	name, tag, outfile, sync := os.Args[1], os.Args[2], os.Args[4], os.Args[5]
	n, _ := strconv.Atoi(os.Args[3])
	q, err := cqueue.Open(name, &cqueue.Options{Create: true, Capacity: 64, MaxMessageSize: 64})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go:", err)
		os.Exit(1)
	}
	defer q.Close()
	_ = os.WriteFile(filepath.Join(sync, tag+".ready"), nil, 0o644)
	for {
		if _, err := os.Stat(filepath.Join(sync, "go")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var producedAll atomic.Bool
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := 0; i < n; i++ {
			if err := q.EnqueueWait(ctx, []byte(tag+":"+strconv.Itoa(i))); err != nil {
				errc <- err
				return
			}
		}
		producedAll.Store(true)
		errc <- nil
	}()
	f, _ := os.Create(outfile)
	w := bufio.NewWriter(f)
	idle := time.Duration(0)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		m, err := q.DequeueWait(ctx)
		cancel()
		switch {
		case err == nil:
			w.Write(m)
			w.WriteByte('\n')
			idle = 0
		case errors.Is(err, context.DeadlineExceeded):
			if producedAll.Load() {
				if idle += 100 * time.Millisecond; idle >= 1500*time.Millisecond {
					w.Flush()
					f.Close()
					if err := <-errc; err != nil {
						fmt.Fprintln(os.Stderr, "go:", err)
						os.Exit(1)
					}
					return
				}
			}
		default:
			fmt.Fprintln(os.Stderr, "go:", err)
			os.Exit(1)
		}
	}
}
