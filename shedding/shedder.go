package shedding

import (
	"fmt"
	"sync"
	"time"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/pipeline"
)

// Policy says which records a Shedder drops to keep a fraction p.
type Policy uint8

const (
	// Random keeps each record independently with probability p
	// (KeepRandom): a Bernoulli sample of the records, under which every
	// count, sum and sample scaled by 1/p is unbiased (WeightedCount,
	// Units). The right policy for frequencies and heavy hitters.
	Random Policy = iota
	// KeyHash keeps the records whose key hash is below p·2^64 (KeepKey):
	// whole keys, consistently, in every process and after every restart.
	// The right policy for distinct counts (ThetaDistinct) and membership.
	KeyHash
	// Priority keeps the records a user function (Config.Score) scores
	// highest: those above the (1-p)-quantile of the last Window scores,
	// and a fraction of those equal to it, so that a fraction p is kept.
	//
	// Horvitz–Thompson weighting does not make Priority estimates
	// unbiased. A record's inclusion is decided by its score, not by
	// chance: a low-scoring record is never kept, so no weight recovers a
	// per-record or per-key quantity, and KeepP (= p, the fraction kept)
	// is the right weight only for quantities unrelated to the score. The
	// count of all records, sum(1/p), is right to within the window's
	// quantile error; a count of one key's records, or a sum of values, is
	// biased toward what scores high. Use Priority when the high-utility
	// records themselves are the answer (errors, slow requests, alerts),
	// and Random or KeyHash when estimates must be unbiased.
	Priority
)

