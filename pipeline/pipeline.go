package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
)

// DefaultBatchSize is the number of records per batch unless Config says
// otherwise.
const DefaultBatchSize = 1024

// Errors.
var (
	// ErrInvalidGraph: the sources and stages do not form a runnable graph.
	ErrInvalidGraph = errors.New("pipeline: invalid graph")
	// ErrAlreadyRun: Run was called twice, or Restore during or after Run.
	ErrAlreadyRun = errors.New("pipeline: already run")
	// ErrNoStage: a stage index out of range (Query, StageOperators).
	ErrNoStage = errors.New("pipeline: no such stage")
	// ErrOperatorType: QueryAs met an instance of another type.
	ErrOperatorType = errors.New("pipeline: operator of another type")
	// ErrPanic: an operator or a source panicked; Run's error wraps it
	// with the task, the panic value and a stack excerpt.
	ErrPanic = errors.New("pipeline: panic")
	// ErrNotStateful: with checkpoints, an operator that is neither
	// Stateful nor declared stateless (see Stateless), whose state a
	// restore would silently lose.
	ErrNotStateful = errors.New("pipeline: operator neither Stateful nor declared Stateless")
	// ErrTopologyMismatch: Restore of a checkpoint taken by a pipeline of
	// another shape (sources, stages, parallelism, operator types) that
	// it cannot rescale exactly.
	ErrTopologyMismatch = errors.New("pipeline: checkpoint of another topology")
)

// Config tunes a Pipeline. The zero value means the documented defaults.
type Config struct {
	// BatchSize is the number of records a source puts in a batch; 0 means
	// DefaultBatchSize.
	BatchSize int
	// Exclusive and Floating size the credits of every channel (see package
	// flowcontrol); 0 means its defaults.
	Exclusive, Floating int
	// Unordered lets an instance with several inputs take batches in
	// arrival order. By default it takes them in strict turn, one batch per
	// input, so that the order it sees, and so its state, does not depend
	// on goroutine timing: the same input gives the same state, byte for
	// byte. Unordered is faster when inputs are uneven, and harmless for
	// order-insensitive operators.
	Unordered bool
	// Clock times channels and operators; nil means the system clock.
	Clock flowcontrol.Clock
	// Checkpoint, if set, turns on checkpoints; every source must then be
	// a SeekableSource.
	Checkpoint *CheckpointConfig
	// NewShedder, if set, gives source i a Shedder that drops records at
	// ingress under overload; nil means no shedding. The first stage then
	// runs behind a channel even where it could be chained to the source
	// (as with Stage.NoChain), so that the shedder sees the queue; while
	// the shedder keeps everything, the source runs that stage itself,
	// as if chained, once it has processed what the channel holds.
	NewShedder func(source int) Shedder
	// NoMetrics turns off the per-batch record counters (two atomic adds
	// per operator per batch), for measuring what they cost; see
	// BenchmarkMetricsOverhead.
	NoMetrics bool
}

// Pipeline is a graph of parallel sources, then stages of parallel
// operator instances, possibly fanning out into branches (Stage.Branches),
// wired with credit-based channels (package flowcontrol). Consecutive
// levels with Forward partitioning and equal parallelism are chained into
// one goroutine per instance, with no channel between them.
//
// The zero value is not usable; build one with New. Run is called once;
// Query, Operators and Metrics may be called from any goroutine, during or
// after Run.
type Pipeline struct {
	cfg     Config
	clock   flowcontrol.Clock
	sources []Source
	stages  []Stage
	ops     [][]*instance // [stage][instance]
	segs    []*segment
	ran     atomic.Bool
	runMu   sync.Mutex                // orders Run's start against Restore
	start   atomic.Pointer[time.Time] // set when Run starts
	end     atomic.Pointer[time.Time] // set when Run returns
	rm      atomic.Pointer[runMetrics]
	coord   *coordinator          // nil without checkpoints
	barrier atomic.Uint64         // the barrier sources are to inject
	replay  map[string][]*Batch   // in-flight batches restored, by part name
	order   map[string]orderState // ordered instances' logs restored, by part name
	sheds   []Shedder             // per source; nil without shedding
	inline  []*inlineSlot         // per source, where shedStages put a channel
	ntasks  int
	// branches are the fan-out branches, in the order of their stages.
	branches []*branchState
}

