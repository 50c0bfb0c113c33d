// Command naive is the baseline scripts/bench-cli.sh measures streamstat
// against: the loop anyone would write first, on one goroutine. It reads
// lines with bufio, hashes each with xxhash and adds it to the same sketch
// streamstat uses (sketch.HLL at precision 14 for distinct, sketch.TopK
// with 4096 counters for top), then prints the answer.
//
//	naive distinct [FILE]
//	naive top [FILE]
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cespare/xxhash/v2"
	"github.com/streamstat/streamstat/sketch"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: naive distinct|top [FILE]")
		os.Exit(2)
	}
	in := os.Stdin
	if len(os.Args) == 3 {
		f, err := os.Open(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "naive:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	var add func(h uint64, line []byte)
	var report func()
	switch os.Args[1] {
	case "distinct":
		hll, _ := sketch.NewHLL(sketch.DefaultPrecision)
		add = func(h uint64, _ []byte) { hll.AddHash(h) }
		report = func() { fmt.Println("distinct", hll.Estimate()) }
	case "top":
		top, _ := sketch.NewTopK(4096)
		add = func(h uint64, line []byte) { top.AddHash(h, line, 1) }
		report = func() {
			for _, it := range top.Top(10) {
				fmt.Println(it.Count, it.Key)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: naive distinct|top [FILE]")
		os.Exit(2)
	}
	n, err := lines(in, add)
	if err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
	fmt.Println("records", n)
	report()
}

// lines calls add for each line of r, without its "\n" or "\r\n".
func lines(r io.Reader, add func(uint64, []byte)) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
				if k := len(line) - 1; k >= 0 && line[k] == '\r' {
					line = line[:k]
				}
			}
			add(xxhash.Sum64(line), line)
			n++
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
