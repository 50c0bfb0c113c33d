// Command distinct counts the distinct lines of its input with an HLL sketch
// and prints the estimate with its 95% bounds and the exact count beside it,
// so you can see the error and the bounds at work on your own data.
//
//	cat $(go env GOROOT)/src/*/*.go | go run ./examples/distinct
//	go run ./examples/distinct FILE...
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/streamstat/streamstat/sketch"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "distinct:", err)
		os.Exit(1)
	}
}

func run(files []string, stdin io.Reader, stdout io.Writer) error {
	hll, err := sketch.NewHLL(sketch.DefaultPrecision)
	if err != nil {
		return err
	}
	exact := make(map[uint64]struct{}) // the truth, for comparison (64-bit hashes)
	var lines int
	count := func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 1<<16)
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// A line longer than the buffer: gather it whole.
				long := append([]byte(nil), line...)
				for errors.Is(err, bufio.ErrBufferFull) {
					line, err = br.ReadSlice('\n')
					long = append(long, line...)
				}
				line = long
			}
			if len(line) > 0 {
				line = trimEOL(line)
				h := sketch.Hash(line)
				hll.AddHash(h)
				exact[h] = struct{}{}
				lines++
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if name == "-" {
			if err := count(stdin); err != nil {
				return fmt.Errorf("stdin: %w", err)
			}
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = count(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	e := hll.Estimate()
	fmt.Fprintf(stdout, "lines     %d\n", lines)
	fmt.Fprintf(stdout, "distinct  %.0f  (95%% bounds %.0f .. %.0f)\n", e.Value, e.Lower, e.Upper)
	fmt.Fprintf(stdout, "exact     %d  (inside bounds: %v)\n", len(exact), e.Contains(float64(len(exact))))
	return nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