// instance is one operator instance with its counters. mu is held while
// the operator processes a batch and while a checkpoint copies its state,
// so queries see whole batches and never overlap a snapshot.
type instance struct {
	mu  sync.Mutex
	op  Operator
	in  atomic.Uint64
	out atomic.Uint64
}

// segment is a run of chained levels: P goroutines, each reading a source or
// a gate and running the chained operators of its instance.
type segment struct {
	first, last int // stage indexes; first == -1 means the sources head it
	par         int
	gates       []*flowcontrol.Gate[*Batch] // nil for the source segment
	input       Partitioning                // how input reached this segment
	unordered   bool
	up          *segment     // the segment whose output this one takes
	down        []*segment   // those taking its output: several at a fan-out
	branch      *branchState // set if this segment heads a fan-out branch
}

// ordered reports whether the segment's instances take their inputs in
// strict turn (see Config.Unordered). Round-robin input is always taken in
// arrival order: it is documented for order-insensitive operators only.
func (sg *segment) ordered() bool {
	return sg.input == ByKey && !sg.unordered && len(sg.gates) > 0 && sg.gates[0].Inputs() > 1
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// New checks the graph and makes every operator instance; nothing runs
// until Run.
func New(sources []Source, stages []Stage, cfg Config) (*Pipeline, error) {
	if len(sources) == 0 {
		return nil, fmt.Errorf("pipeline: no source: %w", ErrInvalidGraph)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchSize < 0 {
		return nil, fmt.Errorf("pipeline: batch size %d: %w", cfg.BatchSize, ErrInvalidGraph)
	}
	p := &Pipeline{cfg: cfg, clock: cfg.Clock, sources: sources}
	if p.clock == nil {
		p.clock = systemClock{}
	}
	seg := &segment{first: -1, last: -1, par: len(sources)}
	p.segs = append(p.segs, seg)
	if err := p.addStages(seg, shedStages(stages, cfg), nil); err != nil {
		return nil, err
	}
	for _, sg := range p.segs {
		p.ntasks += sg.par
	}
	if cfg.NewShedder != nil {
		for i := range sources {
			p.sheds = append(p.sheds, cfg.NewShedder(i))
		}
		p.inlineSlots(stages)
	}
	if cfg.Checkpoint != nil {
		if cfg.Checkpoint.Store == nil {
			return nil, fmt.Errorf("pipeline: checkpoints without a store: %w", ErrInvalidGraph)
		}
		for i, src := range sources {
			if !checkpointable(src) {
				return nil, fmt.Errorf("pipeline: source %d records neither a position nor a state for checkpoints (SeekableSource, StatefulSource): %w", i, ErrInvalidGraph)
			}
		}
		if err := p.checkStateful(); err != nil {
			return nil, err
		}
		p.coord = &coordinator{p: p, cfg: cfg.Checkpoint, tasks: p.ntasks}
	}
	if err := p.linkGates(); err != nil {
		return nil, err
	}
	return p, nil
}

// Run runs the pipeline until every source is exhausted and every record
// processed, an operator or source fails, or ctx is done. It stops every
// goroutine it started before it returns. The error is the first failure,
// or ctx.Err().
func (p *Pipeline) Run(ctx context.Context) error {
	p.runMu.Lock()
	if p.ran.Swap(true) {
		p.runMu.Unlock()
		return ErrAlreadyRun
	}
	p.runMu.Unlock()
	rm := p.newRunMetrics()
	p.rm.Store(rm)
	now := p.clock.Now()
	p.start.Store(&now)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	stopCoord := p.startCoordinator(ctx)
	for k, sg := range p.segs {
		for i := range sg.par {
			t := p.newTask(k, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := t.run(ctx); err != nil {
					cancel(err)
				}
				rm.ended[k][i].Store(int64(p.clock.Now().Sub(now)) + 1)
			}()
		}
	}
	wg.Wait()
	end := p.clock.Now()
	p.end.Store(&end)
	stopCoord()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}
