package pipeline

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/sketch"
)

// Defaults used where a GeneratorConfig field is zero.
const (
	DefaultGeneratorKeys   = 1_000_000
	DefaultGeneratorS      = 1.1
	DefaultGeneratorPrefix = "key-"
)

// GeneratorConfig describes a synthetic stream. The zero value means
// unlimited records over DefaultGeneratorKeys keys, Zipf with exponent
// DefaultGeneratorS, without values, as fast as they are pulled.
type GeneratorConfig struct {
	// Seed selects the stream; equal configs give equal streams.
	Seed uint64
	// Keys is the number of distinct keys; 0 means DefaultGeneratorKeys.
	Keys uint64
	// S is the Zipf exponent, > 1: key k (0-based) has probability
	// proportional to (k+1)^-S. 0 means DefaultGeneratorS.
	S float64
	// Prefix starts every key, followed by k in decimal ("key-0" is the
	// most frequent); "" means DefaultGeneratorPrefix.
	Prefix string
	// Count is the number of records (positions 0 to Count-1) before
	// io.EOF; 0 means no end.
	Count int64
	// ValueMean, if > 0, gives every record a value drawn from the
	// exponential distribution with this mean (a latency-like, skewed
	// positive value); 0 means no values.
	ValueMean float64
	// Rate, if > 0, is the arrival rate in records per second: record j
	// (counted from the first Fill after NewGenerator or SetPosition) is
	// due at the time of that Fill plus j/Rate. Fill returns only records
	// already due, and waits for the next one if none is. The schedule
	// does not slip: records due while nobody pulled come at once, as a
	// backlog of real arrivals would. 0 means no rate limit.
	Rate float64
	// Clock tells the time for Rate; nil means the system clock. If it
	// also has a method Sleep(ctx context.Context, d time.Duration) error,
	// the generator waits with it (a fake clock advances its time there,
	// so tests run without sleeping); otherwise with a real timer.
	Clock flowcontrol.Clock
}

// sleeper is the optional part of a Clock that waits.
type sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

// Generator is a deterministic Source of Zipf-distributed keys, for tests,
// benchmarks and demos.
//
// Record i depends only on (Seed, i): its uniforms come from a SplitMix64
// stream started at a hash of the seed and the index (a counter-based
// generator, as in Salmon et al., "Parallel random numbers: as easy as 1,
// 2, 3", SC 2011), so SetPosition costs O(1) and a restarted generator
// resumes exactly the stream the old one would have produced. Ranks are
// drawn exactly from the truncated Zipf distribution: the top 2^14 from an
// alias table (one uniform, no transcendental function), the rest by
// rejection-inversion (see zipfSampler). Keys are equal on every run of one
// build and architecture (a math.Log rounding difference elsewhere could
// move a rare key).
//
// Keys are formatted into a reused buffer and copied into the batch: Fill
// allocates nothing per record. NewGenerator builds the alias table (about
// 200 KB) in about a millisecond.
//
// The zero value is not usable; make one with NewGenerator. Fill and
// SetPosition must be called from one goroutine at a time; Position may be
// called from any goroutine.
type Generator struct {
	cfg    GeneratorConfig
	seed   uint64
	zipf   *zipfSampler
	key    []byte // prefix, then the key number
	prefix int
	pos    int64
	pub    atomic.Int64

	now     func() time.Time
	sleeper sleeper
	timer   *time.Timer
	started bool
	t0      time.Time
	sent    int64 // records emitted since t0
}

