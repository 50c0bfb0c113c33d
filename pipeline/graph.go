package pipeline

import (
	"fmt"
	"sync/atomic"

	"github.com/streamstat/streamstat/flowcontrol"
)

// Branch is one arm of a fan-out (see Stage.Branches): every record that
// reaches the fan-out goes down every branch, re-keyed by the branch's Key,
// then through the branch's stages.
//
// A Branch is a plain value, part of the graph's description.
type Branch struct {
	// Name labels the branch; it must be unique in the pipeline, and
	// Pipeline.BranchStage finds the branch's stages by it.
	Name string
	// Key selects each record's key in this branch; nil keeps the key
	// (and its hash) the record had.
	Key KeyFunc
	// Stages run in this branch, numbered after those that come before
	// them (see Pipeline.BranchStage). The first takes the fan-out's
	// output as Input says (Forward needs the fan-out's parallelism); its
	// last may fan out again.
	Stages []Stage
}

// branchState is a fan-out branch at run time: its key and what its
// fan-out emitters counted, added once per batch.
type branchState struct {
	name    string
	key     KeyFunc
	stages  []int // the branch's stage numbers
	records atomic.Uint64
	skipped atomic.Uint64
}

// BranchStats counts what a fan-out sent down one branch during this Run
// (like Metrics, the counts are not part of a checkpoint: a restored
// pipeline counts from where it resumed). The zero value means nothing
// yet; a BranchStats is a plain value.
type BranchStats struct {
	Name string
	// Stages are the numbers of the branch's stages, for Query, Operators
	// and the Stage names in Metrics.
	Stages []int
	// Records counts the records re-keyed into the branch, Skipped those
	// its Key refused (a line without the field), never dropped silently.
	Records, Skipped uint64
}

// Branches returns every branch of the graph, in the order of their stage
// numbers. It may be called from any goroutine, during or after Run.
func (p *Pipeline) Branches() []BranchStats {
	out := make([]BranchStats, len(p.branches))
	for i, b := range p.branches {
		out[i] = BranchStats{
			Name: b.name, Stages: append([]int(nil), b.stages...),
			Records: b.records.Load(), Skipped: b.skipped.Load(),
		}
	}
	return out
}

// BranchStage returns the number of stage i (0-based) of the named branch,
// to pass to Query or Operators, or -1 if there is no such branch or
// stage.
//
// Stages are numbered in the order a depth-first walk of the graph meets
// them: the stages before the fan-out, then each branch's stages in the
// order of Stage.Branches (a fan-out stage itself holds no operator and
// takes no number).
func (p *Pipeline) BranchStage(name string, i int) int {
	for _, b := range p.branches {
		if b.name == name {
			if i < 0 || i >= len(b.stages) {
				return -1
			}
			return b.stages[i]
		}
	}
	return -1
}

