package pipeline

import (
	"encoding"
	"fmt"
	"strings"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// topologyPart is the name of the checkpoint part that describes the graph
// that took the checkpoint.
const topologyPart = "topology"

// topologyHeader is the first line of a topology part; a later format
// changes the number.
const topologyHeader = "streamstat pipeline topology 1"

// topology describes the graph as a checkpoint records it: one line per
// source and per stage, with what decides which parts a checkpoint has and
// how they restore (parallelism, partitioning, chaining, the operator and
// shedder types, whether the operator keeps state). Restore compares it
// line by line, so a difference is named in the error.
func (p *Pipeline) topology() []string {
	lines := []string{topologyHeader, fmt.Sprintf("sources %d", len(p.sources))}
	for i, src := range p.sources {
		shed := "none"
		if p.sheds != nil {
			shed = fmt.Sprintf("%T", p.sheds[i])
			if _, ok := p.sheds[i].(encoding.BinaryMarshaler); ok {
				shed += "(stateful)"
			}
		}
		line := fmt.Sprintf("source %d type=%q shedder=%q", i, fmt.Sprintf("%T", src), shed)
		if _, ok := src.(StatefulSource); ok {
			line += sourceState
		}
		lines = append(lines, line)
	}
	up := make([]int, len(p.stages)) // the stage feeding each, -1 for the sources
	seg := make([]*segment, len(p.stages))
	for _, sg := range p.segs {
		for s := max(sg.first, 0); s <= sg.last && sg.last >= 0; s++ {
			seg[s] = sg
			switch {
			case s > max(sg.first, 0):
				up[s] = s - 1
			case sg.up == nil || sg.up.last < 0:
				up[s] = -1
			default:
				up[s] = sg.up.last
			}
		}
	}
	for s, st := range p.stages {
		branch := ""
		if sg := seg[s]; sg != nil && sg.branch != nil {
			branch = sg.branch.name
		}
		lines = append(lines, fmt.Sprintf("stage %d name=%q branch=%q after=%d input=%s chained=%t parallelism=%d op=%q state=%s",
			s, st.Name, branch, up[s], st.Input, seg[s] != nil && seg[s].first != s, len(p.ops[s]), opType(p.ops[s][0].op), stateKind(p.ops[s][0].op)))
	}
	return lines
}

func opType(op Operator) string {
	if w, ok := op.(statelessOp); ok {
		return fmt.Sprintf("Stateless(%T)", w.op)
	}
	return fmt.Sprintf("%T", op)
}

func stateKind(op Operator) string {
	switch op.(type) {
	case Mergeable:
		return "mergeable"
	case Stateful:
		return "stateful"
	case StatelessOperator:
		return "stateless"
	}
	return "undeclared"
}

// checkTopology compares the topology a checkpoint recorded with this
// pipeline's. It returns the stages to rescale (by merging their states,
// see Mergeable) when that is all that differs and it is exact, and an
// error wrapping ErrTopologyMismatch that names the first difference
// otherwise, with the ordered logs a rescale drops (see checkRescale). A checkpoint without a topology (written before it was
// recorded) is accepted only if its parts are exactly those this pipeline
// would write.
func (p *Pipeline) checkTopology(store checkpoint.Store, m checkpoint.Manifest) (rescale map[int]int, srcRescale int, drop map[string]bool, err error) {
	if _, ok := m.Part(topologyPart); !ok {
		return nil, 0, nil, p.checkParts(m)
	}
	data, err := store.ReadPart(m, topologyPart)
	if err != nil {
		return nil, 0, nil, err
	}
	old := strings.Split(string(data), "\n")
	cur := p.topology()
	if len(old) < 2 || old[0] != topologyHeader {
		return nil, 0, nil, fmt.Errorf("pipeline: checkpoint %d: topology format %.40q, not %q: %w", m.ID, old[0], topologyHeader, ErrTopologyMismatch)
	}
	if old[1] != cur[1] {
		// Another number of sources: restorable if the sources deal
		// their states (RescalableSource); the stages then compare as
		// below, a stage forward from the sources rescaling with them.
		oldSrc, oldRest := sourceLines(old[2:])
		curSrc, curRest := sourceLines(cur[2:])
		if diff := p.sourcesRescale(oldSrc, curSrc); diff != "" {
			return nil, 0, nil, fmt.Errorf("pipeline: checkpoint %d was taken by another graph: it has %s: %w", m.ID, diff, ErrTopologyMismatch)
		}
		srcRescale = len(oldSrc)
		old = append(old[:2:2], oldRest...)
		cur = append(cur[:2:2], curRest...)
		old[1] = cur[1]
	}
	rescale = map[int]int{} // stage: parallelism in the checkpoint
	for i := range max(len(old), len(cur)) {
		var o, c string
		if i < len(old) {
			o = old[i]
		}
		if i < len(cur) {
			c = cur[i]
		}
		if o == c {
			continue
		}
		if s, n, ok := rescalable(o, c); ok {
			rescale[s] = n
			continue
		}
		if o == "" {
			o = "nothing"
		}
		if c == "" {
			c = "nothing"
		}
		return nil, 0, nil, fmt.Errorf("pipeline: checkpoint %d was taken by another graph: it has %.300q where this pipeline has %.300q: %w", m.ID, o, c, ErrTopologyMismatch)
	}
	if len(rescale) == 0 && srcRescale == 0 {
		return nil, 0, nil, nil
	}
	drop, err = p.checkRescale(store, m, rescale, srcRescale)
	return rescale, srcRescale, drop, err
}

// checkParts accepts a checkpoint without a recorded topology only if it
// holds exactly the parts this pipeline would write: a missing part or an
// extra one (an instance this pipeline lacks) is a different graph.
func (p *Pipeline) checkParts(m checkpoint.Manifest) error {
	want := map[string]bool{}
	for i, src := range p.sources {
		if _, ok := src.(SeekableSource); ok {
			want[partName(srcPosKind, i, -1)] = true
		}
		if _, ok := src.(StatefulSource); ok {
			want[partName(srcStateKind, i, -1)] = true
		}
		if p.sheds != nil {
			if _, ok := p.sheds[i].(encoding.BinaryMarshaler); ok {
				want[partName("shed", i, -1)] = true
			}
		}
	}
	for s, insts := range p.ops {
		for i, in := range insts {
			if _, ok := in.op.(Stateful); ok {
				want[partName("op", s, i)] = true
			}
		}
	}
	inflight := map[string]bool{}
	for _, sg := range p.segs[1:] {
		for i := range sg.par {
			inflight[partName("inflight", sg.first, i)] = true
			inflight[partName("order", sg.first, i)] = true
		}
	}
	for _, part := range m.Parts {
		switch {
		case want[part.Name]:
			delete(want, part.Name)
		case inflight[part.Name]:
		default:
			return fmt.Errorf("pipeline: checkpoint %d has part %q, which this pipeline has no place for: %w", m.ID, part.Name, ErrTopologyMismatch)
		}
	}
	for name := range want {
		return fmt.Errorf("pipeline: checkpoint %d has no part %q, which this pipeline needs: %w", m.ID, name, ErrTopologyMismatch)
	}
	return nil
}
