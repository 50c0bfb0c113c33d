package main

import (
	"fmt"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/job"
)

// progressEvery is how often --progress reports.
const progressEvery = time.Second

// progress reports on stderr how far the input has been read: bytes,
// records per second and, when every input is a file, the percentage. On a
// terminal it rewrites one line; elsewhere (--progress always into a log)
// it writes a line per report.
type progress struct {
	e     *env
	j     *job.Job
	tty   bool
	start time.Time
	last  time.Time
	first uint64 // records at the start (restored from a checkpoint)
	prev  uint64
	// ckpt, if set, returns the checkpoint counters.
	ckpt func() pipeline.CheckpointStats
}

// newProgress returns nil when mode (auto, always, never) says no report.
func newProgress(e *env, mode string, j *job.Job) *progress {
	switch {
	case mode == "never", mode == "", mode == "auto" && !e.stderrTerminal:
		return nil
	}
	now := e.now()
	p := &progress{e: e, j: j, tty: e.stderrTerminal, start: now, last: now}
	p.first = p.counts().Records
	p.prev = p.first
	return p
}

func (p *progress) counts() counts { return jobCounts(p.j.Counts()) }

func (p *progress) run(stop <-chan struct{}) {
	tick, stopTicker := p.e.newTicker(progressEvery)
	defer stopTicker()
	for {
		select {
		case <-tick:
			p.report(false)
		case <-stop:
			p.report(true)
			return
		}
	}
}

func (p *progress) report(final bool) {
	c := p.counts()
	now := p.e.now()
	rate := 0.0
	if final {
		if dt := now.Sub(p.start).Seconds(); dt > 0 {
			rate = float64(c.Records-p.first) / dt
		}
	} else if dt := now.Sub(p.last).Seconds(); dt > 0 {
		rate = float64(c.Records-p.prev) / dt
	}
	p.last, p.prev = now, c.Records
	line := "streamstat: " + fmtBytes(c.Bytes) + " read"
	if total := p.j.Size(); total > 0 {
		line += fmt.Sprintf(" (%.0f%%)", 100*float64(c.Bytes)/float64(total))
	}
	line += fmt.Sprintf(", %s records, %s records/s", fmtSI(float64(c.Records)), fmtSI(rate))
	if final {
		line += fmt.Sprintf(" on average, %.1fs", now.Sub(p.start).Seconds())
	}
	if p.ckpt != nil {
		st := p.ckpt()
		line += fmt.Sprintf(", %d checkpoints", st.Completed)
		if st.Completed > 0 {
			line += fmt.Sprintf(" (last %s in %s)", fmtBytes(uint64(st.LastSize)), st.LastDuration.Round(time.Millisecond))
		}
		if st.Failed > 0 {
			line += fmt.Sprintf(", %d failed", st.Failed)
		}
	}
	t := &p.e.term
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case p.tty && final:
		fmt.Fprintf(p.e.stderr, "\r%s\033[K\n", line)
		t.drawn = false
	case p.tty:
		fmt.Fprintf(p.e.stderr, "\r%s\033[K", line)
		t.drawn = true
	default:
		fmt.Fprintln(p.e.stderr, line)
	}
}

func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i-1])
}

func fmtSI(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
