package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	estimateLine = regexp.MustCompile(`^(\S+(?: \S+)?)\s+(\d+)  \(\d+% bounds (\d+) \.\. (\d+)\)  exact (\d+)  inside: (true|false)$`)
	topLine      = regexp.MustCompile(`^  (item-\d+)\s+(\d+)  \((\d+) \.\. (\d+)\)  exact (\d+)  inside: (true|false)$`)
	memberLine   = regexp.MustCompile(`^member    (\d+) of (\d+) items`)
	addedLine    = regexp.MustCompile(`^shards' distinct counts added up: (\d+)`)
)

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRun runs the program on a few seeds and checks what it prints
// against counts the test makes: the merged distinct count, frequencies
// and top items hold the truth within their bounds, the top items are the
// true top items, the merged filter knows every item, the shards'
// distinct counts added up exceed the merged one (shards overlap), and
// every shard was saved as four files.
func TestRun(t *testing.T) {
	for _, seed := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"-shards", "3", "-n", "40000", "-items", "100000", "-seed", fmt.Sprint(seed), "-dir", dir}
			var out bytes.Buffer
			if err := run(args, &out, new(bytes.Buffer)); err != nil {
				t.Fatal(err)
			}
			o, _ := parse(args, new(bytes.Buffer))
			exact := map[string]int{}
			for i := range o.shards {
				shardStream(o, i, func(item []byte) { exact[string(item)]++ })
			}
			check(t, o, out.String(), exact)
			files, _ := filepath.Glob(filepath.Join(dir, "shard-*"))
			if len(files) != 3*len(kinds) {
				t.Errorf("saved %d files %v, want %d", len(files), files, 3*len(kinds))
			}
		})
	}
}

func check(t *testing.T, o options, out string, exact map[string]int) {
	t.Helper()
	var top []string
	var estimates int
	var added float64
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		if m := estimateLine.FindStringSubmatch(line); m != nil {
			want := len(exact)
			if key, ok := strings.CutPrefix(m[1], "freq "); ok {
				want = exact[key]
			}
			lo, hi := num(t, m[3]), num(t, m[4])
			if int(num(t, m[5])) != want || !(lo <= float64(want) && float64(want) <= hi) {
				t.Errorf("%s: want exact %d inside the bounds", line, want)
			}
			estimates++
		} else if m := topLine.FindStringSubmatch(line); m != nil {
			c := float64(exact[m[1]])
			if !(num(t, m[3]) <= c && c <= num(t, m[4])) || num(t, m[5]) != c {
				t.Errorf("%s: true count %v", line, c)
			}
			top = append(top, m[1])
		} else if m := memberLine.FindStringSubmatch(line); m != nil {
			if m[1] != m[2] || int(num(t, m[2])) != len(exact) {
				t.Errorf("%s: want all %d items", line, len(exact))
			}
			estimates++
		} else if m := addedLine.FindStringSubmatch(line); m != nil {
			added = num(t, m[1])
		}
	}
	if estimates != 5 {
		t.Errorf("%d estimate lines, want distinct, 3 frequencies and membership in\n%s", estimates, out)
	}
	if added <= float64(len(exact)) {
		t.Errorf("shards' distinct counts add up to %v, not above the %d distinct items: the shards should overlap", added, len(exact))
	}
	keys := make([]string, 0, len(exact))
	for k := range exact {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if exact[a] != exact[b] {
			return exact[b] - exact[a]
		}
		return strings.Compare(a, b)
	})
	if !slices.Equal(top, keys[:o.top]) {
		t.Errorf("top %v, want %v", top, keys[:o.top])
	}
}

// TestMergeEqualsOneSketch: HLL and Bloom merge losslessly, so the
// sketches merged from the saved shards are, byte for byte, those one
// sketch fed every shard's items would be. (A merged TopK keeps certain
// bounds but other counters, and a CountMin with conservative update, the
// default, adds counters that one sketch would have raised less: both are
// checked by their bounds in TestRun.)
func TestMergeEqualsOneSketch(t *testing.T) {
	o := options{shards: 4, n: 20000, items: 50000, top: 5, seed: 9}
	dir := t.TempDir()
	for i := range o.shards {
		if _, err := buildShard(o, i, dir); err != nil {
			t.Fatal(err)
		}
	}
	merged, err := mergeShards(o, dir)
	if err != nil {
		t.Fatal(err)
	}
	one, err := newSketches(o.items)
	if err != nil {
		t.Fatal(err)
	}
	for i := range o.shards {
		shardStream(o, i, one.add)
	}
	got, want := merged.marshalers(), one.marshalers()
	for k, name := range kinds {
		if name == "topk" || name == "cm" {
			continue
		}
		a, err1 := got[k].MarshalBinary()
		b, err2 := want[k].MarshalBinary()
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: merged shards differ from one sketch of all (%v %v)", name, err1, err2)
		}
	}
}

// TestCorruptShard: a saved shard whose bytes were damaged is an error
// naming the file, never a panic or a silently wrong answer.
func TestCorruptShard(t *testing.T) {
	o := options{shards: 2, n: 1000, items: 1000, top: 5, seed: 1}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			for i := range o.shards {
				if _, err := buildShard(o, i, dir); err != nil {
					t.Fatal(err)
				}
			}
			path := shardFile(dir, 1, kind)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x40
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := mergeShards(o, dir); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("merging a damaged %s: error %v, want one naming %s", kind, err, path)
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{{"-shards", "0"}, {"-items", "1"}, {"-n", "-1"}, {"extra"}, {"-nosuchflag"}} {
		if _, err := parse(args, new(bytes.Buffer)); err == nil {
			t.Errorf("no error for %q", args)
		}
	}
}
