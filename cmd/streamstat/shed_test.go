package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/benchpair"
	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// runShed runs streamstat in-process with the operator hook cost (may be
// nil) and returns stdout, stderr and the exit code.
func runShed(t *testing.T, stdin io.Reader, cost func(int), args ...string) (string, string, int) {
	t.Helper()
	var out, errb syncBuffer
	e := defaultEnv(stdin, &out, &errb)
	e.opCost = cost
	code := runContext(context.Background(), args, e)
	return out.String(), errb.String(), code
}

// shedOut is the JSON answer of distinct, top or freq under --shed.
type shedOut struct {
	Distinct, Lower, Upper          uint64
	Records, Skipped, Shed          uint64
	Seen, Kept                      uint64
	ShedFraction                    float64 `json:"shed_fraction"`
	MinP                            float64 `json:"min_p"`
	MeanP                           float64 `json:"mean_p"`
	Policy                          string  `json:"shed_policy"`
	MaxLatencyMS                    float64 `json:"max_latency_ms"`
	Exact                           bool
	Items                           []shedOutItem
	Total                           uint64
	UnlistedMax                     uint64 `json:"unlisted_max"`
	Confidence                      float64
	Cover                           float64
	Width, Depth, Capacity          int
	raw                             map[string]any
	lastLine, stderr, text, csvHead string
}

type shedOutItem struct {
	Key                 string
	Count, Lower, Upper uint64
	Guaranteed          bool
	Confidence          float64
}

func parseShedOut(t *testing.T, out string) shedOut {
	t.Helper()
	var j shedOut
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if err := json.Unmarshal([]byte(out), &j.raw); err != nil {
		t.Fatal(err)
	}
	return j
}

// checkShedFields checks what every answer under --shed states about
// shedding, and that it adds up.
func checkShedFields(t *testing.T, j shedOut, records uint64, policy string) {
	t.Helper()
	for _, f := range []string{"records", "skipped", "shed", "seen", "kept", "shed_fraction", "min_p", "mean_p", "shed_policy", "max_latency_ms"} {
		if _, ok := j.raw[f]; !ok {
			t.Errorf("json lacks %q: %v", f, j.raw)
		}
	}
	if j.Records != records || j.Seen != records || j.Kept+j.Shed != j.Seen {
		t.Errorf("records %d, seen %d, kept %d, shed %d; want seen = kept + shed = records = %d", j.Records, j.Seen, j.Kept, j.Shed, records)
	}
	if want := float64(j.Shed) / float64(j.Seen); math.Abs(j.ShedFraction-want) > 1e-12 {
		t.Errorf("shed_fraction %v, want %v", j.ShedFraction, want)
	}
	if !(j.MinP > 0 && j.MinP <= j.MeanP && j.MeanP <= 1) {
		t.Errorf("min_p %v, mean_p %v", j.MinP, j.MeanP)
	}
	if j.Policy != policy {
		t.Errorf("shed_policy %q, want %q", j.Policy, policy)
	}
}

// lockstep is a stream that hands out its next piece only once the
// operators have been given every record of the pieces before: the
// workers never get ahead of counting, so nothing queues, the controller
// never sees overload, and the run does not depend on timing.
type lockstep struct {
	pieces []string
	next   int
	sent   int64 // records in the pieces handed out
	done   atomic.Int64
	wake   chan struct{}
}

func newLockstep(text string, linesPerPiece int) *lockstep {
	l := &lockstep{wake: make(chan struct{}, 1)}
	ls := strings.SplitAfter(text, "\n")
	for i := 0; i < len(ls); i += linesPerPiece {
		if p := strings.Join(ls[i:min(i+linesPerPiece, len(ls))], ""); p != "" {
			l.pieces = append(l.pieces, p)
		}
	}
	return l
}

// cost is the operator hook: it counts the records given to operators.
func (l *lockstep) cost(n int) {
	l.done.Add(int64(n))
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *lockstep) Read(p []byte) (int, error) {
	deadline := time.After(10 * time.Second)
	for l.done.Load() < l.sent {
		select {
		case <-l.wake:
		case <-deadline:
			return 0, errors.New("lockstep: the operators never got the records")
		}
	}
	if l.next == len(l.pieces) {
		return 0, io.EOF
	}
	piece := l.pieces[l.next]
	if len(p) < len(piece) {
		return 0, errors.New("lockstep: read buffer smaller than a piece")
	}
	l.next++
	l.sent += int64(strings.Count(piece, "\n"))
	return copy(p, piece), nil
}

