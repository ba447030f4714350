// Go quick example (README): a queue and a pool job.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"cqueue"
)

func main() {
	name := fmt.Sprintf("example-go-%d", os.Getpid())
	q, err := cqueue.Open(name, &cqueue.Options{Create: true, Capacity: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer cqueue.Unlink(name)
	defer q.Close()
	if err := q.Enqueue([]byte("hello from Go")); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	msg, err := q.DequeueWait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg))

	pool, err := cqueue.NewPool(&cqueue.PoolOptions{Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	done, err := pool.Go(func() { fmt.Println("job ran") })
	if err != nil {
		log.Fatal(err)
	}
	<-done
}