// addStages appends stages to the graph after seg, the segment whose
// output they take, and numbers them from len(p.stages). In a branch (bs
// not nil) the first stage starts a segment, so that its records cross a
// channel, re-keyed and partitioned by their new hash on the way. A stage
// with Branches ends the list: each branch goes on from seg.
func (p *Pipeline) addStages(seg *segment, stages []Stage, bs *branchState) error {
	newSeg := bs != nil
	for n, st := range stages {
		if st.Branches != nil {
			if n != len(stages)-1 {
				return fmt.Errorf("pipeline: stage %q fans out but is followed by %d more; put them in the branches: %w", st.Name, len(stages)-1-n, ErrInvalidGraph)
			}
			if st.New != nil || st.Parallelism != 0 || st.Input != Forward || st.NoChain {
				return fmt.Errorf("pipeline: fan-out stage %q sets New, Parallelism, Input or NoChain; a fan-out holds no operator, its branches' stages do: %w", st.Name, ErrInvalidGraph)
			}
			return p.addBranches(seg, st)
		}
		s := len(p.stages)
		par := max(st.Parallelism, 1)
		if st.New == nil {
			return fmt.Errorf("pipeline: stage %d %q has no operator constructor: %w", s, st.Name, ErrInvalidGraph)
		}
		if st.Input == Forward && par != seg.par {
			return fmt.Errorf("pipeline: stage %d %q: forward from parallelism %d to %d; use ByKey or RoundRobin: %w", s, st.Name, seg.par, par, ErrInvalidGraph)
		}
		if st.Input < Forward || st.Input > RoundRobin {
			return fmt.Errorf("pipeline: stage %d %q: partitioning %d: %w", s, st.Name, st.Input, ErrInvalidGraph)
		}
		insts := make([]*instance, par)
		for i := range insts {
			op, err := st.New(i)
			if err != nil {
				return fmt.Errorf("pipeline: stage %d %q instance %d: %w", s, st.Name, i, err)
			}
			insts[i] = &instance{op: op}
		}
		p.stages = append(p.stages, st)
		p.ops = append(p.ops, insts)
		if bs != nil {
			bs.stages = append(bs.stages, s)
		}
		if st.Input == Forward && !st.NoChain && !newSeg {
			seg.last = s
			continue
		}
		down := &segment{first: s, last: s, par: par, input: st.Input, unordered: p.cfg.Unordered, up: seg}
		if newSeg {
			down.branch = bs
			newSeg = false
		}
		seg.down = append(seg.down, down)
		p.segs = append(p.segs, down)
		seg = down
	}
	return nil
}

// addBranches adds the branches of fan-out stage st after seg.
func (p *Pipeline) addBranches(seg *segment, st Stage) error {
	if len(st.Branches) == 0 {
		return fmt.Errorf("pipeline: fan-out stage %q has no branches: %w", st.Name, ErrInvalidGraph)
	}
	for _, br := range st.Branches {
		switch {
		case br.Name == "":
			return fmt.Errorf("pipeline: fan-out stage %q: a branch without a name: %w", st.Name, ErrInvalidGraph)
		case p.hasBranch(br.Name):
			return fmt.Errorf("pipeline: two branches named %q: %w", br.Name, ErrInvalidGraph)
		case len(br.Stages) == 0:
			return fmt.Errorf("pipeline: branch %q has no stages: %w", br.Name, ErrInvalidGraph)
		}
		bs := &branchState{name: br.Name, key: br.Key}
		p.branches = append(p.branches, bs)
		if err := p.addStages(seg, br.Stages, bs); err != nil {
			return fmt.Errorf("pipeline: branch %q: %w", br.Name, err)
		}
	}
	return nil
}

func (p *Pipeline) hasBranch(name string) bool {
	for _, b := range p.branches {
		if b.name == name {
			return true
		}
	}
	return false
}

// linkGates makes the input gates of every segment but the sources'.
func (p *Pipeline) linkGates() error {
	for _, sg := range p.segs[1:] {
		inputs := sg.up.par
		if sg.input == Forward {
			inputs = 1
		}
		for range sg.par {
			g, err := flowcontrol.NewGate(flowcontrol.Config{
				Inputs: inputs, Exclusive: p.cfg.Exclusive, Floating: p.cfg.Floating,
				EndOfInput: true, Clock: p.clock,
			}, func() *Batch { return new(Batch) })
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			sg.gates = append(sg.gates, g)
		}
	}
	return nil
}

// lockstep reports whether a by-key sender into sg must send in rounds
// (see keyEmitter): when sg takes its inputs in strict turn, or when a
// segment after it does. In the second case sg's instances each send one
// round per batch they take, and an instance downstream taking its inputs
// in turn would wait on the instance that got fewer batches, which waits
// on their common sender, which waits on the instance that got more, held
// back by the one downstream: a deadlock, unless every instance of sg gets
// one batch per batch its senders take.
func (sg *segment) lockstep() bool {
	if sg.ordered() {
		return true
	}
	for _, d := range sg.down {
		if d.lockstep() {
			return true
		}
	}
	return false
}
