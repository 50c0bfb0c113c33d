package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// Mergeable is a Stateful operator whose state merges: MergeBinary folds
// in a state another instance's MarshalBinary wrote, so that the operator
// answers as if it had seen that instance's records too. Restore uses it to
// rescale a stage whose records are dealt without regard to their key
// (RoundRobin, Forward stages chained after one, and Forward stages after
// RescalableSources whose number changes): a checkpoint taken
// at parallelism N restores into M instances by merging all N states into
// instance 0 (the others start empty), which leaves the merged answer, the
// one Query gives over all instances, exactly as it was. Distinct,
// Frequency, HeavyHitters and Stats implement it.
type Mergeable interface {
	Stateful
	MergeBinary(data []byte) error
}

// MergeBinary implements Mergeable.
func (o *Distinct) MergeBinary(data []byte) error {
	h := new(sketch.HLL)
	if err := h.UnmarshalBinary(data); err != nil {
		return err
	}
	if o.HLL == nil {
		o.HLL = h
		return nil
	}
	return o.HLL.Merge(h)
}

// MergeBinary implements Mergeable.
func (o *Frequency) MergeBinary(data []byte) error {
	c := new(sketch.CountMin)
	if err := c.UnmarshalBinary(data); err != nil {
		return err
	}
	if o.CM == nil {
		o.CM = c
		return nil
	}
	return o.CM.Merge(c)
}

// MergeBinary implements Mergeable.
func (o *HeavyHitters) MergeBinary(data []byte) error {
	k := new(sketch.TopK)
	if err := k.UnmarshalBinary(data); err != nil {
		return err
	}
	if o.TopK == nil {
		o.TopK = k
		return nil
	}
	return o.TopK.Merge(k)
}

// MergeBinary implements Mergeable. The state must have quantiles if
// and only if o does.
func (o *Stats) MergeBinary(data []byte) error {
	tmp := &Stats{Moments: new(sampling.Moments)}
	if o.Quantiles != nil {
		tmp.Quantiles = new(sampling.KLL)
	}
	if err := tmp.UnmarshalBinary(data); err != nil {
		return err
	}
	if o.Quantiles != nil {
		if err := o.Quantiles.Merge(tmp.Quantiles); err != nil {
			return err
		}
	}
	if o.Moments == nil {
		o.Moments = new(sampling.Moments)
	}
	o.Moments.Merge(tmp.Moments)
	o.Missing += tmp.Missing
	return nil
}

var parallelismField = regexp.MustCompile(` parallelism=(\d+) `)