// NewGenerator checks cfg and returns a Generator at position 0.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	if cfg.Keys == 0 {
		cfg.Keys = DefaultGeneratorKeys
	}
	if cfg.S == 0 {
		cfg.S = DefaultGeneratorS
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultGeneratorPrefix
	}
	switch {
	case !(cfg.S > 1) || math.IsInf(cfg.S, 0):
		return nil, fmt.Errorf("pipeline: generator: Zipf exponent %v must be finite and > 1: %w", cfg.S, sketch.ErrInvalidParameter)
	case cfg.Count < 0:
		return nil, fmt.Errorf("pipeline: generator: count %d: %w", cfg.Count, sketch.ErrInvalidParameter)
	case !(cfg.ValueMean >= 0) || math.IsInf(cfg.ValueMean, 0):
		return nil, fmt.Errorf("pipeline: generator: value mean %v: %w", cfg.ValueMean, sketch.ErrInvalidParameter)
	case !(cfg.Rate >= 0) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("pipeline: generator: rate %v: %w", cfg.Rate, sketch.ErrInvalidParameter)
	}
	g := &Generator{cfg: cfg, seed: hashmix.SplitMix64(cfg.Seed), now: time.Now}
	g.zipf = newZipfSampler(cfg.Keys, cfg.S)
	// At least a cache line of its own: the key is rewritten per record,
	// and a neighbouring generator's key must not share its line.
	g.key = append(make([]byte, 0, max(128, len(cfg.Prefix)+20)), cfg.Prefix...)
	g.prefix = len(cfg.Prefix)
	if cfg.Clock != nil {
		g.now = cfg.Clock.Now
		g.sleeper, _ = cfg.Clock.(sleeper)
	}
	return g, nil
}

// Position is the index of the next record: the number of records emitted
// when the generator started at 0.
func (g *Generator) Position() int64 { return g.pub.Load() }

// SetPosition makes record pos the next one Fill emits, and restarts the
// rate schedule.
func (g *Generator) SetPosition(pos int64) error {
	if pos < 0 || (g.cfg.Count > 0 && pos > g.cfg.Count) {
		return fmt.Errorf("pipeline: generator: position %d outside [0, %d]: %w", pos, g.cfg.Count, sketch.ErrInvalidParameter)
	}
	g.pos = pos
	g.started = false
	g.pub.Store(pos)
	return nil
}

// Fill appends up to max records. With a Rate it appends only those due,
// waiting (until ctx is done) for one if none is. It returns io.EOF with
// the last records of a Count-limited stream.
func (g *Generator) Fill(ctx context.Context, b *Batch, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := int64(max)
	if g.cfg.Count > 0 {
		left := g.cfg.Count - g.pos
		if left <= 0 {
			return io.EOF
		}
		n = min(n, left)
	}
	if n <= 0 {
		return nil
	}
	if g.cfg.Rate > 0 {
		due, err := g.due(ctx)
		if err != nil {
			return err
		}
		n = min(n, due)
	}
	for i := g.pos; i < g.pos+n; i++ {
		key, v := g.record(i)
		r := b.Add(key)
		if g.cfg.ValueMean > 0 {
			r.Value, r.HasValue = v, true
		}
	}
	g.pos += n
	g.sent += n
	g.pub.Store(g.pos)
	if g.cfg.Count > 0 && g.pos >= g.cfg.Count {
		return io.EOF
	}
	return nil
}

// record returns the key (aliasing g.key) and value of record i.
func (g *Generator) record(i int64) ([]byte, float64) {
	st := hashmix.SplitMix64(g.seed + uint64(i)*0xd1342543de82ef95)
	k := g.zipf.sample(&st)
	g.key = strconv.AppendUint(g.key[:g.prefix], k, 10)
	var v float64
	if g.cfg.ValueMean > 0 {
		v = -math.Log(1-uniform(&st)) * g.cfg.ValueMean // inversion of the exponential CDF
	}
	return g.key, v
}

// due returns how many records are due now (at least 1), waiting until one
// is.
func (g *Generator) due(ctx context.Context) (int64, error) {
	now := g.now()
	if !g.started {
		g.t0, g.started, g.sent = now, true, 0
	}
	for {
		// Records 0..floor(elapsed*Rate) are due.
		due := math.Floor(now.Sub(g.t0).Seconds() * g.cfg.Rate)
		if n := int64(min(max(due, -1), 1<<62)) + 1 - g.sent; n > 0 {
			return n, nil
		}
		next := g.t0.Add(time.Duration(min(math.Ceil(float64(g.sent)/g.cfg.Rate*1e9), math.MaxInt64/2)))
		if err := g.sleep(ctx, max(next.Sub(now), time.Nanosecond)); err != nil {
			return 0, err
		}
		now = g.now()
	}
}

func (g *Generator) sleep(ctx context.Context, d time.Duration) error {
	if g.sleeper != nil {
		return g.sleeper.Sleep(ctx, d)
	}
	if g.timer == nil {
		g.timer = time.NewTimer(d)
	} else {
		g.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		g.timer.Stop()
		return ctx.Err()
	case <-g.timer.C:
		return nil
	}
}