func (p Policy) String() string {
	switch p {
	case Random:
		return "random"
	case KeyHash:
		return "key-hash"
	case Priority:
		return "priority"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// DefaultMaxEpochs is the length of the epoch log unless Config says
// otherwise.
const DefaultMaxEpochs = 1024

// maxEpochsUpFront bounds the epoch log a Shedder allocates when made: up
// to it, logging never allocates.
const maxEpochsUpFront = 4096

// ScoreFunc scores record i of b for Priority shedding: higher is more
// useful. It must be a pure function of the record (its key b.Key(i), hash,
// value, time), so that replay scores alike. NaN counts as -Inf.
type ScoreFunc func(b *pipeline.Batch, i int) float64

// Config describes a Shedder. The zero value is random shedding under a
// Controller with its defaults. It is a plain value.
type Config struct {
	// Policy chooses what to drop; the zero value is Random.
	Policy Policy
	// Score scores records for Priority; it is required there and unused
	// otherwise.
	Score ScoreFunc
	// Window is, for Priority, the number of recent scores the keep
	// threshold is a quantile of; 0 means DefaultWindow.
	Window int
	// Salt varies the random decisions (Random, and Priority's ties):
	// shedders with different salts drop different records. A Group mixes
	// the source index in.
	Salt uint64
	// Controller decides p; see ControllerConfig.
	Controller ControllerConfig
	// MaxEpochs bounds the epoch log (see Shedder.Epochs): the oldest
	// epochs are forgotten beyond it. 0 means DefaultMaxEpochs; negative
	// means no log.
	MaxEpochs int
}

// Epoch is a run of records shed at one keep probability: records Start
// (counted from 0 among those offered to the shedder) onward, up to the
// next epoch's Start. It is a plain value.
type Epoch struct {
	Start uint64
	P     float64
}

// Shedder is a pipeline.Shedder: it asks its Controller for p at every
// batch and drops records by its Policy, setting KeepP = p on the records
// it keeps at p < 1 (at p = 1 it keeps every record, as it is: KeepP 0
// from a source, never shed, weighs as 1).
//
// A decision is a pure function of the record's hash, its position among
// the records offered to this shedder (Random, Priority ties), its score
// (Priority) and the p in force, so a shedder restored from its state
// (MarshalBinary) and offered the same records at the same p sheds the
// same ones. The p in force is part of that state, and the epoch log
// records every change of p by position: Replay makes a shedder use a
// logged schedule instead of its controller, which reproduces a run's
// decisions exactly whatever the timing.
//
// Shedding a batch allocates nothing (with a MaxEpochs above 4096, once
// the epoch log has grown to its size).
//
// The zero value is not usable; make one with NewShedder. Shed is meant to
// be called from one goroutine (a source's, as the pipeline does); the
// other methods (Summary, Epochs, MarshalBinary, ...) may be called from
// any goroutine at the same time.
type Shedder struct {
	mu    sync.Mutex
	cfg   Config
	ctrl  Controller
	salt  uint64
	mix   uint64 // hashmix.SplitMix64(salt), for remix
	seq   uint64 // records offered so far
	kept  uint64
	sumP  float64 // sum over records offered of p
	sumIP float64 // sum over records offered of 1/p
	minP  float64 // 0 until a record is offered
	cur   float64 // p of the last epoch logged; 0 before any
	log   []Epoch
	prio  priority

	sched    []Epoch // Replay schedule
	schedEnd uint64
	schedAt  int
}

var _ pipeline.Shedder = (*Shedder)(nil)

// NewShedder checks cfg and returns a shedder at p = 1.
func NewShedder(cfg Config) (*Shedder, error) {
	if cfg.MaxEpochs == 0 {
		cfg.MaxEpochs = DefaultMaxEpochs
	}
	switch cfg.Policy {
	case Random, KeyHash:
	case Priority:
		if cfg.Score == nil {
			return nil, fmt.Errorf("shedding: priority shedding needs a Score function: %w", ErrInvalidParameter)
		}
		if cfg.Window == 0 {
			cfg.Window = DefaultWindow
		}
		if cfg.Window < MinWindow || cfg.Window > MaxWindow {
			return nil, fmt.Errorf("shedding: priority window %d outside [%d, %d]: %w", cfg.Window, MinWindow, MaxWindow, ErrInvalidParameter)
		}
	default:
		return nil, fmt.Errorf("shedding: policy %v: %w", cfg.Policy, ErrInvalidParameter)
	}
	if cfg.Policy != Priority {
		cfg.Window = 0
	}
	ctrl, err := NewController(cfg.Controller)
	if err != nil {
		return nil, err
	}
	cfg.Controller = ctrl.cfg
	s := &Shedder{cfg: cfg, ctrl: *ctrl, salt: cfg.Salt, mix: hashmix.SplitMix64(cfg.Salt)}
	if cfg.MaxEpochs > 0 {
		s.log = make([]Epoch, 0, min(cfg.MaxEpochs, maxEpochsUpFront))
	}
	if cfg.Policy == Priority {
		s.prio.init(cfg.Window)
	}
	return s, nil
}

// Config returns the configuration, defaults filled in.
func (s *Shedder) Config() Config { return s.cfg }

// P returns the keep probability in force.
func (s *Shedder) P() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctrl.st.p
}

// Rates returns the controller's estimates of the arrival rate and the
// capacity in records per second (0: not known yet).
func (s *Shedder) Rates() (arrival, capacity float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctrl.Rates()
}

// Shed implements pipeline.Shedder: it drops records from b and sets KeepP
// on those it keeps.
func (s *Shedder) Shed(b *pipeline.Batch, now time.Time, pr pipeline.Pressure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ctrl.Update(now, pr)
	n := len(b.Records)
	if n == 0 {
		return
	}
	w := 0
	for i := 0; i < n; {
		end, q := n, p
		if s.sched != nil {
			end, q = s.scheduled(i, n, p)
		}
		w = s.shedRange(b, i, end, w, q)
		i = end
	}
	b.Records = b.Records[:w]
	s.ctrl.Observed(n, w)
	if s.sched != nil && s.seq >= s.sched[0].Start {
		// The controller goes on from the p last replayed.
		s.ctrl.st.p = s.cur
		if s.seq >= s.schedEnd {
			s.sched, s.schedAt = nil, 0
		}
	}
}

// shedRange decides on records [i, end) of b, all at p, moving the kept
// ones to b.Records[w:], and returns the new w.
func (s *Shedder) shedRange(b *pipeline.Batch, i, end, w int, p float64) int {
	if p != s.cur {
		s.logEpoch(s.seq, p)
	}
	i0, w0 := i, w
	recs := b.Records
	seq0 := s.seq - uint64(i) // record j is at position seq0+j
	kp := float32(p)          // exact: p is on the grid
	switch {
	case p >= 1 && s.cfg.Policy != Priority:
		// Everything is kept, and KeepP left as the source set it: 0,
		// never subject to shedding, which weighs as 1 (a record that
		// carries an earlier keep probability keeps it). Writing 1 into
		// every record cost a tenth of what distinct's operator does.
		if w == i { // nothing dropped before: nothing moves
			i, w = end, end
		}
		for ; i < end; i++ {
			recs[w] = recs[i]
			w++
		}
	case s.cfg.Policy == KeyHash:
		t := threshold(p)
		for ; i < end; i++ {
			if recs[i].Hash < t {
				recs[i].KeepP = kp
				recs[w] = recs[i]
				w++
			}
		}
	case s.cfg.Policy == Random:
		t := threshold(p)
		for ; i < end; i++ {
			if remix(recs[i].Hash, seq0+uint64(i), s.mix) < t {
				recs[i].KeepP = kp
				recs[w] = recs[i]
				w++
			}
		}
	default:
		// Score reads record i before anything is written over it: w <= i.
		for ; i < end; i++ {
			sc := s.cfg.Score(b, i)
			if s.prio.keep(sc, p, recs[i].Hash, seq0+uint64(i), s.mix) {
				recs[i].KeepP = kp
				recs[w] = recs[i]
				w++
			}
		}
	}
	n := end - i0
	s.seq += uint64(n)
	s.kept += uint64(w - w0)
	s.sumP += float64(n) * p
	s.sumIP += float64(n) / p
	if s.minP == 0 || p < s.minP {
		s.minP = p
	}
	return w
}

// logEpoch records that p is in force from position start on.
func (s *Shedder) logEpoch(start uint64, p float64) {
	s.cur = p
	if s.cfg.MaxEpochs < 0 {
		return
	}
	if k := len(s.log); k > 0 && s.log[k-1].Start == start {
		s.log[k-1].P = p // an epoch that shed nothing
		return
	}
	if drop := len(s.log) - s.cfg.MaxEpochs + 1; drop > 0 {
		s.log = append(s.log[:0], s.log[drop:]...)
	}
	s.log = append(s.log, Epoch{Start: start, P: p})
}

// Epochs returns a copy of the epoch log: every change of p, by the
// position from which it held, oldest first (the last MaxEpochs of them).
// Records from the last epoch's Start to Position were shed at its P.
func (s *Shedder) Epochs() []Epoch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Epoch(nil), s.log...)
}