// keyLines returns n lines cycling through the given keys.
func keyLines(keys []string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(keys[i%len(keys)])
		b.WriteByte('\n')
	}
	return b.String()
}

func numberedKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return keys
}

// TestShedNoOverload: with --shed on a stream that never outruns
// counting, nothing is shed, every answer says so, and the truth lies in
// the bounds (which are then the sketches' own).
func TestShedNoOverload(t *testing.T) {
	const n = 10_000
	// Skewed keys: k<i> occurs about n/(i+1) times, 2000 keys in all.
	var keys []string
	truth := map[string]uint64{}
	for i := range 2000 {
		k := fmt.Sprintf("k%d", i)
		for range max(1, 200/(i+1)) {
			keys = append(keys, k)
		}
	}
	text := keyLines(keys, n)
	for _, k := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		truth[k]++
	}
	run := func(t *testing.T, args ...string) shedOut {
		t.Helper()
		l := newLockstep(text, 50)
		out, errOut, code := runShed(t, l, l.cost, append(args, "--shed", "--max-latency", "250ms", "-j", "1", "--format", "json")...)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		j := parseShedOut(t, out)
		checkShedFields(t, j, n, map[string]string{"distinct": "key-hash"}[args[0]]+map[string]string{"top": "random", "freq": "random"}[args[0]])
		if j.Shed != 0 || j.MinP != 1 || j.MaxLatencyMS != 250 {
			t.Errorf("shed %d, min_p %v, max_latency_ms %v; want nothing shed at 250 ms", j.Shed, j.MinP, j.MaxLatencyMS)
		}
		return j
	}
	t.Run("distinct", func(t *testing.T) {
		// Nothing shed: the answer is distinct's without --shed, from
		// the same HLL.
		j := run(t, "distinct")
		if d := uint64(len(truth)); j.Exact || j.Cover != 1 || d < j.Lower || d > j.Upper {
			t.Errorf("distinct %d [%d, %d] exact %v (cover %v); want inexact bounds holding %d, cover 1", j.Distinct, j.Lower, j.Upper, j.Exact, j.Cover, d)
		}
		out, errOut, code := runShed(t, strings.NewReader(text), nil, "distinct", "-j", "1", "--format", "json")
		if code != 0 {
			t.Fatalf("distinct without --shed: exit %d, stderr %q", code, errOut)
		}
		if p := parseShedOut(t, out); p.Distinct != j.Distinct || p.Lower != j.Lower || p.Upper != j.Upper {
			t.Errorf("distinct %d [%d, %d] under --shed, %d [%d, %d] without: want the same", j.Distinct, j.Lower, j.Upper, p.Distinct, p.Lower, p.Upper)
		}
	})
	t.Run("top", func(t *testing.T) {
		j := run(t, "top", "-k", "5")
		if len(j.Items) != 5 || j.Items[0].Key != "k0" {
			t.Fatalf("items %+v", j.Items)
		}
		for _, it := range j.Items {
			if f := truth[it.Key]; f < it.Lower || f > it.Upper || it.Confidence != 1 {
				t.Errorf("%s: %d [%d, %d] confidence %v; truth %d", it.Key, it.Count, it.Lower, it.Upper, it.Confidence, f)
			}
		}
		if j.Total != n {
			t.Errorf("total %d, want %d", j.Total, n)
		}
	})
	t.Run("freq", func(t *testing.T) {
		j := run(t, "freq", "k0", "k7", "k1999", "absent")
		for _, it := range j.Items {
			if f := truth[it.Key]; f < it.Lower || f > it.Upper {
				t.Errorf("%s: %d [%d, %d]; truth %d", it.Key, it.Count, it.Lower, it.Upper, f)
			}
		}
		if j.Confidence != 1-math.Exp(-5) {
			t.Errorf("confidence %v: without shedding it is the CountMin's", j.Confidence)
		}
	})
}

// distinctKeyPrefix names the keys of the overloaded distinct run: for
// the 5000 keys distinctKeyPrefix0 .. distinctKeyPrefix4999, the 95%
// bounds of the CLI's answer (shedding.HLLDistinct at --precision 14)
// hold the truth at every smallest p the controller can reach (every
// multiple of 2^-16 from DefaultMinP up), whether the HLL is sparse or
// dense, which TestShedDistinctKeysCovered checks. Key-hash shedding
// keeps a key iff its hash is below p, and the answer reads only the keys
// below the smallest p, so it depends on nothing but that p and the
// representation, and the overloaded run's check cannot fail by chance,
// however the timing goes.
const (
	distinctKeyPrefix = "u0-"
	distinctKeys      = 5000
)

