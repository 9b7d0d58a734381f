package review

import (
	"context"
	"errors"
	"testing"
)

// readAhead yields every row in order across batches, stops the reader
// when the writer fails, and passes the reader's own error on.
func TestReadAhead(t *testing.T) {
	const n = 3*readAheadBatch + 7
	read := func(stopAt int, fail error) func(emit func([]any) error) error {
		return func(emit func([]any) error) error {
			row := make([]any, 2) // reused, as QueryEach does
			for i := range n {
				if i == stopAt {
					return fail
				}
				row[0], row[1] = int64(i), "x"
				if err := emit(row); err != nil {
					return err
				}
			}
			return nil
		}
	}
	var got []int64
	err := readAhead(context.Background(), 2, read(-1, nil))(func(r []any) error {
		got = append(got, r[0].(int64))
		return nil
	})
	if err != nil || len(got) != n {
		t.Fatalf("%d rows, %v", len(got), err)
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("row %d is %d", i, v)
		}
	}
	stop := errors.New("disk full")
	seen := 0
	err = readAhead(context.Background(), 2, read(-1, nil))(func([]any) error {
		seen++
		if seen == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 10 {
		t.Fatalf("writer failure: %v after %d rows", err, seen)
	}
	broken := errors.New("sqlite: disk I/O error")
	seen = 0
	err = readAhead(context.Background(), 2, read(700, broken))(func([]any) error { seen++; return nil })
	if !errors.Is(err, broken) || seen > 700 {
		t.Fatalf("reader failure: %v after %d rows", err, seen)
	}
}
