package main

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// answer is one printed estimate: value, bounds and the exact value the
// program claims.
type answer struct {
	name                string
	value, lower, upper float64
	exact               int
}

var (
	estimateLine = regexp.MustCompile(`^(\S+(?: \S+)?)\s+(\d+)  \((\d+)% bounds (\d+) \.\. (\d+)\)  exact (\d+)  inside: (true|false)$`)
	topLine      = regexp.MustCompile(`^  (item-\d+)\s+(\d+)  \((\d+) \.\. (\d+)\)  exact (\d+)  inside: (true|false)  surely top \d+: (true|false)$`)
	memberLine   = regexp.MustCompile(`^member    (\d+) of (\d+) items (added|never added) answer yes`)
	estRate      = regexp.MustCompile(`the filter's own estimate ([0-9.]+)%$`)
)

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// truth recomputes the stream's exact counts on its own.
func truth(o options) (map[string]int, func([]byte, uint64) []byte) {
	exact := make(map[string]int)
	name := stream(o, func(item []byte) { exact[string(item)]++ })
	return exact, name
}

// TestRun runs the program briefly and checks every answer it prints
// against counts the test makes itself: the distinct counts (HLL and
// Bloom) and the frequencies lie within their bounds, the heavy hitters are
// the true top items with their true counts inside certain bounds, the
// Bloom filter has no false negatives and its false positives agree with
// its own estimate.
func TestRun(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			args := []string{"-n", "300000", "-items", "200000", "-probes", "200000", "-seed", fmt.Sprint(seed)}
			o, err := parse(args, new(bytes.Buffer))
			if err != nil {
				t.Fatal(err)
			}
			exact, name := truth(o)
			var out bytes.Buffer
			if err := run(args, &out); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, o, out.String(), exact, name)
		})
	}
}

func checkOutput(t *testing.T, o options, out string, exact map[string]int, name func([]byte, uint64) []byte) {
	t.Helper()
	var answers []answer
	var top []string
	var fp, probes int
	var fpRate float64
	seen := map[string]bool{}
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case estimateLine.MatchString(line):
			m := estimateLine.FindStringSubmatch(line)
			a := answer{name: m[1], value: atof(t, m[2]), lower: atof(t, m[4]), upper: atof(t, m[5]), exact: int(atof(t, m[6]))}
			if !(a.lower <= a.value && a.value <= a.upper) {
				t.Errorf("%s: value outside its own bounds", line)
			}
			answers = append(answers, a)
			seen[a.name] = true
		case topLine.MatchString(line):
			m := topLine.FindStringSubmatch(line)
			key, lo, hi := m[1], atof(t, m[3]), atof(t, m[4])
			if c := float64(exact[key]); !(lo <= c && c <= hi) {
				t.Errorf("%s: true count %v outside the certain bounds", line, c)
			}
			top = append(top, key)
		case memberLine.MatchString(line):
			m := memberLine.FindStringSubmatch(line)
			yes, of := int(atof(t, m[1])), int(atof(t, m[2]))
			if m[3] == "added" {
				if yes != of || of != len(exact) {
					t.Errorf("%s: want all %d items added to answer yes", line, len(exact))
				}
				continue
			}
			fp, probes = yes, of
			fpRate = atof(t, estRate.FindStringSubmatch(line)[1]) / 100
			seen["fp"] = true
		}
	}
	for _, want := range []string{"distinct", "bloom distinct", "freq never-added", "fp"} {
		if !seen[want] {
			t.Errorf("no %q line in\n%s", want, out)
		}
	}

	for _, a := range answers {
		want := len(exact)
		switch {
		case strings.HasPrefix(a.name, "freq never-added"):
			want = 0
		case strings.HasPrefix(a.name, "freq "):
			want = exact[strings.TrimPrefix(a.name, "freq ")]
		}
		if a.exact != want {
			t.Errorf("%s: printed exact %d, the stream has %d", a.name, a.exact, want)
		}
		if !(a.lower <= float64(want) && float64(want) <= a.upper) {
			t.Errorf("%s: %v (%v .. %v) does not hold the truth %d", a.name, a.value, a.lower, a.upper, want)
		}
	}
	if len(answers) != 6 {
		t.Errorf("%d estimates printed, want distinct, bloom distinct and 4 frequencies", len(answers))
	}
	if n := string(name(nil, 0)); !seen["freq "+n] {
		t.Errorf("no frequency line for the most frequent item %s", n)
	}

	// The true top items by count (ties by name), against those listed.
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

	// Poisson bound on the false positives at the filter's own rate.
	lambda := fpRate * float64(probes)
	if hi := lambda + 5*math.Sqrt(lambda) + 5; float64(fp) > hi || probes != o.probes {
		t.Errorf("%d false positives in %d probes, the filter's rate %g says about %.1f", fp, probes, fpRate, lambda)
	}
}

// TestDistinctCoverage: over many seeds (each a fresh set of items) the 95%
// bounds on the distinct count hold the truth at least as often as the
// binomial allows (34 of 40 fails with probability < 1% at a true 95%).
func TestDistinctCoverage(t *testing.T) {
	const seeds = 40
	inside := 0
	for seed := range uint64(seeds) {
		var out bytes.Buffer
		args := []string{"-n", "20000", "-items", "100000", "-probes", "0", "-seed", fmt.Sprint(100 + seed)}
		if err := run(args, &out); err != nil {
			t.Fatal(err)
		}
		o, _ := parse(args, new(bytes.Buffer))
		exact, _ := truth(o)
		line, _, _ := strings.Cut(out.String()[strings.Index(out.String(), "distinct "):], "\n")
		m := estimateLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no distinct line in\n%s", out.String())
		}
		if lo, hi := atof(t, m[4]), atof(t, m[5]); lo <= float64(len(exact)) && float64(len(exact)) <= hi {
			inside++
		}
	}
	if inside < 34 {
		t.Errorf("bounds held the true distinct count in %d of %d runs, want at least 34", inside, seeds)
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-s", "1"},
		{"-items", "0"},
		{"-n", "-1"},
		{"extra"},
		{"-nosuchflag"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if _, err := parse(args, new(bytes.Buffer)); err == nil {
				t.Errorf("no error for %q", args)
			}
		})
	}
}
