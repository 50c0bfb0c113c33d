// Command pipeline counts the distinct users and the top pages of a
// clickstream, lines "user page", in one parallel pass: each range of the
// input is read once, by a goroutine of its own, and fanned out into two
// branches, one keyed by user, one by page, each partitioned by its key over
// parallel sketch operators. Every answer has bounds.
//
//	go run ./examples/pipeline -gen 2000000 > clicks.txt   # a clickstream to try
//	go run ./examples/pipeline clicks.txt
//
// With -checkpoint DIR the job saves its state every -every; killed (even
// by kill -9), it goes on with -resume from the newest checkpoint and prints
// what an uninterrupted run prints:
//
//	go run ./examples/pipeline -checkpoint ckpt clicks.txt   # kill -9 it, then
//	go run ./examples/pipeline -checkpoint ckpt -resume clicks.txt
//
// With -shed it keeps up with a live stream that arrives faster than a slow
// operator (-cost per record) can take, by dropping clicks at random at the
// source: page counts are scaled back up and their bounds include the
// sampling error.
//
//	go run ./examples/pipeline -gen 3000000 -rate 1000000 | go run ./examples/pipeline -shed -cost 5us
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

type options struct {
	par        int
	top        int
	dir        string
	every      time.Duration
	resume     bool
	shed       bool
	cost       time.Duration
	confidence float64
	gen        int
	rate       float64
	users      int
	pages      int
	seed       uint64
}

func parse(args []string, stderr io.Writer) (options, []string, error) {
	var o options
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.par, "p", runtime.GOMAXPROCS(0), "parallelism: ranges read at once, and instances per branch")
	fs.IntVar(&o.top, "k", 10, "top pages to print")
	fs.StringVar(&o.dir, "checkpoint", "", "save checkpoints in `DIR`")
	fs.DurationVar(&o.every, "every", time.Second, "checkpoint interval")
	fs.BoolVar(&o.resume, "resume", false, "go on from the newest checkpoint in -checkpoint DIR")
	fs.BoolVar(&o.shed, "shed", false, "shed load at the source under overload (stdin only; users are not counted)")
	fs.DurationVar(&o.cost, "cost", 0, "busy work per click before the page count: a slow operator")
	fs.Float64Var(&o.confidence, "confidence", 0.95, "confidence of the bounds under -shed")
	fs.IntVar(&o.gen, "gen", 0, "write a clickstream of `N` lines to stdout instead, and exit")
	fs.Float64Var(&o.rate, "rate", 0, "with -gen: lines per second (0: as fast as possible)")
	fs.IntVar(&o.users, "users", 200_000, "with -gen: number of users")
	fs.IntVar(&o.pages, "pages", 500, "with -gen: number of pages")
	fs.Uint64Var(&o.seed, "seed", 1, "with -gen: random seed")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	switch {
	case o.par < 1 || o.top < 1:
		return o, nil, errors.New("-p and -k must be at least 1")
	case o.resume && o.dir == "":
		return o, nil, errors.New("-resume needs -checkpoint DIR")
	case o.shed && fs.NArg() > 0:
		return o, nil, errors.New("-shed is for a live stream on stdin; a file waits for the counting")
	case o.confidence <= 0 || o.confidence >= 1:
		return o, nil, errors.New("-confidence must be in (0, 1)")
	}
	return o, fs.Args(), nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, files, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.gen > 0 {
		return generate(ctx, stdout, o)
	}
	sources, err := open(files, stdin, o.par)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range sources {
			if c, ok := s.(io.Closer); ok {
				c.Close()
			}
		}
	}()

	// Checkpoints and shedding are two fields of Config.
	var cfg pipeline.Config
	var store *checkpoint.DirStore
	if o.dir != "" {
		if err := checkFresh(o.dir, o.resume); err != nil {
			return err
		}
		logf := func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
		if store, err = checkpoint.NewDirStore(o.dir, checkpoint.DefaultKeep, logf); err != nil {
			return err
		}
		cfg.Checkpoint = &pipeline.CheckpointConfig{Store: store, Interval: o.every}
	}
	var shed *shedding.Group
	if o.shed {
		if shed, err = shedding.NewGroup(shedding.Config{Policy: shedding.Random}); err != nil {
			return err
		}
		cfg.NewShedder = shed.NewShedder
	}

	p, err := pipeline.New(sources, clickStages(o), cfg)
	if err != nil {
		return err
	}
	if o.resume {
		m, err := p.Restore(store) // the newest complete checkpoint, if any
		switch {
		case errors.Is(err, checkpoint.ErrNoCheckpoint):
			fmt.Fprintln(stderr, "no checkpoint yet: starting from the beginning")
		case err != nil:
			return err
		default:
			fmt.Fprintf(stderr, "resumed from checkpoint %d of %s\n", m.ID, m.Time.Format(time.RFC3339))
		}
	}
	if err := p.Run(ctx); err != nil {
		return err
	}
	for _, b := range p.Branches() {
		if b.Skipped > 0 {
			fmt.Fprintf(stderr, "%d lines without a %s field skipped\n", b.Skipped, b.Name)
		}
	}
	return report(stdout, p, o, shed)
}

