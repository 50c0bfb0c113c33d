package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// clickstream returns n lines "u<user> p<page>": users uniform over
// users, pages Zipf-like over 1000; every 997th line has no page field,
// so a branch keyed by page must skip (and count) it.
func clickstream(n int, users int, seed uint64) []byte {
	return clickstreamMissing(n, users, seed, 997)
}

// clickstreamMissing is clickstream with every missing-th line without a
// page; 0 means none.
func clickstreamMissing(n int, users int, seed uint64, missing int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	zipf := rand.NewZipf(rng, 1.2, 1, 999)
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "u%d", rng.IntN(users))
		if missing == 0 || i%missing != missing-1 {
			fmt.Fprintf(&b, " p%d", zipf.Uint64())
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// lineSources cuts data into n LineSources at line boundaries.
func lineSources(t testing.TB, data []byte, n int, cfg LineConfig) []Source {
	var srcs []Source
	rest := data
	for i := n; i > 0; i-- {
		cut := len(rest)
		if i > 1 {
			cut = len(rest) / i
			cut += bytes.IndexByte(rest[cut:], '\n') + 1
		}
		s, err := NewLineSource(bytes.NewReader(rest[:cut]), cfg)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
		rest = rest[cut:]
	}
	return srcs
}

func distinctStage(par int) Stage {
	return Stage{Name: "distinct", Input: ByKey, Parallelism: par, New: func(int) (Operator, error) {
		h, err := sketch.NewHLL(12)
		return &Distinct{HLL: h}, err
	}}
}

func topStage(par int) Stage {
	return Stage{Name: "top", Input: ByKey, Parallelism: par, New: func(int) (Operator, error) {
		k, err := sketch.NewTopK(64)
		return &HeavyHitters{TopK: k}, err
	}}
}

// stageStates returns the encodings of stage s's instances.
func stageStates(t testing.TB, p *Pipeline, s int) []string {
	var out []string
	err := p.Query(s, func(_ int, op Operator) error {
		b, err := op.(Stateful).MarshalBinary()
		out = append(out, fmt.Sprintf("%x", b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runOK(t testing.TB, p *Pipeline) {
	t.Helper()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestFanOutEqualsSeparateRuns: one pass over a clickstream, fanned out to
// distinct users and top pages, leaves every instance in the state that
// two single-branch runs, each keyed by its field at the source, leave:
// byte for byte, so the answers are equal too. (With several sources an
// instance takes its inputs one batch at a time, so lines skipped in one
// branch, which shift batch boundaries, would change the interleaving that
// the order-sensitive TopK sees: those cases have no line to skip.)
func TestFanOutEqualsSeparateRuns(t *testing.T) {
	for _, tc := range []struct{ sources, par, missing int }{{1, 1, 997}, {1, 3, 997}, {1, 2, 0}, {2, 2, 0}, {3, 1, 0}} {
		t.Run(fmt.Sprintf("sources=%d,par=%d,missing-page-every=%d", tc.sources, tc.par, tc.missing), func(t *testing.T) {
			data := clickstreamMissing(60000, 20000, 1, tc.missing)
			ws := Whitespace
			sep := func(field int, st Stage) (*Pipeline, int64) {
				srcs := lineSources(t, data, tc.sources, LineConfig{Field: field, Delimiter: ws})
				p, err := New(srcs, []Stage{st}, Config{BatchSize: 100})
				if err != nil {
					t.Fatal(err)
				}
				runOK(t, p)
				var skipped int64
				for _, s := range srcs {
					skipped += s.(*LineSource).Skipped()
				}
				return p, skipped
			}
			pu, _ := sep(1, distinctStage(tc.par))
			pp, pageSkips := sep(2, topStage(tc.par))

			fan, err := New(lineSources(t, data, tc.sources, LineConfig{}), []Stage{{
				Name: "clicks",
				Branches: []Branch{
					{Name: "users", Key: ByField(1, ws), Stages: []Stage{distinctStage(tc.par)}},
					{Name: "pages", Key: ByField(2, ws), Stages: []Stage{topStage(tc.par)}},
				},
			}}, Config{BatchSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			runOK(t, fan)
			if got, want := stageStates(t, fan, fan.BranchStage("users", 0)), stageStates(t, pu, 0); !equalStrings(got, want) {
				t.Error("users branch: HLL states differ from a run keyed by field 1")
			}
			if got, want := stageStates(t, fan, fan.BranchStage("pages", 0)), stageStates(t, pp, 0); !equalStrings(got, want) {
				t.Error("pages branch: TopK states differ from a run keyed by field 2")
			}
			bs := fan.Branches()
			lines := uint64(bytes.Count(data, []byte{'\n'}))
			if len(bs) != 2 || bs[0].Name != "users" || bs[0].Records != lines || bs[0].Skipped != 0 ||
				bs[1].Name != "pages" || bs[1].Records+bs[1].Skipped != lines || bs[1].Skipped != uint64(pageSkips) || (pageSkips == 0) != (tc.missing == 0) {
				t.Errorf("Branches() = %+v; want users %d records, pages %d skipped of %d", bs, lines, pageSkips, lines)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// TestFanOutKeepsRecordFields: re-keying keeps Value, HasValue, Time and
// KeepP, and hashes the new key with sketch.Hash.
func TestFanOutKeepsRecordFields(t *testing.T) {
	var in Batch
	r := in.Add([]byte("alice /home"))
	r.Value, r.HasValue, r.Time, r.KeepP = 2.5, true, 12345, 0.25
	in.Add([]byte("bob")) // no second field
	for _, tc := range []struct {
		name string
		key  KeyFunc
		want []string
	}{
		{"by field 2", ByField(2, Whitespace), []string{"/home"}},
		{"by field 1", ByField(1, Whitespace), []string{"alice", "bob"}},
		{"nil key keeps the key", nil, []string{"alice /home", "bob"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out Batch
			out.Add([]byte("already here"))
			if err := (&Rekey{Key: tc.key}).Process(&in, &out); err != nil {
				t.Fatal(err)
			}
			if out.Len() != 1+len(tc.want) || string(out.Key(0)) != "already here" {
				t.Fatalf("out has %d records, first %q", out.Len(), out.Key(0))
			}
			for i, w := range tc.want {
				got := out.Records[1+i]
				if k := string(out.Key(1 + i)); k != w || got.Hash != sketch.Hash([]byte(w)) {
					t.Errorf("record %d: key %q hash %x, want %q hash %x", i, k, got.Hash, w, sketch.Hash([]byte(w)))
				}
			}
			got := out.Records[1]
			if got.Value != 2.5 || !got.HasValue || got.Time != 12345 || got.KeepP != 0.25 {
				t.Errorf("re-keyed record %+v lost Value, Time or KeepP", got)
			}
		})
	}
}

// TestRekeyZeroAllocs: the re-keying hot path, in the operator and in a
// fan-out, allocates nothing per record once the buffers have grown.
func TestRekeyZeroAllocs(t *testing.T) {
	var in Batch
	data := clickstream(DefaultBatchSize, 5000, 2)
	for line := range bytes.Lines(data) {
		in.Add(bytes.TrimSuffix(line, []byte{'\n'}))
	}
	op := &Rekey{Key: ByField(2, Whitespace)}
	var out Batch
	if n := testing.AllocsPerRun(100, func() {
		out.Reset()
		_ = op.Process(&in, &out)
	}); n != 0 {
		t.Errorf("Rekey.Process: %v allocations per batch (want zero)", n)
	}
	fan := &fanEmitter{
		children: []emitter{&sinkEmitter{}, &sinkEmitter{}},
		branches: []*branchState{{key: ByField(1, Whitespace)}, {key: ByField(2, Whitespace)}},
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		b, _ := fan.out(ctx)
		b.Records = append(b.Records, in.Records...)
		b.arena = append(b.arena, in.arena...)
		_ = fan.flush(ctx, flushFull)
	}); n != 0 {
		t.Errorf("fan-out flush: %v allocations per batch (want zero)", n)
	}
	if r := fan.branches[1].records.Load() + fan.branches[1].skipped.Load(); r == 0 || fan.branches[1].skipped.Load() == 0 {
		t.Errorf("branch counters %d records, %d skipped", fan.branches[1].records.Load(), fan.branches[1].skipped.Load())
	}
}

// TestFanOutSteadyStateAllocs: a whole fan-out pipeline allocates nothing
// per record: ten times the records cost no more allocations.
func TestFanOutSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow under -race")
	}
	small, large := clickstream(20_000, 5000, 3), clickstream(620_000, 5000, 3)
	mallocs := func(data []byte) uint64 {
		p, err := New(lineSources(t, data, 2, LineConfig{}), []Stage{{Name: "clicks", Branches: []Branch{
			{Name: "users", Key: ByField(1, Whitespace), Stages: []Stage{distinctStage(2)}},
			{Name: "pages", Key: ByField(2, Whitespace), Stages: []Stage{topStage(2)}},
		}}}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		runOK(t, p)
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	mallocs(small) // warm up
	a, b := mallocs(small), mallocs(large)
	perRecord := (float64(b) - float64(a)) / 600_000
	t.Logf("allocations: %d for 2e4 records, %d for 6.2e5: %.5f per record", a, b, perRecord)
	if perRecord > 0.001 {
		t.Errorf("%.4f allocations per record in steady state (want zero)", perRecord)
	}
}

// TestFanOutGraphNumbering: stages are numbered depth-first, nested
// fan-outs included, and every branch sees every record.
func TestFanOutGraphNumbering(t *testing.T) {
	data := clickstream(5000, 100, 4)
	var counts [5]atomic.Int64
	count := func(name string, c *atomic.Int64, par int, in Partitioning) Stage {
		return Stage{Name: name, Parallelism: par, Input: in, New: func(int) (Operator, error) {
			return OperatorFunc(func(in, out *Batch) error {
				c.Add(int64(in.Len()))
				return pass(true, in, out)
			}), nil
		}}
	}
	p, err := New(lineSources(t, data, 2, LineConfig{}), []Stage{
		count("trunk", &counts[0], 2, Forward),
		{Name: "fan", Branches: []Branch{
			{Name: "a", Stages: []Stage{
				count("x", &counts[1], 3, ByKey),
				{Name: "fan2", Branches: []Branch{
					{Name: "a1", Key: ByField(1, Whitespace), Stages: []Stage{count("y", &counts[2], 1, RoundRobin)}},
					{Name: "a2", Key: ByField(2, Whitespace), Stages: []Stage{count("z", &counts[3], 3, Forward)}},
				}},
			}},
			{Name: "b", Key: ByField(1, Whitespace), Stages: []Stage{count("w", &counts[4], 2, Forward)}},
		}},
	}, Config{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		branch string
		i      int
		want   int
	}{{"a", 0, 1}, {"a1", 0, 2}, {"a2", 0, 3}, {"b", 0, 4}, {"a", 1, -1}, {"c", 0, -1}, {"b", -1, -1}} {
		if got := p.BranchStage(tc.branch, tc.i); got != tc.want {
			t.Errorf("BranchStage(%q, %d) = %d, want %d", tc.branch, tc.i, got, tc.want)
		}
	}
	if err := p.Query(p.BranchStage("c", 0), func(int, Operator) error { return nil }); err == nil {
		t.Error("Query of an unknown branch's stage: no error")
	}
	runOK(t, p)
	lines := int64(bytes.Count(data, []byte{'\n'}))
	skipped := int64(p.Branches()[2].Skipped)
	for i, want := range []int64{lines, lines, lines, lines - skipped, lines} {
		if got := counts[i].Load(); got != want {
			t.Errorf("stage %d saw %d records, want %d", i, got, want)
		}
	}
	if skipped == 0 {
		t.Error("branch a2 skipped nothing; the input has lines without a page")
	}
	m := p.Metrics()
	if len(m.Operators) != 2+3+1+3+2 {
		t.Errorf("Metrics has %d instances, want 11", len(m.Operators))
	}
}

// TestNewRejectsBadFanOuts: a fan-out that cannot run is refused at New
// with ErrInvalidGraph and a message saying what is wrong.
func TestNewRejectsBadFanOuts(t *testing.T) {
	op := distinctStage(1)
	for _, tc := range []struct {
		name   string
		stages []Stage
		msg    string
	}{
		{"fan-out followed by a stage", []Stage{{Name: "f", Branches: []Branch{{Name: "a", Stages: []Stage{op}}}}, op}, "followed by 1 more"},
		{"fan-out with an operator", []Stage{{Name: "f", New: op.New, Branches: []Branch{{Name: "a", Stages: []Stage{op}}}}}, "holds no operator"},
		{"fan-out with parallelism", []Stage{{Name: "f", Parallelism: 2, Branches: []Branch{{Name: "a", Stages: []Stage{op}}}}}, "holds no operator"},
		{"fan-out with no branch", []Stage{{Name: "f", Branches: []Branch{}}}, "no branches"},
		{"branch without a name", []Stage{{Name: "f", Branches: []Branch{{Stages: []Stage{op}}}}}, "without a name"},
		{"two branches of one name", []Stage{{Name: "f", Branches: []Branch{{Name: "a", Stages: []Stage{op}}, {Name: "a", Stages: []Stage{op}}}}}, "two branches named"},
		{"branch without stages", []Stage{{Name: "f", Branches: []Branch{{Name: "a"}}}}, "no stages"},
		{"forward into a branch of another parallelism", []Stage{{Name: "f", Branches: []Branch{{Name: "a", Stages: []Stage{{Name: "x", Parallelism: 2, New: op.New}}}}}}, "forward from parallelism 1 to 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]Source{newKeySource(nil, 0, 0)}, tc.stages, Config{})
			if !errors.Is(err, ErrInvalidGraph) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("New: %v; want ErrInvalidGraph saying %q", err, tc.msg)
			}
		})
	}
}

// checkpointing wraps a SeekableSource and asks for a checkpoint every
// `every` bytes of position, with small Fills, so tests checkpoint often;
// while one is in progress it asks again at every Fill. With settle set,
// after a checkpoint it triggered it waits (at the next Fill, its barrier
// injected by then) for that checkpoint to complete, up to a second, so a
// slow machine takes as many as a fast one; with several sources that
// would let the others run ahead and finish, after which no checkpoint
// is taken at all.
type checkpointing struct {
	SeekableSource
	p     *Pipeline
	every int64
	next  int64
	// settled, if set, gets a value when a checkpoint completes or fails
	// (CheckpointConfig.OnComplete: see settleConfig).
	settled chan struct{}
	waiting bool
}

// settleConfig returns a CheckpointConfig whose OnComplete tells c.
func settleConfig(store checkpoint.Store, c *checkpointing) *CheckpointConfig {
	c.settled = make(chan struct{}, 1)
	return &CheckpointConfig{Store: store, OnComplete: func(checkpoint.Manifest, error) {
		select {
		case c.settled <- struct{}{}:
		default:
		}
	}}
}

func (s *checkpointing) Fill(ctx context.Context, b *Batch, max int) error {
	if s.waiting {
		s.waiting = false
		select {
		case <-s.settled:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if pos := s.Position(); pos >= s.next {
		if _, err := s.p.Checkpoint(); err == nil {
			s.next = pos + s.every
			if s.settled != nil {
				select {
				case <-s.settled: // a stale signal
				default:
				}
				s.waiting = true
			}
		}
	}
	return s.SeekableSource.Fill(ctx, b, min(max, 53))
}

// faultOp passes records on and fails once failAt records have reached
// it; it keeps no state (an empty Stateful).
type faultOp struct {
	seen   *atomic.Int64
	failAt int64
}

func (o *faultOp) Process(in, out *Batch) error {
	if n := o.seen.Add(int64(in.Len())); o.failAt > 0 && n >= o.failAt {
		return errInjected
	}
	return pass(true, in, out)
}
func (o *faultOp) MarshalBinary() ([]byte, error) { return nil, nil }
func (o *faultOp) UnmarshalBinary([]byte) error   { return nil }

// fanCrashGraph: a clickstream fanned out to users (a fault operator, then
// HLL) and pages (CountMin and TopK); with one source every instance has
// one input, so even the TopK's bytes must survive a crash.
func fanCrashGraph(t testing.TB, data []byte, sources int, store checkpoint.Store, failAt int64) *Pipeline {
	var srcs []Source
	var trig []*checkpointing
	for i, s := range lineSources(t, data, sources, LineConfig{}) {
		c := &checkpointing{SeekableSource: s.(SeekableSource), every: int64(9000 + 4000*i)}
		trig = append(trig, c)
		srcs = append(srcs, c)
	}
	ckpt := &CheckpointConfig{Store: store}
	if sources == 1 {
		ckpt = settleConfig(store, trig[0])
	}
	var seen atomic.Int64
	pages := []Stage{{Name: "cm", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) {
		c, err := sketch.NewCountMinWidthDepth(256, 3)
		c.SetConservative(false)
		return &Frequency{CM: c, Pass: true}, err
	}}}
	if sources == 1 {
		pages = append(pages, Stage{Name: "top", Parallelism: 2, New: func(int) (Operator, error) {
			k, err := sketch.NewTopK(40)
			return &HeavyHitters{TopK: k}, err
		}})
	}
	p, err := New(srcs, []Stage{{Name: "clicks", Branches: []Branch{
		{Name: "users", Key: ByField(1, Whitespace), Stages: []Stage{
			{Name: "fault", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) {
				return &faultOp{seen: &seen, failAt: failAt}, nil
			}},
			{Name: "hll", Parallelism: 2, New: func(int) (Operator, error) {
				h, err := sketch.NewHLL(11)
				return &Distinct{HLL: h}, err
			}},
		}},
		{Name: "pages", Key: ByField(2, Whitespace), Stages: pages},
	}}}, Config{BatchSize: 50, Unordered: sources > 1, Checkpoint: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range trig {
		c.p = p
	}
	return p
}

// TestFanOutCrashEquivalence fails a fan-out job at random points, restores
// the last checkpoint and runs on: every branch's state must equal, byte
// for byte, that of a run that never failed. Barriers reach every branch,
// and a checkpoint holds every branch's instances.
func TestFanOutCrashEquivalence(t *testing.T) {
	data := clickstream(12000, 3000, 5)
	for _, sources := range []int{1, 2} {
		t.Run(fmt.Sprintf("sources=%d", sources), func(t *testing.T) {
			store := newMemStore()
			ref := fanCrashGraph(t, data, sources, store, 0)
			runOK(t, ref)
			want := states(t, ref)
			// One source waits for each checkpoint it triggers; two run
			// free, and the first to finish ends checkpointing.
			minCheckpoints := 5
			if sources > 1 {
				minCheckpoints = 1
			}
			if n := ref.CheckpointStats().Completed; n < uint64(minCheckpoints) {
				t.Fatalf("reference run completed %d checkpoints: %+v", n, ref.CheckpointStats())
			}
			m, err := store.Latest()
			if err != nil {
				t.Fatal(err)
			}
			for s := range ref.ops {
				for i := range ref.ops[s] {
					if _, err := store.ReadPart(m, partName("op", s, i)); err != nil {
						t.Errorf("checkpoint %d has no part for %s[%d]: %v", m.ID, ref.stages[s].Name, i, err)
					}
				}
			}
			trials := 25
			if testing.Short() {
				trials = 10
			}
			rng := rand.New(rand.NewPCG(5, uint64(sources)))
			restored := 0
			for trial := range trials {
				failAt := 1 + rng.Int64N(12000)
				store := newMemStore()
				if err := fanCrashGraph(t, data, sources, store, failAt).Run(context.Background()); !errors.Is(err, errInjected) {
					t.Fatalf("trial %d: failing run returned %v", trial, err)
				}
				p := fanCrashGraph(t, data, sources, store, 0)
				if _, err := p.Restore(store); err == nil {
					restored++
				} else if !errors.Is(err, checkpoint.ErrNoCheckpoint) {
					t.Fatalf("trial %d: restore: %v", trial, err)
				}
				runOK(t, p)
				if got := states(t, p); got != want {
					t.Fatalf("trial %d (failure at record %d): state after recovery differs from a run without failure", trial, failAt)
				}
			}
			if restored < trials/2 && sources == 1 || restored == 0 {
				t.Errorf("only %d of %d trials recovered from a checkpoint", restored, trials)
			}
		})
	}
}

// markHalf marks every record kept at p = 1/2 and drops none: records
// the source then gathers into full batches wait at the source, across
// Fills, as under real shedding, but what is counted does not depend on
// timing.
type markHalf struct{}

func (markHalf) Shed(b *Batch, _ time.Time, _ Pressure) {
	for i := range b.Records {
		b.Records[i].KeepP = 0.5
	}
}

// partialFills makes every Fill return at most 17 records, so that a
// source gathering kept records holds some when a barrier comes.
type partialFills struct{ SeekableSource }

func (s partialFills) Fill(ctx context.Context, b *Batch, max int) error {
	return s.SeekableSource.Fill(ctx, b, min(max, 17))
}

// TestShedCrashEquivalence: under shedding, records a source has gathered
// but not shipped when it injects a barrier go downstream before the
// barrier (down every branch of a fan-out, or to every receiver of a
// lockstep by-key sender), so that recovery neither loses nor repeats
// them.
func TestShedCrashEquivalence(t *testing.T) {
	data := clickstream(8000, 2000, 6)
	count := func(name string, in Partitioning) Stage {
		return Stage{Name: name, Input: in, Parallelism: 2, New: func(int) (Operator, error) {
			cm, err := sketch.NewCountMinWidthDepth(128, 3)
			cm.SetConservative(false)
			return &Frequency{CM: cm, Unit: 2}, err
		}}
	}
	fault := func(seen *atomic.Int64, failAt int64) Stage {
		return Stage{Name: "fault", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) {
			return &faultOp{seen: seen, failAt: failAt}, nil
		}}
	}
	for _, tc := range []struct {
		name    string
		sources int
		stages  func(seen *atomic.Int64, failAt int64) []Stage
	}{
		{"fan-out", 1, func(seen *atomic.Int64, failAt int64) []Stage {
			return []Stage{{Name: "clicks", Branches: []Branch{
				{Name: "users", Key: ByField(1, Whitespace), Stages: []Stage{fault(seen, failAt), count("users", Forward)}},
				{Name: "pages", Key: ByField(2, Whitespace), Stages: []Stage{count("pages", ByKey)}},
			}}}
		}},
		{"lockstep by-key from two sources", 2, func(seen *atomic.Int64, failAt int64) []Stage {
			return []Stage{fault(seen, failAt), count("lines", Forward)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func(store checkpoint.Store, failAt int64) *Pipeline {
				var srcs []Source
				var cs []*checkpointing
				for i, s := range lineSources(t, data, tc.sources, LineConfig{}) {
					c := &checkpointing{SeekableSource: partialFills{s.(SeekableSource)}, every: int64(3000 + 1000*i)}
					cs = append(cs, c)
					srcs = append(srcs, c)
				}
				ckpt := &CheckpointConfig{Store: store}
				if tc.sources == 1 {
					ckpt = settleConfig(store, cs[0])
				}
				var seen atomic.Int64
				p, err := New(srcs, tc.stages(&seen, failAt), Config{BatchSize: 64,
					NewShedder: func(int) Shedder { return markHalf{} },
					Checkpoint: ckpt})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cs {
					c.p = p
				}
				return p
			}
			ref := build(newMemStore(), 0)
			runOK(t, ref)
			want := states(t, ref)
			rng := rand.New(rand.NewPCG(7, 8))
			trials := 30
			if testing.Short() {
				trials = 5
			}
			for trial := range trials {
				failAt := 1 + rng.Int64N(8000)
				store := newMemStore()
				if err := build(store, failAt).Run(context.Background()); !errors.Is(err, errInjected) {
					t.Fatalf("trial %d: failing run returned %v", trial, err)
				}
				p := build(store, 0)
				if _, err := p.Restore(store); err != nil && !errors.Is(err, checkpoint.ErrNoCheckpoint) {
					t.Fatalf("trial %d: restore: %v", trial, err)
				}
				runOK(t, p)
				if got := states(t, p); got != want {
					t.Fatalf("trial %d (failure at record %d): state after recovery differs from a run without failure", trial, failAt)
				}
			}
		})
	}
}

// TestFanOutShedKeepsBatchesFull: behind a shedder at p = 1, a source
// whose Fills come short ships them at once only while the branches are
// idle; while a branch is busy it fills batches first, as behind any
// other emitter, so an operator with a cost per batch sees full ones.
func TestFanOutShedKeepsBatchesFull(t *testing.T) {
	data := clickstream(20000, 500, 7)
	s := lineSources(t, data, 1, LineConfig{})[0].(SeekableSource)
	var batches, records atomic.Int64
	p, err := New([]Source{partialFills{s}}, []Stage{{Name: "clicks", Branches: []Branch{
		{Name: "pages", Key: ByField(2, Whitespace), Stages: []Stage{{Name: "slow", New: func(int) (Operator, error) {
			return OperatorFunc(func(in, out *Batch) error {
				batches.Add(1)
				records.Add(int64(in.Len()))
				time.Sleep(200 * time.Microsecond) // a cost per batch
				return nil
			}), nil
		}}}},
	}}}, Config{BatchSize: 64, NewShedder: func(int) Shedder { return keepAll{} }})
	if err != nil {
		t.Fatal(err)
	}
	runOK(t, p)
	mean := float64(records.Load()) / float64(batches.Load())
	t.Logf("%d records in %d batches: %.1f a batch", records.Load(), batches.Load(), mean)
	if mean < 32 {
		t.Errorf("%.1f records a batch reached the busy branch; Fills give 17, batches hold 64", mean)
	}
}

// TestByKeyAfterByKey: one source by key into a stage, by key again into
// an instance that takes its two inputs in strict turn: the first hop
// sends in rounds too, or the second's inputs fall apart in batch count
// and the three wait on each other. The run must end, with every record,
// in a linear graph and in a fan-out branch.
func TestByKeyAfterByKey(t *testing.T) {
	data := clickstream(40000, 3000, 8)
	var n atomic.Int64
	hop := func(name string, count bool) Stage {
		return Stage{Name: name, Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) {
			return OperatorFunc(func(in, out *Batch) error {
				if count {
					n.Add(int64(in.Len()))
				}
				return pass(true, in, out)
			}), nil
		}}
	}
	for _, tc := range []struct {
		name   string
		stages []Stage
	}{
		{"linear", []Stage{hop("a", false), hop("b", true)}},
		{"fan-out branch", []Stage{{Name: "f", Branches: []Branch{
			{Name: "users", Key: ByField(1, Whitespace), Stages: []Stage{hop("a", false), hop("b", true)}},
		}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.Store(0)
			p, err := New(lineSources(t, data, 1, LineConfig{}), tc.stages, Config{BatchSize: 32, Exclusive: 2, Floating: 1})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Run(ctx); err != nil {
				t.Fatalf("Run: %v (a deadlock, if the deadline passed)", err)
			}
			if n.Load() != 40000 {
				t.Errorf("%d of 40000 records reached the last stage", n.Load())
			}
		})
	}
}