// TrimEpochs forgets the epochs that ended before position pos (say, the
// position of a completed checkpoint), keeping the one in force at pos.
func (s *Shedder) TrimEpochs(pos uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := 0
	for k+1 < len(s.log) && s.log[k+1].Start <= pos {
		k++
	}
	s.log = append(s.log[:0], s.log[k:]...)
}

// Position returns the number of records offered so far: the position of
// the next record.
func (s *Shedder) Position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Replay makes the shedder shed the records at positions [epochs[0].Start,
// end) at the logged p of their epoch, instead of its controller's, and
// hand over to the controller at end, at the last epoch's p. With the log
// of a run (Epochs and Position) and a shedder restored to that run's
// state at a position within it, the records offered again are shed
// exactly as they were, whatever the timing. Starts must increase, end
// must exceed the last one and every P be on the grid (see Quantize).
func (s *Shedder) Replay(epochs []Epoch, end uint64) error {
	for i, e := range epochs {
		if !onGrid(e.P) || i > 0 && e.Start <= epochs[i-1].Start {
			return fmt.Errorf("shedding: replay epoch %d (start %d, p %v): starts must increase and p lie on the grid: %w", i, e.Start, e.P, ErrInvalidParameter)
		}
	}
	if len(epochs) > 0 && end <= epochs[len(epochs)-1].Start {
		return fmt.Errorf("shedding: replay ends at %d, before its last epoch starts (%d): %w", end, epochs[len(epochs)-1].Start, ErrInvalidParameter)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sched, s.schedEnd, s.schedAt = nil, 0, 0
	if len(epochs) > 0 {
		s.sched, s.schedEnd = append([]Epoch(nil), epochs...), end
	}
	return nil
}

// scheduled returns the end (batch index) of the run of records from
// index i on that share one p, and that p: the schedule's while it covers
// them, the live p otherwise.
func (s *Shedder) scheduled(i, n int, live float64) (int, float64) {
	pos := s.seq
	for s.schedAt+1 < len(s.sched) && s.sched[s.schedAt+1].Start <= pos {
		s.schedAt++
	}
	first := s.sched[0].Start
	switch {
	case pos >= s.schedEnd:
		s.sched, s.schedAt = nil, 0
		return n, live
	case pos < first:
		return i + int(min(first-pos, uint64(n-i))), live
	}
	next := s.schedEnd
	if s.schedAt+1 < len(s.sched) {
		next = s.sched[s.schedAt+1].Start
	}
	return i + int(min(next-pos, uint64(n-i))), s.sched[s.schedAt].P
}

// Summary returns what the shedder has shed so far.
func (s *Shedder) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := Summary{Seen: s.seq, Kept: s.kept, Shed: s.seq - s.kept, MinP: 1, MeanP: 1, MeanInvP: 1}
	if s.seq > 0 {
		sum.MinP = s.minP
		sum.MeanP = s.sumP / float64(s.seq)
		sum.MeanInvP = s.sumIP / float64(s.seq)
	}
	return sum
}
