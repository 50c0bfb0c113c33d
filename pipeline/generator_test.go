package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/sketch"
)

func mustGenerator(t testing.TB, cfg GeneratorConfig) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// genTake returns the next n records of g in batches of up to max.
func genTake(t testing.TB, g *Generator, n, max int) []lsRec {
	t.Helper()
	var recs []lsRec
	var b Batch
	for len(recs) < n {
		b.Reset()
		err := g.Fill(context.Background(), &b, min(max, n-len(recs)))
		for i := range b.Records {
			r := &b.Records[i]
			if r.Hash != sketch.Hash(b.Key(i)) {
				t.Fatalf("record %d: hash is not xxhash of %q", len(recs), b.Key(i))
			}
			recs = append(recs, lsRec{Key: string(b.Key(i)), Value: r.Value, HasValue: r.HasValue})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

func TestGeneratorDeterministic(t *testing.T) {
	cfg := GeneratorConfig{Seed: 42, Keys: 1000, ValueMean: 3}
	a := genTake(t, mustGenerator(t, cfg), 5000, 1024)
	b := genTake(t, mustGenerator(t, cfg), 5000, 7) // batch size must not matter
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("record %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	cfg.Seed = 43
	c := genTake(t, mustGenerator(t, cfg), 5000, 1024)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > 100 {
		t.Errorf("seeds 42 and 43 agree on %d of 5000 records", same)
	}
}

func TestGeneratorKeys(t *testing.T) {
	g := mustGenerator(t, GeneratorConfig{Seed: 1, Keys: 50, Prefix: "user-"})
	for i, r := range genTake(t, g, 10_000, 999) {
		num, ok := strings.CutPrefix(r.Key, "user-")
		k, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil || k >= 50 || r.HasValue {
			t.Fatalf("record %d: key %q, has value %v", i, r.Key, r.HasValue)
		}
	}
	d := genTake(t, mustGenerator(t, GeneratorConfig{}), 10, 10)
	if !strings.HasPrefix(d[0].Key, DefaultGeneratorPrefix) {
		t.Errorf("default prefix: key %q", d[0].Key)
	}
}

func TestGeneratorSetPosition(t *testing.T) {
	cfg := GeneratorConfig{Seed: 9, Keys: 100, ValueMean: 1, Count: 3000}
	all := genTake(t, mustGenerator(t, cfg), 3000, 256)
	for _, pos := range []int64{0, 1, 255, 256, 1999, 2999, 3000} {
		g := mustGenerator(t, cfg)
		if err := g.SetPosition(pos); err != nil {
			t.Fatal(err)
		}
		rest := genTake(t, g, 5000, 100)
		if len(rest) != len(all)-int(pos) {
			t.Fatalf("from %d: %d records, want %d", pos, len(rest), len(all)-int(pos))
		}
		for i := range rest {
			if rest[i] != all[int(pos)+i] {
				t.Fatalf("from %d: record %d differs", pos, i)
			}
		}
		if g.Position() != 3000 {
			t.Errorf("from %d: Position %d at the end, want 3000", pos, g.Position())
		}
	}
	g := mustGenerator(t, cfg)
	for _, pos := range []int64{-1, 3001} {
		if err := g.SetPosition(pos); !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Errorf("SetPosition(%d): got %v, want ErrInvalidParameter", pos, err)
		}
	}
}

func TestGeneratorCount(t *testing.T) {
	g := mustGenerator(t, GeneratorConfig{Count: 10})
	var b Batch
	if err := g.Fill(context.Background(), &b, 0); err != nil || b.Len() != 0 {
		t.Fatalf("Fill with max 0: %d records, %v; want none, nil", b.Len(), err)
	}
	if err := g.Fill(context.Background(), &b, 6); err != nil || b.Len() != 6 {
		t.Fatalf("first Fill: %d records, %v", b.Len(), err)
	}
	b.Reset()
	if err := g.Fill(context.Background(), &b, 6); err != io.EOF || b.Len() != 4 {
		t.Fatalf("second Fill: %d records, %v; want the last 4 with io.EOF", b.Len(), err)
	}
	b.Reset()
	if err := g.Fill(context.Background(), &b, 6); err != io.EOF || b.Len() != 0 || g.Position() != 10 {
		t.Fatalf("after the end: %d records, %v, Position %d", b.Len(), err, g.Position())
	}
}

// TestGeneratorZipf checks the frequencies of the top ranks against
// P(k) = (k+1)^-s / H(N, s), within 5 standard errors.
func TestGeneratorZipf(t *testing.T) {
	const n, keys, s = 200_000, 1000, 1.1
	g := mustGenerator(t, GeneratorConfig{Seed: 5, Keys: keys, S: s})
	counts := map[string]int{}
	for _, r := range genTake(t, g, n, 4096) {
		counts[r.Key]++
	}
	var h float64
	for k := 1; k <= keys; k++ {
		h += math.Pow(float64(k), -s)
	}
	for k := range 20 {
		p := math.Pow(float64(k+1), -s) / h
		got := counts["key-"+strconv.Itoa(k)]
		if sd := math.Sqrt(n * p * (1 - p)); math.Abs(float64(got)-n*p) > 5*sd {
			t.Errorf("key-%d: %d occurrences, want %.0f ± %.0f", k, got, n*p, 5*sd)
		}
	}
	if len(counts) < keys*9/10 {
		t.Errorf("only %d distinct keys of %d", len(counts), keys)
	}
}

func TestGeneratorValues(t *testing.T) {
	const n = 100_000
	g := mustGenerator(t, GeneratorConfig{Seed: 2, ValueMean: 50})
	var sum float64
	for _, r := range genTake(t, g, n, 1000) {
		if !r.HasValue || r.Value < 0 {
			t.Fatalf("value %v, has %v", r.Value, r.HasValue)
		}
		sum += r.Value
	}
	// The exponential's standard deviation equals its mean.
	if mean, se := sum/n, 50/math.Sqrt(n); math.Abs(mean-50) > 5*se {
		t.Errorf("mean value %.3f, want 50 ± %.3f", mean, 5*se)
	}
}

// genFakeClock is simulated time: Sleep advances it at once.
type genFakeClock struct {
	now   time.Time
	slept time.Duration
}

func (c *genFakeClock) Now() time.Time { return c.now }

func (c *genFakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

func TestGeneratorRate(t *testing.T) {
	clock := &genFakeClock{now: time.Unix(1_000_000, 0)}
	g := mustGenerator(t, GeneratorConfig{Rate: 1000, Clock: clock})
	var b Batch
	fill := func(max int) int {
		t.Helper()
		b.Reset()
		if err := g.Fill(context.Background(), &b, max); err != nil {
			t.Fatal(err)
		}
		return b.Len()
	}
	if n := fill(100); n != 1 || clock.slept != 0 {
		t.Fatalf("first Fill: %d records after sleeping %v; want record 0, due at once", n, clock.slept)
	}
	// Nothing is due: Fill waits 1 ms for record 1.
	if n := fill(100); n != 1 || clock.slept != time.Millisecond {
		t.Fatalf("second Fill: %d records after sleeping %v; want 1 after 1ms", n, clock.slept)
	}
	// 50 ms later records 2..51 are due; max caps what one Fill takes.
	clock.now = clock.now.Add(50 * time.Millisecond)
	if n := fill(30); n != 30 {
		t.Fatalf("backlog: %d records, want 30", n)
	}
	if n := fill(100); n != 20 {
		t.Fatalf("rest of the backlog: %d records, want 20", n)
	}
	// Over a simulated second the generator emits the rate, never more.
	start, slept := clock.now, clock.slept
	total := 0
	for clock.now.Sub(start) < time.Second {
		total += fill(7)
		elapsed := clock.now.Sub(g.t0)
		if allowed := int64(elapsed.Seconds()*1000) + 1; g.Position() > allowed {
			t.Fatalf("at %v: %d records emitted, only %d due", elapsed, g.Position(), allowed)
		}
	}
	if total < 995 || total > 1005 {
		t.Errorf("one simulated second: %d records at rate 1000", total)
	}
	if clock.slept-slept < 900*time.Millisecond {
		t.Errorf("slept %v of the second; the generator should wait, not spin", clock.slept-slept)
	}
	// SetPosition restarts the schedule.
	if err := g.SetPosition(0); err != nil {
		t.Fatal(err)
	}
	slept = clock.slept
	if n := fill(100); n != 1 || clock.slept != slept {
		t.Errorf("after SetPosition: %d records after sleeping %v", n, clock.slept-slept)
	}
}

func TestGeneratorRateWaitsForContext(t *testing.T) {
	g := mustGenerator(t, GeneratorConfig{Rate: 1e-6}) // one record, then one per 11 days
	var b Batch
	if err := g.Fill(context.Background(), &b, 10); err != nil || b.Len() != 1 {
		t.Fatalf("first Fill: %d records, %v", b.Len(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	b.Reset()
	if err := g.Fill(ctx, &b, 10); !errors.Is(err, context.DeadlineExceeded) || b.Len() != 0 {
		t.Fatalf("second Fill: %d records, %v; want context.DeadlineExceeded", b.Len(), err)
	}
}

func TestNewGeneratorRejects(t *testing.T) {
	for _, cfg := range []GeneratorConfig{
		{S: 1}, {S: 0.5}, {S: math.NaN()}, {S: math.Inf(1)},
		{Count: -1}, {ValueMean: -1}, {ValueMean: math.NaN()},
		{Rate: -1}, {Rate: math.Inf(1)}, {Rate: math.NaN()},
	} {
		if _, err := NewGenerator(cfg); !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Errorf("%+v: got %v, want ErrInvalidParameter", cfg, err)
		}
	}
}

func TestGeneratorAllocs(t *testing.T) {
	for _, cfg := range []GeneratorConfig{{Seed: 1}, {Seed: 2, ValueMean: 1, Keys: 10}} {
		g := mustGenerator(t, cfg)
		var b Batch
		fill := func() {
			b.Reset()
			if err := g.Fill(context.Background(), &b, 1024); err != nil {
				t.Fatal(err)
			}
		}
		fill()
		if n := testing.AllocsPerRun(100, fill); n != 0 {
			t.Errorf("%+v: got %v allocation(s) (want zero)", cfg, n)
		}
	}
}

func BenchmarkGenerator(b *testing.B) {
	for _, cfg := range []GeneratorConfig{{Seed: 1}, {Seed: 1, ValueMean: 1}} {
		b.Run(fmt.Sprintf("values=%v", cfg.ValueMean > 0), func(b *testing.B) {
			g := mustGenerator(b, cfg)
			var batch Batch
			b.ReportAllocs()
			for b.Loop() {
				batch.Reset()
				if err := g.Fill(context.Background(), &batch, DefaultBatchSize); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(g.Position()), "ns/record")
		})
	}
}