func TestShedDistinctKeysCovered(t *testing.T) {
	if testing.Short() {
		t.Skip("a property of constants: checked in long runs")
	}
	hs := make([]uint64, distinctKeys)
	for i, k := range numberedKeys(distinctKeyPrefix, distinctKeys) {
		hs[i] = sketch.HashString(k)
	}
	slices.Sort(hs)
	lo, hi := uint64(shedding.DefaultMinP/shedding.PStep), uint64(1/shedding.PStep-1)
	// g/2^16 keeps the hashes below g<<48: add them as g rises.
	sparse, _ := sketch.NewHLL(sketch.DefaultPrecision)
	dense, _ := sketch.NewHLL(sketch.DefaultPrecision)
	finer, _ := sketch.NewHLL(sketch.DefaultPrecision + 1)
	if err := dense.Merge(finer); err != nil { // folded: dense, empty
		t.Fatal(err)
	}
	next := 0
	for g := lo; g <= hi; g++ {
		for ; next < len(hs) && hs[next] < g<<48; next++ {
			sparse.AddHash(hs[next])
			dense.AddHash(hs[next])
		}
		minP := float64(g) * shedding.PStep
		for _, h := range []*sketch.HLL{sparse, dense} {
			e, _, err := shedding.HLLDistinct(h, minP, shedConfidence)
			if err != nil || e.Lower > distinctKeys || e.Upper < distinctKeys {
				t.Fatalf("min p %v: %+v (%v) misses %d: pick another distinctKeyPrefix", minP, e, err, distinctKeys)
			}
		}
	}
	if enc, _ := sparse.MarshalBinary(); enc[24] != 0 {
		t.Fatal("the sparse HLL turned dense")
	}
}

// TestShedOverload: an operator made slow (5 µs per record, by the test
// hook) behind a fast stream is overloaded: the run sheds, says how much
// in a way that adds up, scales its answer back up, and the truth lies in
// its bounds.
func TestShedOverload(t *testing.T) {
	const n = 200_000
	slow := func(records int) { time.Sleep(time.Duration(records) * 5 * time.Microsecond) }
	run := func(t *testing.T, text string, args ...string) shedOut {
		t.Helper()
		out, errOut, code := runShed(t, strings.NewReader(text), slow, append(args, "--shed", "-j", "2", "--format", "json")...)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		j := parseShedOut(t, out)
		if j.Shed == 0 || j.MinP >= 1 {
			t.Fatalf("nothing shed (min_p %v) by an operator 5 µs per record behind a stream", j.MinP)
		}
		if want := fmt.Sprintf("streamstat: overloaded: shed %d of %d records", j.Shed, j.Seen); !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("stderr %q, want one line starting %q", errOut, want)
		}
		if j.MaxLatencyMS != 100 {
			t.Errorf("max_latency_ms %v, want the default 100", j.MaxLatencyMS)
		}
		t.Logf("shed %d of %d (p min %.4g, mean %.4g)", j.Shed, j.Seen, j.MinP, j.MeanP)
		return j
	}
	t.Run("distinct", func(t *testing.T) {
		j := run(t, keyLines(numberedKeys(distinctKeyPrefix, distinctKeys), n), "distinct")
		checkShedFields(t, j, n, "key-hash")
		if j.Exact || j.Lower > distinctKeys || j.Upper < distinctKeys || j.Distinct < j.Lower || j.Distinct > j.Upper {
			t.Errorf("distinct %d [%d, %d] exact %v; truth %d", j.Distinct, j.Lower, j.Upper, j.Exact, distinctKeys)
		}
		if !(j.Cover > 0 && j.Cover <= j.MinP) {
			t.Errorf("cover %v, min_p %v: want the answer read from a part of the hash space no larger than min_p", j.Cover, j.MinP)
		}
	})
	// 100 keys of 2000 records each: each count's 95% bounds miss with
	// probability 5%, independently, so more than 15 misses of 100 would
	// happen by chance less than once in 10,000 runs.
	keys := numberedKeys("key", 100)
	coverage := func(t *testing.T, j shedOut) {
		t.Helper()
		if len(j.Items) != len(keys) {
			t.Fatalf("%d items", len(j.Items))
		}
		miss := 0
		for _, it := range j.Items {
			if it.Lower > n/100 || it.Upper < n/100 {
				miss++
				t.Logf("miss: %+v", it)
			}
		}
		if miss > 15 {
			t.Errorf("%d of %d bounds miss the truth", miss, len(keys))
		}
	}
	t.Run("top", func(t *testing.T) {
		j := run(t, keyLines(keys, n), "top", "-k", "100")
		checkShedFields(t, j, n, "random")
		for _, it := range j.Items {
			if it.Guaranteed || it.Confidence != shedConfidence {
				t.Errorf("%+v: want not guaranteed, 95%% confidence", it)
			}
		}
		coverage(t, j)
	})
	t.Run("freq", func(t *testing.T) {
		j := run(t, keyLines(keys, n), append([]string{"freq"}, keys...)...)
		checkShedFields(t, j, n, "random")
		if j.Confidence != shedConfidence {
			t.Errorf("confidence %v, want %v", j.Confidence, shedConfidence)
		}
		coverage(t, j)
	})
}

