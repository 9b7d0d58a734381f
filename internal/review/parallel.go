package review

import (
	"context"
	"errors"
	"sync"
)

// forEach runs fn(0..n-1) on up to workers goroutines (at least one). A
// failure for which stop reports true cancels the context the others run
// with and starts no more work; every failure is returned (joined, without
// the cancellations it caused), or ctx's error when ctx ended first.
func forEach(ctx context.Context, workers, n int, fn func(context.Context, int) error, stop func(error) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for i := range jobs {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					if stop(err) {
						cancel()
					}
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if len(errs) == 0 {
		return ctx.Err()
	}
	// Report the root causes, not the cancellations they caused.
	var real []error
	for _, e := range errs {
		if !errors.Is(e, context.Canceled) {
			real = append(real, e)
		}
	}
	if len(real) == 0 {
		real = errs
	}
	if len(real) == 1 {
		return real[0]
	}
	return errors.Join(real...)
}