// rescalable reports whether topology lines o (the checkpoint's) and c
// (this pipeline's) describe the same stage but for its parallelism, with
// mergeable or no state, and returns the stage and its parallelism in the
// checkpoint. Whether its input allows rescaling is checkRescale's to say.
func rescalable(o, c string) (stage, par int, ok bool) {
	if !strings.HasPrefix(o, "stage ") {
		return 0, 0, false
	}
	mo, mc := parallelismField.FindStringSubmatchIndex(o), parallelismField.FindStringSubmatchIndex(c)
	if mo == nil || mc == nil || o[:mo[0]] != c[:mc[0]] || o[mo[1]:] != c[mc[1]:] {
		return 0, 0, false
	}
	if !strings.HasSuffix(o, " state=mergeable") && !strings.HasSuffix(o, " state=stateless") {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(o[mo[2]:mo[3]])
	_, err2 := fmt.Sscanf(o, "stage %d ", &stage)
	if err1 != nil || err2 != nil || n < 1 || n > 1<<20 {
		return 0, 0, false
	}
	return stage, n, true
}

// checkRescale accepts the rescaling of the stages in rescale (stage: its
// parallelism in checkpoint m) only where merging is exact: each takes its
// records round-robin, or forward from a stage rescaled with it; no
// records of an unaligned or ordered checkpoint wait in flight for a
// rescaled stage or one it feeds (they belong to one instance's input);
// and the checkpoint holds every part it should. It returns the ordered
// logs to drop: those of instances whose inputs change, which hold no
// records.
func (p *Pipeline) checkRescale(store checkpoint.Store, m checkpoint.Manifest, rescale map[int]int, srcRescale int) (map[string]bool, error) {
	segOf := map[int]*segment{}
	for _, sg := range p.segs {
		for s := max(sg.first, 0); s <= sg.last && sg.last >= 0; s++ {
			segOf[s] = sg
		}
	}
	touched := map[*segment]bool{} // segments whose instances or inputs change
	if srcRescale > 0 {
		// The sources' records are dealt anew (RedealSources): what
		// takes them forward rescales as after a round-robin input.
		touched[p.segs[0]] = true
		for _, d := range p.segs[0].down {
			touched[d] = true
		}
	}
	for s := range rescale {
		st := p.stages[s]
		sg := segOf[s]
		feeder := -1 // the stage whose output s takes; -1 for the sources
		switch {
		case sg.first != s:
			feeder = s - 1
		case sg.up != nil:
			feeder = sg.up.last
		}
		fromSources := feeder < 0 && srcRescale > 0
		if st.Input != RoundRobin && (st.Input != Forward || !fromSources && (feeder < 0 || rescale[feeder] == 0)) {
			return nil, fmt.Errorf("pipeline: checkpoint %d: stage %d %q had parallelism %d, now %d; rescaling %s input needs key groups, which streamstat does not keep: restore at parallelism %d: %w",
				m.ID, s, st.Name, rescale[s], len(p.ops[s]), st.Input, rescale[s], ErrTopologyMismatch)
		}
		touched[sg] = true
		for _, d := range sg.down {
			touched[d] = true
		}
		for i := range rescale[s] {
			if _, ok := p.ops[s][0].op.(Mergeable); ok {
				if _, ok := m.Part(partName("op", s, i)); !ok {
					return nil, fmt.Errorf("pipeline: checkpoint %d has no part %q: %w", m.ID, partName("op", s, i), ErrTopologyMismatch)
				}
			}
		}
	}
	drop := map[string]bool{}
	for _, part := range m.Parts {
		kind, rest, _ := strings.Cut(part.Name, "-")
		if kind != "inflight" && kind != "order" {
			continue
		}
		var s, i int
		if _, err := fmt.Sscanf(rest, "%d-%d", &s, &i); err != nil {
			continue
		}
		sg := segOf[s]
		if sg == nil || !touched[sg] {
			continue
		}
		empty := part.Size == 0
		if kind == "order" {
			data, err := store.ReadPart(m, part.Name)
			if err != nil {
				return nil, err
			}
			st, err := decodeOrder(data)
			if err != nil {
				return nil, fmt.Errorf("pipeline: checkpoint %d part %s: %w", m.ID, part.Name, err)
			}
			empty = true
			for _, q := range st.pending {
				empty = empty && len(q) == 0
			}
			drop[part.Name] = empty
		}
		if !empty {
			return nil, fmt.Errorf("pipeline: checkpoint %d holds records in flight to stage %d %q, whose inputs a rescale changes: restore at the checkpoint's parallelism: %w", m.ID, s, p.stages[s].Name, ErrTopologyMismatch)
		}
	}
	return drop, nil
}

// restoreMerged restores stage s, checkpointed at parallelism n, by
// merging the n states into instance 0; the other instances keep the
// empty state New gave them.
func (p *Pipeline) restoreMerged(store checkpoint.Store, m checkpoint.Manifest, s, n int) error {
	op, ok := p.ops[s][0].op.(Mergeable)
	if !ok {
		return nil // stateless
	}
	for i := range n {
		data, err := store.ReadPart(m, partName("op", s, i))
		if err != nil {
			return err
		}
		if i == 0 {
			err = op.UnmarshalBinary(data)
		} else {
			err = op.MergeBinary(data)
		}
		if err != nil {
			return fmt.Errorf("pipeline: restore %s[%d] into instance 0: %w", p.stages[s].Name, i, err)
		}
	}
	return nil
}