// TestShedFormats: text and csv answers state the shedding too.
func TestShedFormats(t *testing.T) {
	text := keyLines([]string{"a", "b", "a"}, 30)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"distinct", "--format", "text"}, []string{"distinct  2  (95% bounds 2 .. 3)", "shed      0", "load shedding (key-hash, max latency 100ms): nothing shed of 30 records"}},
		{[]string{"top", "--format", "text"}, []string{"records 30, skipped 0, shed 0", "every count is within [lower, upper]", "load shedding (random, max latency 100ms): nothing shed of 30 records"}},
		{[]string{"freq", "a", "--format", "text"}, []string{"records 30, skipped 0, shed 0", "lower bounds hold with 99.3% confidence", "load shedding (random"}},
		{[]string{"distinct", "--format", "csv"}, []string{"distinct,lower,upper,confidence,exact,records,skipped,shed,precision,saturated,cover,seen,kept,shed_fraction,min_p,mean_p,shed_policy,max_latency_ms,complete\n2,2,3,0.95,false,30,0,0,14,false,1,30,30,0,1,1,key-hash,100,true\n"}},
		{[]string{"top", "-k", "1", "--format", "csv"}, []string{"rank,key,count,lower,upper,guaranteed,confidence,records,skipped,shed,total,capacity,unlisted_max,seen,kept,shed_fraction,min_p,mean_p,shed_policy,max_latency_ms,complete\n1,a,20,20,20,true,1,30,0,0,30,4096,10,30,30,0,1,1,random,100,true\n"}},
		{[]string{"freq", "b", "--format", "csv"}, []string{"key,count,lower,upper,guaranteed,records,skipped,shed,total,confidence,width,depth,seen,kept,shed_fraction,min_p,mean_p,shed_policy,max_latency_ms,complete\nb,10,"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			l := newLockstep(text, 50)
			out, errOut, code := runShed(t, l, l.cost, append(tc.args, "--shed", "-j", "1")...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestShedUsageErrors: bad shedding flags are usage errors (exit 2) that
// say what is wrong.
func TestShedUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"top", "--max-latency", "100ms"}, "needs --shed"},
		{[]string{"distinct", "--shed", "--max-latency", "-5ms"}, "must be positive"},
		{[]string{"freq", "x", "--shed", "--max-latency", "0"}, "must be positive"},
		{[]string{"top", "--shed", "--max-latency", "soon"}, "want a duration"},
		{[]string{"distinct", "--shed", "--save", "x.state"}, "--save cannot be used with --shed"},
		{[]string{"distinct", "--shed", "--precision", "13"}, "distinct --shed needs 14 or more"},
		{[]string{"sample", "--shed"}, "sample does not shed load"},
		{[]string{"stats", "-f", "1", "--shed"}, "stats does not shed load"},
		{[]string{"dedup", "--shed"}, "--shed: dedup does not take this flag"},
		{[]string{"top", "--shed", "testdata/words.txt"}, "--shed is for streams (stdin, pipes): testdata/words.txt is a regular file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := runShed(t, strings.NewReader("a\n"), nil, tc.args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestWidenCount: the sampling error is added outside the sketch's
// bounds; without shedding nothing changes; a key none of whose records
// were kept may still have arrived a few times 1/p.
func TestWidenCount(t *testing.T) {
	none := shedding.Summary{Seen: 100, Kept: 100, MinP: 1, MeanP: 1, MeanInvP: 1}
	e := sketch.Estimate{Value: 50, Lower: 40, Upper: 50, Confidence: 0.975}
	if got := widenCount(e, none, 0.975); got != e {
		t.Errorf("without shedding: %+v, want %+v", got, e)
	}
	tenth := shedding.Summary{Seen: 1000, Kept: 100, Shed: 900, MinP: 0.1, MeanP: 0.1, MeanInvP: 10}
	zero := widenCount(sketch.Estimate{Confidence: 0.975, Exact: true}, tenth, 0.95)
	// About 3/p (the rule of three) to 4.4/p with the continuity correction.
	if zero.Lower != 0 || zero.Upper < 30 || zero.Upper > 50 || zero.Exact || zero.Confidence != 0.95 {
		t.Errorf("a key never kept at p = 0.1: %+v, want [0, ~44] at 95%%", zero)
	}
	// A large count: close to the normal interval of sd sqrt(f(1/p-1)).
	big := widenCount(sketch.Estimate{Value: 1e6, Lower: 1e6, Upper: 1e6, Confidence: 1}, tenth, 0.95)
	sd := math.Sqrt(1e6 * 9)
	if d := big.Upper - 1e6; math.Abs(d-1.96*sd)/(1.96*sd) > 0.01 {
		t.Errorf("upper %v - 1e6 = %v, want about %v", big.Upper, d, 1.96*sd)
	}
	if d := 1e6 - big.Lower; math.Abs(d-1.96*sd)/(1.96*sd) > 0.01 || big.Confidence != 0.95 {
		t.Errorf("lower %v, confidence %v", big.Lower, big.Confidence)
	}
	// The sketch's own bounds are kept and widened from.
	wide := widenCount(sketch.Estimate{Value: 1000, Lower: 900, Upper: 1000, Confidence: 0.975}, tenth, 0.975)
	if wide.Lower >= 900 || wide.Upper <= 1000 || math.Abs(wide.Confidence-0.95) > 1e-12 {
		t.Errorf("%+v: want beyond [900, 1000] at 95%%", wide)
	}
}

// BenchmarkShedTopNotSlower runs what `cat zipf.txt | streamstat top
// --shed` runs, a source faster than the operator (a Zipf generator of
// 10M records over 10M keys) into top's operator under shedding (the
// controller's defaults; the pipeline puts a channel in front of the
// operator and runs it in the source's goroutine while nothing is shed),
// against the same records into a TopK chained to the source, as top runs
// without --shed, and reports x-noshed and x-noshed-cpu: the medians over
// the iterations of the ratios of the wall and CPU times of two runs made
// one after the other (in alternating order); x-noshed-max is the largest
// wall ratio, shed-frac the fraction shed in the last run. Shedding must
// never make the run slower: both ratios <= 1 up to the machine's noise.
// Run with -benchtime 5x or more.
func BenchmarkShedTopNotSlower(b *testing.B) {
	const n = 10_000_000
	run := func(shed bool) (wall, cpu time.Duration, s shedding.Summary) {
		gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Keys: 10_000_000, Count: n})
		if err != nil {
			b.Fatal(err)
		}
		tk, _ := sketch.NewTopK(sketch.DefaultTopKCapacity)
		var cfg pipeline.Config
		var g *shedding.Group
		op := pipeline.Operator(&pipeline.HeavyHitters{TopK: tk})
		if shed {
			if g, err = shedding.NewGroup(shedding.Config{}); err != nil {
				b.Fatal(err)
			}
			cfg.NewShedder = g.NewShedder
			op = &shedding.TopKeys{Capacity: tk.Capacity()}
		}
		p, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
			Name: "top",
			New:  func(int) (pipeline.Operator, error) { return op, nil },
		}}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), cputime.Process()
		if err := p.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		// The answer, as top reads it.
		records, _ := sketch.NewTopK(tk.Capacity())
		units, _ := sketch.NewTopK(tk.Capacity())
		if shed {
			_ = op.(*shedding.TopKeys).AddTo(records, units)
		} else {
			_ = records.Merge(tk)
		}
		_ = records.Top(10)
		wall, cpu = time.Since(start), cputime.Process()-cpu0
		s = shedding.Summary{MinP: 1, MeanP: 1, MeanInvP: 1}
		if g != nil {
			s = g.Summary()
		}
		return wall, cpu, s
	}
	var pairs benchpair.Pairs
	var s shedding.Summary
	timed := func(shed bool) func() benchpair.Time {
		return func() benchpair.Time {
			wall, cpu, sum := run(shed)
			if shed {
				s = sum
			}
			return benchpair.Time{Wall: wall, CPU: cpu}
		}
	}
	base, shed := timed(false), timed(true)
	for b.Loop() {
		pairs.Run(base, shed)
	}
	pairs.Report(b, "x-noshed")
	b.ReportMetric(s.Fraction(), "shed-frac")
}
