package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/streamstat/streamstat/flowcontrol"
)

// task is one goroutine: instance idx of segment seg.
type task struct {
	p       *Pipeline
	seg     *segment
	idx     int
	src     Source                    // set for the source segment
	gate    *flowcontrol.Gate[*Batch] // set otherwise
	chain   []*instance
	names   []string
	scratch []*Batch // outputs of all but the last chained operator
	srcBuf  *Batch   // what the source fills when operators are chained to it
	emit    emitter
	shed    Shedder
}

func (p *Pipeline) newTask(k, i int) *task {
	sg := p.segs[k]
	t := &task{p: p, seg: sg, idx: i}
	if sg.first < 0 {
		t.src = p.sources[i]
	} else {
		t.gate = sg.gates[i]
	}
	if sg.last >= 0 {
		// The source segment (first == -1) chains from stage 0.
		for s := max(sg.first, 0); s <= sg.last; s++ {
			t.chain = append(t.chain, p.ops[s][i])
			t.names = append(t.names, p.stages[s].Name)
		}
	}
	for range max(len(t.chain)-1, 0) {
		t.scratch = append(t.scratch, new(Batch))
	}
	if t.src != nil && len(t.chain) > 0 {
		t.srcBuf = new(Batch)
	}
	t.emit = p.newEmitter(k, i)
	if t.src != nil && p.cfg.NewShedder != nil {
		t.shed = p.cfg.NewShedder(i)
	}
	return t
}

func (t *task) run(ctx context.Context) error {
	defer t.emit.close()
	if t.src != nil {
		return t.runSource(ctx)
	}
	return t.runGate(ctx)
}

func (t *task) runSource(ctx context.Context) error {
	size := t.p.cfg.BatchSize
	for {
		in := t.srcBuf
		if in == nil {
			var err error
			if in, err = t.emit.out(ctx); err != nil {
				return err
			}
		} else {
			in.Reset()
		}
		before := in.Len()
		err := t.src.Fill(ctx, in, max(size-in.Len(), 1))
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("pipeline: source %d: %w", t.idx, err)
		}
		if t.shed != nil {
			t.shedNew(in, before)
		}
		// With a shedder, every Fill is shipped at once: a batch then
		// carries one keep probability, and a live stream's records wait
		// for no batch to fill.
		mode := flushFull
		if t.shed != nil {
			mode = flushAll
		}
		if perr := t.process(ctx, in, mode); perr != nil {
			return perr
		}
		if err != nil { // io.EOF
			return t.emit.flush(ctx, flushFinal)
		}
	}
}

func (t *task) runGate(ctx context.Context) error {
	g := t.gate
	n := g.Inputs()
	ordered := t.seg.ordered()
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	turn := 0
	if ordered {
		for i := 1; i < n; i++ {
			g.Pause(i)
		}
	}
	// advance passes the turn to the next live input after turn.
	advance := func() {
		for j := 1; j <= n; j++ {
			if c := (turn + j) % n; alive[c] {
				g.Pause(turn)
				turn = c
				g.Resume(turn)
				return
			}
		}
	}
	for {
		b, input, err := g.Recv(ctx)
		switch {
		case errors.Is(err, flowcontrol.ErrEndOfInput):
			alive[input] = false
			if ordered && input == turn {
				advance()
			}
			continue
		case errors.Is(err, flowcontrol.ErrClosed):
			return t.emit.flush(ctx, flushFinal)
		case err != nil:
			return err
		}
		err = t.process(ctx, b, flushFull)
		g.Release(input, b)
		if err != nil {
			return err
		}
		if ordered {
			advance()
		}
	}
}

// process runs the chained operators over in and ships the output.
func (t *task) process(ctx context.Context, in *Batch, mode flushMode) error {
	if len(t.chain) == 0 {
		return t.emit.flush(ctx, mode)
	}
	cur := in
	for j, inst := range t.chain {
		var out *Batch
		if j == len(t.chain)-1 {
			var err error
			if out, err = t.emit.out(ctx); err != nil {
				return err
			}
		} else {
			out = t.scratch[j]
			out.Reset()
		}
		before := out.Len()
		inst.mu.Lock()
		err := inst.op.Process(cur, out)
		inst.mu.Unlock()
		if !t.p.cfg.NoMetrics {
			inst.in.Add(uint64(cur.Len()))
			inst.out.Add(uint64(out.Len() - before))
		}
		if err != nil {
			return fmt.Errorf("pipeline: %s[%d]: %w", t.names[j], t.idx, err)
		}
		cur = out
	}
	return t.emit.flush(ctx, mode)
}

// shedNew lets the shedder decide on the records the last Fill appended
// to in (those from index from on); earlier ones were decided already.
func (t *task) shedNew(in *Batch, from int) {
	if from == 0 {
		t.shed.Shed(in, t.p.clock.Now(), pressure(t.emit))
		return
	}
	tail := Batch{Records: in.Records[from:], arena: in.arena}
	t.shed.Shed(&tail, t.p.clock.Now(), pressure(t.emit))
	in.Records = in.Records[:from+len(tail.Records)]
}