// clickStages is the graph after the sources: a fan-out into a branch
// keyed by user (field 1), counting distinct users, and one keyed by page
// (field 2), finding the top pages, each by key over o.par instances.
func clickStages(o options) []pipeline.Stage {
	ws := pipeline.Whitespace
	users := pipeline.Branch{Name: "users", Key: pipeline.ByField(1, ws), Stages: []pipeline.Stage{{
		Name: "distinct", Input: pipeline.ByKey, Parallelism: o.par,
		New: func(int) (pipeline.Operator, error) {
			h, err := sketch.NewHLL(14)
			return &pipeline.Distinct{HLL: h}, err
		},
	}}}
	top := pipeline.Stage{
		Name: "top", Input: pipeline.ByKey, Parallelism: o.par,
		New: func(int) (pipeline.Operator, error) {
			t, err := sketch.NewTopK(1024)
			if o.shed {
				return &shedding.HeavyHitters{TopK: t}, err // each kept click counts as 1/p clicks
			}
			return &pipeline.HeavyHitters{TopK: t}, err
		},
	}
	pages := pipeline.Branch{Name: "pages", Key: pipeline.ByField(2, ws), Stages: []pipeline.Stage{top}}
	if o.cost > 0 {
		slow := pipeline.Stage{
			Name: "slow", Input: pipeline.ByKey, Parallelism: o.par,
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
		top.Input = pipeline.Forward
		pages.Stages = []pipeline.Stage{slow, top}
	}
	branches := []pipeline.Branch{users, pages}
	if o.shed {
		// Random shedding keeps clicks, not users: a distinct count of
		// what is left cannot be scaled back up.
		branches = branches[1:]
	}
	return []pipeline.Stage{{Name: "clicks", Branches: branches}}
}

// busy spins for d, as a costly operator would.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// open makes the sources: o.par ranges of each file, read in parallel, or
// stdin.
func open(files []string, stdin io.Reader, par int) ([]pipeline.Source, error) {
	if len(files) == 0 {
		s, err := pipeline.NewLineSource(stdin, pipeline.LineConfig{})
		return []pipeline.Source{s}, err
	}
	var sources []pipeline.Source
	for _, f := range files {
		ranges, err := pipeline.SplitFile(f, par) // line-aligned ranges, read in parallel
		if err != nil {
			return sources, err
		}
		for _, fr := range ranges {
			s, err := pipeline.OpenRange(fr, pipeline.LineConfig{})
			if err != nil {
				return sources, err
			}
			sources = append(sources, s)
		}
	}
	return sources, nil
}

// checkFresh refuses, for a fresh run, a checkpoint directory that holds
// checkpoints: only -resume may go on from them.
func checkFresh(dir string, resume bool) error {
	if old, _ := filepath.Glob(filepath.Join(dir, "chk-*")); len(old) > 0 && !resume {
		return fmt.Errorf("%s holds checkpoints: add -resume to go on from them, or remove it", dir)
	}
	return nil
}

// report merges each branch's instances and prints the answers.
func report(w io.Writer, p *pipeline.Pipeline, o options, shed *shedding.Group) error {
	top, _ := sketch.NewTopK(1024)
	pages := lastStage(p, "pages")
	if shed != nil {
		err := pipeline.QueryAs(p, pages, func(_ int, op *shedding.HeavyHitters) error {
			return top.Merge(op.TopK)
		})
		if err != nil {
			return err
		}
		sum := shed.Summary()
		fmt.Fprintf(w, "clicks    %d  (%s)\n", sum.Seen, sum)
		fmt.Fprintf(w, "users     not counted under -shed: random shedding keeps clicks, not users\n")
		fmt.Fprintf(w, "top pages (%g%% bounds, sampling error included)\n", 100*o.confidence)
		for _, it := range shedding.TopItems(top, o.top, sum, o.confidence) {
			fmt.Fprintf(w, "  %-8s %.0f  (%.0f .. %.0f)\n", it.Key, it.Count.Value, it.Count.Lower, it.Count.Upper)
		}
		return nil
	}
	err := pipeline.QueryAs(p, pages, func(_ int, op *pipeline.HeavyHitters) error {
		return top.Merge(op.TopK)
	})
	if err != nil {
		return err
	}
	users, _ := sketch.NewHLL(14)
	err = pipeline.QueryAs(p, p.BranchStage("users", 0), func(_ int, op *pipeline.Distinct) error {
		return users.Merge(op.HLL)
	})
	if err != nil {
		return err
	}
	e := users.Estimate()
	fmt.Fprintf(w, "clicks    %d\n", top.Total())
	fmt.Fprintf(w, "users     %.0f  (95%% bounds %.0f .. %.0f)\n", e.Value, e.Lower, e.Upper)
	fmt.Fprintf(w, "top pages (certain bounds)\n")
	for _, it := range top.Top(o.top) {
		fmt.Fprintf(w, "  %-8s %d  (%d .. %d)\n", it.Key, it.Count, it.Lower, it.Upper)
	}
	return nil
}

// lastStage returns the number of the last stage of a branch.
func lastStage(p *pipeline.Pipeline, branch string) int {
	for _, b := range p.Branches() {
		if b.Name == branch {
			return b.Stages[len(b.Stages)-1]
		}
	}
	return -1
}

// generate writes o.gen lines "u<user> p<page>": users uniform, pages
// Zipf(1.1), at o.rate lines per second if set.
func generate(ctx context.Context, w io.Writer, o options) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	rng := rand.New(rand.NewPCG(o.seed, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(max(o.pages, 1)-1))
	start := time.Now()
	for i := range o.gen {
		if o.rate > 0 && i%1000 == 0 {
			bw.Flush()
			if due := start.Add(time.Duration(float64(i) / o.rate * float64(time.Second))); time.Until(due) > 0 {
				select {
				case <-time.After(time.Until(due)):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		if _, err := fmt.Fprintf(bw, "u%d p%d\n", rng.IntN(max(o.users, 1)), zipf.Uint64()); err != nil {
			return err
		}
	}
	return bw.Flush()
}
