package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// shardFile writes n clicks of users [from, from+span) over 300 pages, one
// line without a page, and returns its path and contents.
func shardFile(t *testing.T, dir, name string, n, from, span int, seed uint64) (string, []byte) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var b bytes.Buffer
	for range n {
		fmt.Fprintf(&b, "u%d p%d\n", from+rng.IntN(span), int(300*rng.Float64()*rng.Float64()))
	}
	b.WriteString("no-page-here\n")
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b.Bytes()
}

// TestMergeShards: the merged answer of overlapping shards is that of one
// sketch over all the clicks (HLL and TopK merges lose nothing here), the
// bounds hold the true distinct count, and the top pages are exact.
func TestMergeShards(t *testing.T) {
	dir := t.TempDir()
	a, da := shardFile(t, dir, "mon.txt", 50_000, 0, 30_000, 1)
	b, db := shardFile(t, dir, "tue.txt", 40_000, 20_000, 30_000, 2)
	var out bytes.Buffer
	if err := run([]string{a, b}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()

	all := append(append([]byte(nil), da...), db...)
	one := summarize(bytes.NewReader(all))
	var h sketch.HLL
	var top sketch.TopK
	if err := h.UnmarshalBinary(one.users); err != nil {
		t.Fatal(err)
	}
	if err := top.UnmarshalBinary(one.pages); err != nil {
		t.Fatal(err)
	}
	e := h.Estimate()
	want := fmt.Sprintf("all          90000 clicks, %.0f users (95%% bounds %.0f .. %.0f)\n", e.Value, e.Lower, e.Upper)
	for _, it := range top.Top(5) {
		want += fmt.Sprintf("  %-8s %d  (%d .. %d)\n", it.Key, it.Count, it.Lower, it.Upper)
		if it.Lower != it.Upper {
			t.Errorf("page %s: bounds %d .. %d, want exact (300 pages fit the TopK)", it.Key, it.Lower, it.Upper)
		}
	}
	if !strings.HasSuffix(got, want) {
		t.Errorf("merged shards:\n%s\nwant, as one sketch over all clicks:\n%s", got, want)
	}
	if !strings.Contains(got, "mon.txt") || !strings.Contains(got, "1 bad lines") {
		t.Errorf("no per-shard line with its bad line counted:\n%s", got)
	}

	users := map[string]bool{}
	for line := range bytes.Lines(all) {
		if u, _, ok := strings.Cut(string(line), " "); ok {
			users[u] = true
		}
	}
	m := regexp.MustCompile(`users \(95% bounds (\d+) \.\. (\d+)\)`).FindStringSubmatch(got)
	lo, _ := strconv.Atoi(m[1])
	hi, _ := strconv.Atoi(m[2])
	if n := len(users); n < lo || n > hi {
		t.Errorf("%d distinct users outside the merged bounds %d .. %d", n, lo, hi)
	}
}

func TestErrors(t *testing.T) {
	if err := run(nil, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no files: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.txt")
	if err := run([]string{missing}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "none.txt") {
		t.Errorf("missing file: %v", err)
	}
	long := filepath.Join(t.TempDir(), "long.txt")
	os.WriteFile(long, []byte("u1 "+strings.Repeat("p", 1<<17)+"\n"), 0o644)
	if err := run([]string{long}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "long.txt") {
		t.Errorf("line over the scanner's limit: %v", err)
	}
}
