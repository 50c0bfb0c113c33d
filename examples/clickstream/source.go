package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// schedule is the arrival rate over time: base records per second, times
// factor during the burst [from, to) after the start, until end (0: no
// end).
type schedule struct {
	base, factor float64
	from, to     time.Duration
	end          time.Duration
}

func (s schedule) rate(since time.Duration) float64 {
	if since >= s.from && since < s.to {
		return s.base * s.factor
	}
	return s.base
}

// clicks is a synthetic clickstream: lines "u<user> /p/<page>", users and
// pages each Zipf, arriving at the rate of a schedule. Click i depends only
// on (seed, i) (two pipeline.Generators draw the user and the page), so it
// is a SeekableSource: a checkpoint records the click index.
//
// The zero value is not usable; make one with newClicks. Fill and
// SetPosition are called from one goroutine, Position from any.
type clicks struct {
	users, pages *pipeline.Generator
	ub, pb       pipeline.Batch // the generators' scratch batches
	line         []byte
	sched        schedule
	start        time.Time // of the schedule, set at the first Fill
	last         time.Time
	due          float64 // clicks due so far, counted from pos0
	pos0         int64

	mu  sync.Mutex
	pos int64
}

func newClicks(seed uint64, users, pages uint64, sched schedule) (*clicks, error) {
	u, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: seed, Keys: users, S: 1.05, Prefix: "u"})
	if err != nil {
		return nil, err
	}
	p, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: seed ^ 0x9e3779b97f4a7c15, Keys: pages, S: 1.2, Prefix: "/p/"})
	if err != nil {
		return nil, err
	}
	return &clicks{users: u, pages: p, sched: sched}, nil
}

// Position implements pipeline.SeekableSource.
func (c *clicks) Position() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// SetPosition implements pipeline.SeekableSource; the schedule starts over.
func (c *clicks) SetPosition(pos int64) error {
	if err := c.users.SetPosition(pos); err != nil {
		return err
	}
	if err := c.pages.SetPosition(pos); err != nil {
		return err
	}
	c.mu.Lock()
	c.pos, c.pos0 = pos, pos
	c.mu.Unlock()
	c.start, c.due = time.Time{}, 0
	return nil
}

// Fill implements pipeline.Source: it appends the clicks due by now, or
// waits a little for the next one.
func (c *clicks) Fill(ctx context.Context, b *pipeline.Batch, max int) error {
	now := time.Now()
	if c.start.IsZero() {
		c.start, c.last = now, now
	}
	ended := false
	if c.sched.end > 0 && now.Sub(c.start) >= c.sched.end {
		now, ended = c.start.Add(c.sched.end), true
	}
	if now.After(c.last) {
		c.due += c.sched.rate(now.Sub(c.start)) * now.Sub(c.last).Seconds()
		c.last = now
	}
	c.mu.Lock()
	pos := c.pos
	c.mu.Unlock()
	n := min(int64(max), int64(c.due)-(pos-c.pos0))
	if n <= 0 && ended {
		return io.EOF // the stream ends: the pipeline drains what is in flight
	}
	if n <= 0 {
		t := time.NewTimer(2 * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		return nil
	}
	c.ub.Reset()
	c.pb.Reset()
	if err := c.users.Fill(ctx, &c.ub, int(n)); err != nil {
		return err
	}
	if err := c.pages.Fill(ctx, &c.pb, int(n)); err != nil {
		return err
	}
	for i := range c.ub.Len() {
		c.line = append(append(append(c.line[:0], c.ub.Key(i)...), ' '), c.pb.Key(i)...)
		b.Add(c.line)
	}
	c.mu.Lock()
	c.pos += int64(c.ub.Len())
	c.mu.Unlock()
	return nil
}
