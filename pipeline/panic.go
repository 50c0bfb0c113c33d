package pipeline

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// recoverPanic turns a panic in the task's source, shedder or operators
// into the task's error, wrapping ErrPanic and naming the stage and
// instance, so that Run returns it (and RunWithRestarts sees a failure)
// instead of the process dying. The operator that panicked is unlocked, so
// Query still works; its state is whatever the panic left.
func (t *task) recoverPanic(err *error) {
	v := recover()
	if v == nil {
		return
	}
	where := fmt.Sprintf("instance %d", t.idx)
	switch {
	case t.cur >= 0:
		t.chain[t.cur].mu.Unlock()
		where = fmt.Sprintf("stage %d %q instance %d", t.stages[t.cur], t.names[t.cur], t.idx)
		t.cur = -1
	case t.src != nil:
		where = fmt.Sprintf("source %d", t.idx)
	case len(t.stages) > 0:
		where = fmt.Sprintf("stage %d %q instance %d", t.stages[0], t.names[0], t.idx)
	}
	*err = fmt.Errorf("pipeline: %s: %w: %v\n%s", where, ErrPanic, v, stackExcerpt(debug.Stack(), 8))
}

// stackExcerpt returns up to frames frames of a goroutine stack from the
// panicking function on: the frames of the recovery and of panic itself
// are skipped.
func stackExcerpt(stack []byte, frames int) string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	start := 1 // after "goroutine N [running]:"
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2 // the panic frame is a function line and a file line
			break
		}
	}
	end := min(start+2*frames, len(lines))
	if start >= end {
		return ""
	}
	return strings.Join(lines[start:end], "\n")
}

// safeStore turns a panic in a checkpoint store's writing methods, which
// run on the coordinator's background writer, into an error wrapping
// ErrPanic: that checkpoint fails, the job goes on (see
// CheckpointStats.LastError).
type safeStore struct{ s checkpoint.Store }

func (c *coordinator) store() safeStore { return safeStore{c.cfg.Store} }

func recoverStore(op string, err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("pipeline: checkpoint store %s: %w: %v\n%s", op, ErrPanic, v, stackExcerpt(debug.Stack(), 4))
	}
}

func (s safeStore) WritePart(id uint64, name string, data []byte) (p checkpoint.Part, err error) {
	defer recoverStore("WritePart", &err)
	return s.s.WritePart(id, name, data)
}

func (s safeStore) Publish(m checkpoint.Manifest) (err error) {
	defer recoverStore("Publish", &err)
	return s.s.Publish(m)
}

func (s safeStore) Abort(id uint64) (err error) {
	defer recoverStore("Abort", &err)
	return s.s.Abort(id)
}

// notify calls OnComplete; a panic in it is recovered into the stats'
// LastError, so that the background writer, and the job, go on.
func (c *coordinator) notify(m checkpoint.Manifest, err error) {
	if c.cfg.OnComplete == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			c.mu.Lock()
			c.stats.LastError = fmt.Errorf("pipeline: CheckpointConfig.OnComplete for checkpoint %d: %w: %v\n%s", m.ID, ErrPanic, v, stackExcerpt(debug.Stack(), 4))
			c.mu.Unlock()
		}
	}()
	c.cfg.OnComplete(m, err)
}
