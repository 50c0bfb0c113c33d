package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// truth is the exact answer over the whole stream, as written to the
// truth file (JSON).
type truth struct {
	Topic    string `json:"topic"`
	Seed     uint64 `json:"seed"`
	Records  int64  `json:"records"`
	Distinct int    `json:"distinct"` // distinct users
	// Top are the most frequent users, most frequent first (ties by key).
	Top []keyCount `json:"top"`
	// PerPartition is the number of records of each partition.
	PerPartition []int64 `json:"per_partition"`
	// Latency are exact statistics of the third field.
	Latency latency `json:"latency"`
	// Counts is every user's number of clicks.
	Counts map[string]int64 `json:"counts"`
}

type keyCount struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

type latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// computeTruth counts the stream of o over parts partitions.
func computeTruth(o *options, parts int) (*truth, error) {
	t := &truth{Topic: o.topic, Seed: o.seed, Counts: make(map[string]int64), PerPartition: make([]int64, parts)}
	t.Latency.Min, t.Latency.Max = math.Inf(1), math.Inf(-1)
	var sum float64
	err := eachRecord(o, func(_ int64, user, line []byte) error {
		t.Records++
		t.Counts[string(user)]++
		t.PerPartition[partitionOf(user, parts)]++
		v, err := strconv.ParseFloat(string(line[bytes.LastIndexByte(line, ' ')+1:]), 64)
		if err != nil {
			return err
		}
		sum += v
		t.Latency.Count++
		t.Latency.Min, t.Latency.Max = min(t.Latency.Min, v), max(t.Latency.Max, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.Latency.Count > 0 {
		t.Latency.Mean = sum / float64(t.Latency.Count)
	} else {
		t.Latency.Min, t.Latency.Max = 0, 0
	}
	t.Distinct = len(t.Counts)
	all := make([]keyCount, 0, len(t.Counts))
	for k, n := range t.Counts {
		all = append(all, keyCount{k, n})
	}
	slices.SortFunc(all, func(a, b keyCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	t.Top = all[:min(o.top, len(all))]
	return t, nil
}

// write writes the truth to path atomically (a temporary file renamed).
func (t *truth) write(path string) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readTruth(path string) (*truth, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := new(truth)
	if err := json.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// answer is the part of streamstat's JSON answers (distinct, top, freq,
// stats, and merge of any of them) that check compares.
type answer struct {
	Records  *int64 `json:"records"`
	Skipped  int64  `json:"skipped"`
	Shed     int64  `json:"shed"`
	Distinct *int64 `json:"distinct"`
	Lower    int64  `json:"lower"`
	Upper    int64  `json:"upper"`
	Items    []struct {
		Key   string `json:"key"`
		Count int64  `json:"count"`
		Lower int64  `json:"lower"`
		Upper int64  `json:"upper"`
	} `json:"items"`
	Capacity  int      `json:"capacity"` // top
	Width     int      `json:"width"`    // freq
	Count     *int64   `json:"count"`    // stats
	Mean      *float64 `json:"mean"`
	MeanLower float64  `json:"mean_lower"`
	MeanUpper float64  `json:"mean_upper"`
	Min       float64  `json:"min"`
	Max       float64  `json:"max"`
}

// runCheck compares the last JSON answer on stdin with the truth file and
// says, line by line, whether each figure is equal to the truth (counts
// of records) or holds it within its bounds. Exit 0: all hold; 1: one does
// not; 2: bad usage or input.
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kafka check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("truth", "truth.json", "the truth file written by this program")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	t, err := readTruth(*path)
	if err != nil {
		fmt.Fprintln(stderr, "kafka check:", err)
		return 2
	}
	line, err := lastLine(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "kafka check:", err)
		return 2
	}
	var a answer
	if err := json.Unmarshal(line, &a); err != nil || a.Records == nil && a.Count == nil {
		fmt.Fprintf(stderr, "kafka check: stdin's last line is not a streamstat JSON answer (--format json): %.80q\n", line)
		return 2
	}
	if check(t, &a, stdout) {
		return 0
	}
	return 1
}

// lastLine returns the last non-empty line of r: with --interval,
// streamstat writes a snapshot a line before the final answer.
func lastLine(r io.Reader) ([]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<26)
	var last []byte
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			last = append(last[:0], sc.Bytes()...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if last == nil {
		return nil, errors.New("no answer on stdin")
	}
	return last, nil
}

// check writes the comparison of a with t and reports whether all holds.
func check(t *truth, a *answer, w io.Writer) bool {
	ok := true
	say := func(holds bool, format string, args ...any) {
		verdict := "ok"
		if !holds {
			verdict, ok = "WRONG", false
		}
		fmt.Fprintf(w, "%-5s "+format+"\n", append([]any{verdict}, args...)...)
	}
	if a.Records != nil {
		say(*a.Records == t.Records && a.Skipped == 0, "records %d, skipped %d, shed %d; truth %d records", *a.Records, a.Skipped, a.Shed, t.Records)
	}
	switch {
	case a.Distinct != nil:
		tr := int64(t.Distinct)
		say(a.Lower <= tr && tr <= a.Upper, "distinct %d (bounds %d .. %d); truth %d (error %+.2f%%)",
			*a.Distinct, a.Lower, a.Upper, tr, 100*(float64(*a.Distinct)-float64(tr))/float64(max(tr, 1)))
	case a.Count != nil && a.Mean != nil:
		l := t.Latency
		say(*a.Count == l.Count, "stats count %d; truth %d", *a.Count, l.Count)
		say(a.Min == l.Min && a.Max == l.Max, "min %g, max %g; truth %g, %g", a.Min, a.Max, l.Min, l.Max)
		// The mean's bounds are about the sample; the sum's rounding,
		// which depends on the order of the additions, is far smaller.
		slack := 1e-9 * math.Abs(l.Mean)
		say(a.MeanLower-slack <= l.Mean && l.Mean <= a.MeanUpper+slack, "mean %g (bounds %g .. %g); truth %g", *a.Mean, a.MeanLower, a.MeanUpper, l.Mean)
	case a.Items != nil:
		what := "freq"
		if a.Capacity > 0 {
			what = "top"
			// The listed keys are the most frequent ones, up to ties
			// with the last listed count.
			if n := len(a.Items); n > 0 && n <= len(t.Top) {
				cut := t.Top[n-1].Count
				for _, it := range a.Items {
					if c := t.Counts[it.Key]; c < cut {
						say(false, "top lists %s (truth %d), below the true top %d's least count %d", it.Key, c, n, cut)
					}
				}
			}
		}
		for _, it := range a.Items {
			c := t.Counts[it.Key]
			say(it.Lower <= c && c <= it.Upper, "%s %s %d (bounds %d .. %d); truth %d", what, it.Key, it.Count, it.Lower, it.Upper, c)
		}
	}
	return ok
}
