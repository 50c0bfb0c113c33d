// Command sketches uses the sketches directly, without a pipeline, and
// merges shards: each FILE of clicks ("user page" lines) is a shard (a day,
// a machine's log) summarized on its own goroutine into the bytes of two
// sketches, distinct users in an HLL and the top pages in a TopK, as a
// worker would send them; the shards' bytes are then decoded and merged
// into one answer, with bounds.
//
//	go run ./examples/pipeline -gen 1000000 -seed 1 > mon.txt
//	go run ./examples/pipeline -gen 1000000 -seed 2 > tue.txt
//	go run ./examples/sketches mon.txt tue.txt
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/streamstat/streamstat/sketch"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sketches:", err)
		os.Exit(1)
	}
}

// shard is what one worker sends: its sketches' canonical bytes.
type shard struct {
	name         string
	clicks, bad  int
	users, pages []byte
	err          error
}

func run(files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return fmt.Errorf("usage: sketches FILE...")
	}
	done := make(chan shard)
	for _, name := range files {
		go func() { done <- summarizeFile(name) }()
	}
	shards := make(map[string]shard)
	for range files {
		s := <-done
		shards[s.name] = s
	}
	for _, name := range files { // in argument order, whatever finished first
		if err := shards[name].err; err != nil {
			return err
		}
	}

	// Merging shards: decode each shard's bytes and merge.
	var users sketch.HLL  // the zero value is an empty HLL, ready to use
	var pages sketch.TopK // and an empty TopK
	clicks := 0
	for _, name := range files {
		s := shards[name]
		var u sketch.HLL
		if err := u.UnmarshalBinary(s.users); err != nil {
			return fmt.Errorf("%s: %w", name, err) // bad bytes: an error, never a panic
		}
		if err := users.Merge(&u); err != nil {
			return err
		}
		var p sketch.TopK
		if err := p.UnmarshalBinary(s.pages); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := pages.Merge(&p); err != nil {
			return err
		}
		clicks += s.clicks
		e := u.Estimate()
		fmt.Fprintf(stdout, "%-12s %d clicks, %.0f users (%.0f .. %.0f), %d bad lines\n", name, s.clicks, e.Value, e.Lower, e.Upper, s.bad)
	}
	e := users.Estimate() // Value, Lower, Upper at 95%
	fmt.Fprintf(stdout, "all          %d clicks, %.0f users (95%% bounds %.0f .. %.0f)\n", clicks, e.Value, e.Lower, e.Upper)
	for _, it := range pages.Top(5) {
		fmt.Fprintf(stdout, "  %-8s %d  (%d .. %d)\n", it.Key, it.Count, it.Lower, it.Upper)
	}
	return nil
}

func summarizeFile(name string) shard {
	f, err := os.Open(name)
	if err != nil {
		return shard{name: name, err: err}
	}
	defer f.Close()
	s := summarize(f)
	s.name = name
	if s.err != nil {
		s.err = fmt.Errorf("%s: %w", name, s.err)
	}
	return s
}

// summarize is one worker: the sketches directly, each field hashed once.
func summarize(r io.Reader) shard {
	users, _ := sketch.NewHLL(14)    // distinct counts, ~0.8% error, 16 KiB
	pages, _ := sketch.NewTopK(1024) // heavy hitters, with certain bounds
	clicks, bad := 0, 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		user, page, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if !ok {
			bad++ // counted, never dropped silently
			continue
		}
		users.AddHash(sketch.Hash(user)) // hash once, pass the uint64
		pages.Add(page)
		clicks++
	}
	if err := sc.Err(); err != nil {
		return shard{err: err}
	}
	s := shard{clicks: clicks, bad: bad}
	s.users, s.err = users.MarshalBinary() // canonical bytes: merge them anywhere
	if s.err == nil {
		s.pages, s.err = pages.MarshalBinary()
	}
	return s
}
