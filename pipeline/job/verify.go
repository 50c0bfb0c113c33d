package job

// Holding a resumed job's checkpoints back until its input is verified.
//
// A checkpoint of a resumed job records what the job counted on top of
// the restored one, so it is only as good as the stream it was taken of.
// Resuming checks a stream as it goes: each worker hashes the bytes it
// skips to its restored position (skipStream) or drains (drain), and a
// stream dealt anew to another number of workers checks every old
// worker's counted bytes as the filter drops them (filter). A check fails
// only once its bytes have all been read: until then a wrong stream looks
// like the right one. A checkpoint published in the meantime, taken of a
// stream that is then refused, would be trusted by the next resume: its
// workers (say 3 where the checkpoint had 2) and whatever they counted of
// the wrong stream replace the checkpoint the user had, so that a later
// resume with the right stream gives another answer, or refuses the right
// stream. So a resumed job takes no checkpoint, at the interval or when
// asked to stop, before every check of the restored checkpoint has
// passed (pipeline.CheckpointConfig.Ready): a failed or interrupted resume
// leaves the directory's newest checkpoint the one it restored.
//
// Holding triggers back, rather than refusing to publish, keeps the
// checkpoints of a correct resume from being counted as failures while
// the stream is skipped. Checks pass in no fixed order and never come
// undone, so one count of those left is enough. Files need none: New
// recognized them by identity before anything ran. The price: a worker
// that had finished a stream (drain) is checked only at the stream's end,
// and a stream after files only once the workers reach it, so such a
// resumed job takes its first checkpoint late.

import "sync/atomic"

// verification counts the checks of a restored checkpoint's stream
// positions that have not passed yet. The zero value has none left. It is
// safe for concurrent use; a nil *verification ignores passes.
type verification struct{ left atomic.Int64 }

// passed records one more check passed.
func (v *verification) passed() {
	if v != nil {
		v.left.Add(-1)
	}
}

// done reports whether every check has passed.
func (v *verification) done() bool { return v.left.Load() == 0 }

// countChecks sets the checks left to those of the restored workers ws:
// one per worker per stream it skips into (itemStream past 0, skipStream)
// or drains (itemDrain, drain), and one per old worker of every layer of
// every stream (filter). Each check calls passed once when it passes.
func (pl *plan) countChecks(ws []*worker) {
	var n int64
	for _, w := range ws {
		if w.unchecked { // a bare position: nothing to check against
			continue
		}
		for _, it := range w.items {
			if it.kind == itemDrain || it.kind == itemStream && it.pos > 0 {
				n++
			}
		}
	}
	for _, in := range pl.inputs {
		if in.stream != nil {
			for _, l := range in.stream.layers {
				n += int64(len(l.pos))
			}
		}
	}
	pl.verify.left.Store(n)
}

// stoppedUnverified is the note of a resumed job stopped before its input
// was verified: it took no last checkpoint.
func (c *checkpointing) stoppedUnverified() {
	c.logf("stopped before the input was checked against checkpoint %d in %s: no checkpoint taken, resuming goes on from checkpoint %d",
		c.restored, c.cfg.Dir, c.restored)
}
