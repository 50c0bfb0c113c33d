package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// RestartStrategy decides whether a failed job restarts and after how long,
// with the parameters of Apache Flink's strategies of the same names. Time
// is passed in. A strategy is not safe for concurrent use.
type RestartStrategy interface {
	// Restart is told of a failure at now; it returns the delay before the
	// restart, or false to give up.
	Restart(now time.Time) (time.Duration, bool)
}

// FixedDelay restarts up to Attempts times, each after Delay. The zero
// value never restarts.
type FixedDelay struct {
	Attempts int
	Delay    time.Duration
	used     int
}

// Restart implements RestartStrategy.
func (s *FixedDelay) Restart(time.Time) (time.Duration, bool) {
	if s.used >= s.Attempts {
		return 0, false
	}
	s.used++
	return s.Delay, true
}

// FailureRate restarts after Delay unless more than MaxFailures failures
// fell within the last Interval. The zero value never restarts.
type FailureRate struct {
	MaxFailures int
	Interval    time.Duration
	Delay       time.Duration
	failures    []time.Time
}

// Restart implements RestartStrategy.
func (s *FailureRate) Restart(now time.Time) (time.Duration, bool) {
	s.failures = append(s.failures, now)
	for len(s.failures) > 0 && now.Sub(s.failures[0]) > s.Interval {
		s.failures = s.failures[1:]
	}
	if len(s.failures) > s.MaxFailures {
		return 0, false
	}
	return s.Delay, true
}

// ExponentialDelay restarts forever, waiting Initial, then Multiplier times
// longer after each failure up to Max, each delay moved by a random
// fraction of up to ±Jitter of itself; after ResetAfter without a failure
// the delay starts again from Initial. Zero fields take Flink's defaults:
// 1 s, 5 min, 1.5, 0.1 and 1 h; a negative Jitter means none. Rand, if set, replaces the random source
// (a func returning [0, 1)), for tests.
type ExponentialDelay struct {
	Initial, Max time.Duration
	Multiplier   float64
	Jitter       float64
	ResetAfter   time.Duration
	Rand         func() float64
	next         time.Duration
	last         time.Time
}

// Restart implements RestartStrategy.
func (s *ExponentialDelay) Restart(now time.Time) (time.Duration, bool) {
	initial, maxd, mult, jitter, reset := s.Initial, s.Max, s.Multiplier, s.Jitter, s.ResetAfter
	if initial <= 0 {
		initial = time.Second
	}
	if maxd <= 0 {
		maxd = 5 * time.Minute
	}
	if mult <= 1 {
		mult = 1.5
	}
	if jitter == 0 {
		jitter = 0.1
	} else if jitter < 0 {
		jitter = 0
	}
	if reset <= 0 {
		reset = time.Hour
	}
	if s.next == 0 || (!s.last.IsZero() && now.Sub(s.last) > reset) {
		s.next = initial
	}
	s.last = now
	d := s.next
	s.next = time.Duration(math.Min(float64(s.next)*mult, float64(maxd)))
	r := rand.Float64
	if s.Rand != nil {
		r = s.Rand
	}
	d += time.Duration((2*r() - 1) * jitter * float64(d))
	return max(d, 0), true
}

// RestartConfig says how RunWithRestarts retries a job. The zero value
// never restarts (a nil Strategy gives up at the first failure), restores
// nothing and waits with a timer.
type RestartConfig struct {
	// Store holds the checkpoints each attempt restores from; nil means
	// every attempt starts from the beginning.
	Store checkpoint.Store
	// Strategy decides whether a failed attempt is retried, and when.
	Strategy RestartStrategy
	// Sleep waits between attempts; nil means a timer (tests pass a fake).
	Sleep func(context.Context, time.Duration) error
	// OnFailure, if set, is told of each failed attempt, numbered from 1,
	// before the strategy decides: the error is the attempt's (Run's or
	// Restore's).
	OnFailure func(attempt int, err error)
}

// Run runs the job build makes until it succeeds, ctx is done or the
// strategy gives up. Each attempt is a fresh pipeline restored from the
// newest complete checkpoint in Store (none on the first run is fine). It
// returns the pipeline of the last attempt, to query once it has finished
// (nil only if build failed), and nil, ctx's error, or the last failure
// wrapped with the number of attempts.
func (c RestartConfig) Run(ctx context.Context, build func() (*Pipeline, error)) (*Pipeline, error) {
	sleep := c.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	for attempt := 1; ; attempt++ {
		p, err := build()
		if err != nil {
			return p, err
		}
		if c.Store != nil {
			if _, err := p.Restore(c.Store); err != nil && !errors.Is(err, checkpoint.ErrNoCheckpoint) {
				err = fmt.Errorf("pipeline: attempt %d: restore: %w", attempt, err)
				if c.OnFailure != nil {
					c.OnFailure(attempt, err)
				}
				return p, err
			}
		}
		err = p.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return p, err
		}
		if c.OnFailure != nil {
			c.OnFailure(attempt, err)
		}
		d, ok := time.Duration(0), false
		if c.Strategy != nil {
			d, ok = c.Strategy.Restart(p.clock.Now())
		}
		if !ok {
			return p, fmt.Errorf("pipeline: giving up after %d attempts: %w", attempt, err)
		}
		if err := sleep(ctx, d); err != nil {
			return p, err
		}
	}
}

// RunWithRestarts is RestartConfig{Store: store, Strategy: strategy,
// Sleep: sleep}.Run(ctx, build): it runs the job until it succeeds, ctx is
// done or strategy gives up, and returns the last attempt's pipeline. Set
// RestartConfig.OnFailure to hear of each failure.
func RunWithRestarts(ctx context.Context, build func() (*Pipeline, error), store checkpoint.Store, strategy RestartStrategy, sleep func(context.Context, time.Duration) error) (*Pipeline, error) {
	return RestartConfig{Store: store, Strategy: strategy, Sleep: sleep}.Run(ctx, build)
}
