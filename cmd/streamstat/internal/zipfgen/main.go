// Command zipfgen writes N lines of Zipf-distributed keys ("key-0" is the
// most frequent) to stdout, for scripts/bench-cli.sh. The stream is
// pipeline.Generator's, so it is the same on every run: record i depends
// only on the seed and i. Blocks of records are generated in parallel and
// written in order.
//
//	go run ./cmd/streamstat/internal/zipfgen -n 100000000 -keys 10000000 > zipf.txt
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/streamstat/streamstat/pipeline"
)

const block = 1 << 20 // records per block

func main() {
	n := flag.Int64("n", 10_000_000, "number of lines")
	keys := flag.Uint64("keys", 10_000_000, "number of distinct keys in the Zipf law")
	s := flag.Float64("s", 1.1, "Zipf exponent, > 1")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	if err := run(os.Stdout, *n, *keys, *s, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "zipfgen:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, n int64, keys uint64, s float64, seed uint64) error {
	w := bufio.NewWriterSize(out, 1<<20)
	blocks := (n + block - 1) / block
	workers := runtime.GOMAXPROCS(0)
	// results[b] receives block b's bytes; a worker takes blocks w, w+W, ...
	results := make([]chan []byte, blocks)
	for i := range results {
		results[i] = make(chan []byte, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers+2) // blocks generated ahead of the writer
	errc := make(chan error, workers)
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: seed, Keys: keys, S: s, Count: n})
			if err != nil {
				errc <- err
				return
			}
			var b pipeline.Batch
			for bi := int64(wk); bi < blocks; bi += int64(workers) {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				if err := g.SetPosition(bi * block); err != nil {
					errc <- err
					return
				}
				buf := make([]byte, 0, 14*block)
				for left := min(block, n-bi*block); left > 0; {
					b.Reset()
					err := g.Fill(ctx, &b, int(min(left, 4096)))
					for i := range b.Len() {
						buf = append(append(buf, b.Key(i)...), '\n')
					}
					left -= int64(b.Len())
					if err != nil && err != io.EOF {
						errc <- err
						return
					}
				}
				results[bi] <- buf
			}
		}()
	}
	for bi := range blocks {
		var buf []byte
		select {
		case buf = <-results[bi]:
		case err := <-errc:
			return err
		}
		<-sem
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	wg.Wait()
	return w.Flush()
}
