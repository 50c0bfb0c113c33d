package pipeline

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// A source's part of a checkpoint: "src-i", its position (8 bytes,
// little-endian) if it is a SeekableSource, and "srcstate-i", its
// SourceState if it is a StatefulSource; "shed-i" its shedder's state.
const (
	srcPosKind   = "src"
	srcStateKind = "srcstate"
)

// sourceParts returns source t.idx's part of checkpoint id: its position
// and its state, as they are between two Fills.
func (t *task) sourceParts(id uint64) ([]write, error) {
	var parts []write
	if ss, ok := t.src.(SeekableSource); ok {
		parts = append(parts, write{id: id, name: partName(srcPosKind, t.idx, -1), data: binary.LittleEndian.AppendUint64(nil, uint64(ss.Position()))})
	}
	if ss, ok := t.src.(StatefulSource); ok {
		data, err := ss.SourceState()
		if err != nil {
			return nil, fmt.Errorf("pipeline: state of source %d: %w", t.idx, err)
		}
		parts = append(parts, write{id: id, name: partName(srcStateKind, t.idx, -1), data: data})
	}
	return parts, nil
}

// checkpointable reports whether src can be checkpointed: it records a
// position or a state.
func checkpointable(src Source) bool {
	_, seek := src.(SeekableSource)
	_, st := src.(StatefulSource)
	return seek || st
}

// wakeSources wakes every source waiting in Fill that can be woken, so a
// barrier just triggered need not wait for input.
func (p *Pipeline) wakeSources() {
	for _, src := range p.sources {
		if w, ok := src.(WakeableSource); ok {
			w.Wake()
		}
	}
}

// restoreSources gives every source its state or position in checkpoint
// m, and every shedder its state. With from > 0 the checkpoint was taken
// with from sources, not len(p.sources): their states are dealt to the
// sources by source 0 (RescalableSource; checkTopology made sure it is
// one).
func (p *Pipeline) restoreSources(store checkpoint.Store, m checkpoint.Manifest, from int) error {
	if from > 0 {
		if err := p.redealSources(store, m, from); err != nil {
			return err
		}
	}
	for i, src := range p.sources {
		switch ss := src.(type) {
		case StatefulSource:
			if from > 0 {
				break // redealt
			}
			data, err := store.ReadPart(m, partName(srcStateKind, i, -1))
			if err != nil {
				return err
			}
			if err := ss.RestoreSource(data); err != nil {
				return fmt.Errorf("pipeline: restore source %d: %w", i, err)
			}
		case SeekableSource:
			data, err := store.ReadPart(m, partName(srcPosKind, i, -1))
			if err != nil {
				return err
			}
			if len(data) != 8 {
				return fmt.Errorf("pipeline: source %d position of %d bytes: %w", i, len(data), checkpoint.ErrCorruptPart)
			}
			if err := ss.SetPosition(int64(binary.LittleEndian.Uint64(data))); err != nil {
				return fmt.Errorf("pipeline: source %d: %w", i, err)
			}
		default:
			return fmt.Errorf("pipeline: source %d cannot seek: %w", i, ErrInvalidGraph)
		}
		if p.sheds == nil || i >= from && from > 0 {
			continue // a source added by a rescale: its shedder starts afresh
		}
		if st, ok := p.sheds[i].(encoding.BinaryUnmarshaler); ok {
			data, err := store.ReadPart(m, partName("shed", i, -1))
			if err != nil {
				return err
			}
			if err := st.UnmarshalBinary(data); err != nil {
				return fmt.Errorf("pipeline: restore source %d's shedder: %w", i, err)
			}
		}
	}
	return nil
}

// redealSources restores the sources from the states of a checkpoint
// taken with from sources.
func (p *Pipeline) redealSources(store checkpoint.Store, m checkpoint.Manifest, from int) error {
	rs := p.sources[0].(RescalableSource)
	old := make([][]byte, from)
	for i := range old {
		var err error
		if old[i], err = store.ReadPart(m, partName(srcStateKind, i, -1)); err != nil {
			return err
		}
	}
	states, err := rs.RedealSources(old, len(p.sources))
	if err != nil {
		return fmt.Errorf("pipeline: checkpoint %d: deal %d sources' states to %d: %w", m.ID, from, len(p.sources), err)
	}
	if len(states) != len(p.sources) {
		return fmt.Errorf("pipeline: checkpoint %d: %T.RedealSources returned %d states for %d sources: %w", m.ID, rs, len(states), len(p.sources), ErrInvalidGraph)
	}
	for i, src := range p.sources {
		if err := src.(StatefulSource).RestoreSource(states[i]); err != nil {
			return fmt.Errorf("pipeline: restore source %d (redealt): %w", i, err)
		}
	}
	return nil
}

// sourceState is the suffix of a StatefulSource's topology line.
const sourceState = " state=bytes"

// sourceLines splits topology lines (after the header and the "sources"
// line) into the source lines and the rest.
func sourceLines(lines []string) (srcs, rest []string) {
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "source ") {
		i++
	}
	return lines[:i], lines[i:]
}

// sourcesRescale compares the source lines of a checkpoint's topology
// (old) with this pipeline's (cur) when their numbers differ: the
// checkpoint restores if every source, there and here, is of one type, a
// RescalableSource, with the same kind of shedder, which keeps no state. It returns "" if so,
// and the difference to report otherwise.
func (p *Pipeline) sourcesRescale(old, cur []string) string {
	counts := fmt.Sprintf("%q where this pipeline has %q", fmt.Sprintf("sources %d", len(old)), fmt.Sprintf("sources %d", len(cur)))
	strip := func(line string) string {
		var i int
		if _, err := fmt.Sscanf(line, "source %d ", &i); err != nil {
			return line
		}
		_, rest, _ := strings.Cut(strings.TrimPrefix(line, "source "), " ")
		return rest
	}
	if len(old) == 0 || len(cur) == 0 {
		return counts
	}
	want := strip(cur[0])
	for _, lines := range [][]string{old, cur} {
		for _, l := range lines {
			if s := strip(l); s != want {
				return fmt.Sprintf("%s, and a source %.200s where this pipeline has %.200s", counts, s, want)
			}
		}
	}
	if _, ok := p.sources[0].(RescalableSource); !ok || !strings.HasSuffix(want, sourceState) {
		return fmt.Sprintf("%s, of a type (%T) that cannot deal its states to another number of sources (RescalableSource)", counts, p.sources[0])
	}
	if strings.Contains(want, `(stateful)" `) {
		// What a shedder saved (what it shed, its keep probability) is
		// its source's: it would be lost or made up.
		return fmt.Sprintf("%s, with shedders whose state does not deal to another number of sources", counts)
	}
	return ""
}
