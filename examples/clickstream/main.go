// Command clickstream runs a synthetic web clickstream through a pipeline
// with load shedding and checkpoints, and serves the live page of package
// observe while it runs.
//
//	go run ./examples/clickstream                 # then open http://127.0.0.1:8080
//
// Clicks are lines "u<user> /p/<page>", users and pages each Zipf. They
// arrive at -rate per second, -burst times faster in the middle third of
// -duration: more than the job can take (every click costs -cost of work
// first), so the shedder drops clicks at random at the source and the
// keep probability falls, then recovers. The job fans each click out to
// two branches: the top pages, and the clicks of a few watched users;
// counts are scaled back up and their bounds include the sampling error.
// A checkpoint is taken every -every. When the stream ends the answer is
// printed, and the page keeps serving until interrupted (-wait=false to
// exit).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clickstream:", err)
		os.Exit(1)
	}
}

type options struct {
	addr       string
	duration   time.Duration
	rate       float64
	burst      float64
	cost       time.Duration
	par        int
	every      time.Duration
	dir        string
	top        int
	users      uint64
	pages      uint64
	seed       uint64
	wait       bool
	tick       time.Duration
	confidence float64
	json       bool
}

// watched are the users whose clicks the job counts.
var watched = []string{"u0", "u1", "u2", "u10", "u100"}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("clickstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "http", "127.0.0.1:8080", "serve the page at `ADDR` (port 0: any free port)")
	fs.DurationVar(&o.duration, "duration", 3*time.Minute, "how long the stream runs")
	fs.Float64Var(&o.rate, "rate", 20000, "clicks per second outside the burst")
	fs.Float64Var(&o.burst, "burst", 10, "rate factor during the burst, the middle third of -duration")
	fs.DurationVar(&o.cost, "cost", 20*time.Microsecond, "work per click before counting: the job's capacity")
	fs.IntVar(&o.par, "p", 2, "parallelism: sources, and instances per stage")
	fs.DurationVar(&o.every, "every", 2*time.Second, "checkpoint interval")
	fs.StringVar(&o.dir, "checkpoint", "", "keep checkpoints in `DIR` (default: a temporary directory, removed at exit)")
	fs.IntVar(&o.top, "k", 20, "top pages to show")
	fs.Uint64Var(&o.users, "users", 100_000, "number of users")
	fs.Uint64Var(&o.pages, "pages", 2_000, "number of pages")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.BoolVar(&o.wait, "wait", true, "keep serving the page after the stream ends, until interrupted")
	fs.DurationVar(&o.tick, "tick", time.Second, "how often the page updates")
	fs.Float64Var(&o.confidence, "confidence", 0.95, "confidence of the bounds")
	fs.BoolVar(&o.json, "json", false, "print the answer as JSON, the object the page shows")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.par < 1 || o.top < 1:
		return o, errors.New("-p and -k must be at least 1")
	case !(o.rate > 0) || !(o.burst >= 1):
		return o, errors.New("-rate must be positive and -burst at least 1")
	case o.duration <= 0 || o.every <= 0 || o.tick <= 0:
		return o, errors.New("-duration, -every and -tick must be positive")
	case o.users < 1 || o.pages < 1:
		return o, errors.New("-users and -pages must be at least 1")
	case !(o.confidence > 0 && o.confidence < 1):
		return o, errors.New("-confidence must be in (0, 1)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "clickstream-ckpt-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	store, err := checkpoint.NewDirStore(dir, checkpoint.DefaultKeep, nil)
	if err != nil {
		return err
	}
	shed, err := shedding.NewGroup(shedding.Config{Policy: shedding.Random})
	if err != nil {
		return err
	}
	sched := schedule{base: o.rate / float64(o.par), factor: o.burst, from: o.duration / 3, to: 2 * o.duration / 3, end: o.duration}
	var sources []pipeline.Source
	for i := range o.par {
		c, err := newClicks(o.seed+uint64(i), o.users, o.pages, sched)
		if err != nil {
			return err
		}
		sources = append(sources, c)
	}
	var obs *observe.Observer
	cfg := pipeline.Config{
		NewShedder: shed.NewShedder,
		Checkpoint: &pipeline.CheckpointConfig{
			Store: store, Interval: o.every,
			OnComplete: func(m checkpoint.Manifest, err error) { obs.CheckpointDone(m, err) },
		},
	}
	p, err := pipeline.New(sources, stages(o), cfg)
	if err != nil {
		return err
	}
	obs = observe.NewObserver(p, observe.Info{
		Job: "clickstream", Inputs: []string{fmt.Sprintf("synthetic: %d users, %d pages", o.users, o.pages)},
		Version: "example", Shed: shed, Checkpoints: true,
	}, func() any { return answer(p, shed, o) })

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "serving http://%s/\n", ln.Addr())
	srv := observe.NewServer(obs, observe.ServerConfig{Tick: o.tick})
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, ln) }()
	defer func() {
		stopServer()
		<-served
	}()

	err = p.Run(ctx) // the sources end after o.duration
	interrupted := ctx.Err() != nil
	if interrupted && errors.Is(err, ctx.Err()) {
		err = nil
	}
	obs.Done(err)
	if err != nil {
		return err
	}
	if interrupted {
		// Batches in flight when the pipeline stopped were not counted.
		fmt.Fprintln(stderr, "interrupted: the answer is partial (it misses the clicks in flight)")
	}
	a := answer(p, shed, o)
	if o.json {
		err = json.NewEncoder(stdout).Encode(a)
	} else {
		err = report(stdout, a)
	}
	if err != nil {
		return err
	}
	if o.wait && !interrupted {
		fmt.Fprintln(stderr, "the stream ended; the page keeps serving until interrupted")
		<-ctx.Done()
	}
	return nil
}

// stages is the graph after the sources: every click costs o.cost of
// work (an "enrich" stage, the job's bottleneck), then fans out into a
// branch keyed by page (the top pages) and one keyed by user (a
// count-min sketch, for the watched users).
func stages(o options) []pipeline.Stage {
	ws := pipeline.Whitespace
	enrich := pipeline.Stage{
		Name: "enrich", Parallelism: o.par,
		New: func(int) (pipeline.Operator, error) {
			return pipeline.Stateless(pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
				for i := range in.Records {
					busy(o.cost)
					out.AddRecord(in, i)
				}
				return nil
			})), nil
		},
	}
	pages := pipeline.Branch{Name: "pages", Key: pipeline.ByField(2, ws), Stages: []pipeline.Stage{{
		Name: "top-pages", Input: pipeline.ByKey, Parallelism: o.par,
		New: func(int) (pipeline.Operator, error) {
			t, err := sketch.NewTopK(1024)
			return &shedding.HeavyHitters{TopK: t}, err // each kept click counts as 1/p clicks
		},
	}}}
	users := pipeline.Branch{Name: "users", Key: pipeline.ByField(1, ws), Stages: []pipeline.Stage{{
		Name: "user-clicks", Input: pipeline.ByKey, Parallelism: o.par,
		New: func(int) (pipeline.Operator, error) {
			cm, err := sketch.NewCountMinWidthDepth(1<<14, 5)
			return &shedding.Frequency{CM: cm}, err
		},
	}}}
	return []pipeline.Stage{enrich, {Name: "fan-out", Branches: []pipeline.Branch{pages, users}}}
}

// busy spins for d, as a costly operator would.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}
