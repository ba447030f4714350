// Cross-language broker test participant in Go: see run_xlang_broker.py for the protocol.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cqueue"
)

const topic = "xlang.broker"

func main() {
	if len(os.Args) != 8 {
		fmt.Fprintln(os.Stderr, "usage: xlang_broker MODE DIR TAG N TOTAL OUTFILE SYNCDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "go:", err)
		os.Exit(1)
	}
}

func run(a []string) error {
	mode, dir, tag, outfile, sync := a[0], a[1], a[2], a[5], a[6]
	n, _ := strconv.Atoi(a[3])
	total, _ := strconv.Atoi(a[4])
	b, err := cqueue.OpenBroker(dir, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	if mode == "publish" {
		for i := 0; i < n; i++ {
			if _, err := b.Publish(topic, []byte(fmt.Sprintf("%s:2:%d", tag, i))); err != nil {
				return err
			}
		}
		return b.Close()
	}
	s, err := b.Subscribe(topic, &cqueue.SubscribeOptions{DurableID: "xl-" + tag, Earliest: mode == "run1"})
	if err != nil {
		return err
	}
	if mode == "run1" {
		_ = os.WriteFile(filepath.Join(sync, tag+".ready"), nil, 0o644)
		for {
			if _, err := os.Stat(filepath.Join(sync, "go")); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		for i := 0; i < n; i++ {
			if _, err := b.Publish(topic, []byte(fmt.Sprintf("%s:1:%d", tag, i))); err != nil {
				return err
			}
		}
	}
	f, err := os.Create(outfile)
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriter(f)
	poll := func(d time.Duration) (*cqueue.Message, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return s.Poll(ctx)
	}
	for got := 0; got < total; got++ {
		m, err := poll(30 * time.Second)
		if err != nil {
			return fmt.Errorf("after %d of %d records: %w", got, total, err)
		}
		fmt.Fprintf(out, "%d %s\n", m.Offset, m.Data)
		if err := s.Ack(m); err != nil {
			return err
		}
	}
	for {
		m, err := poll(300 * time.Millisecond)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d %s\n", m.Offset, m.Data)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	return b.Close()
}
