// Command streamstat answers "how many distinct?", "which are the most
// frequent?", "how often is this key?", "give me a fair sample", "what are
// the mean and the p99?" and "pass each key only once" over lines on stdin or
// in files, in bounded memory, with bounds on every estimate.
//
//	streamstat distinct [flags] [FILE...]    distinct count with bounds
//	streamstat top [-k N] [flags] [FILE...]  heavy hitters with counts and bounds
//	streamstat freq [flags] KEY...           estimated frequency of the given keys
//	streamstat freq --key K [flags] [FILE...]
//	streamstat sample [-k N] [flags]         uniform sample of lines (or fields)
//	streamstat stats -f N [flags]            count, mean, stddev, min, max, quantiles
//	streamstat dedup [flags]                 first occurrence of each key only
//	streamstat merge FILE...                 merge state files written with --save
//	streamstat version                       the version (also --version)
//
// Run "streamstat help" for the flags, the output formats and the exit codes.
//
// # Parallelism
//
// Files are cut into newline-aligned byte ranges read by one worker each;
// a stream (stdin, a pipe) is read by one goroutine that deals fixed-size,
// newline-aligned chunks to the workers. Every worker is a pipeline source
// with its sketch chained to it (no channel in between), and the answer
// merges the workers' sketches, at the end and at every --interval tick.
// Which chunk or range a worker gets depends only on the input and -j, never
// on timing, so the same input and flags give the same output; distinct's
// answer does not even depend on -j, since HLL merges are exact. Load
// shedding (--shed, shed.go) gives that up: what is shed depends on timing.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // runtime or input error
	exitUsage   = 2
)

func main() {
	startGC(os.Getenv("GOGC") != "")
	// Writes to a closed stdout then fail with EPIPE, which ends the
	// program quietly (exit 0) instead of killing it with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	e := defaultEnv(os.Stdin, os.Stdout, os.Stderr)
	e.stderrTerminal = isTerminal(os.Stderr)
	e.stdinTerminal = isTerminal(os.Stdin)
	os.Exit(runContext(ctx, os.Args[1:], e))
}

// gcStartPercent is the garbage collector's GOGC until a run's first
// collection. Go collects first when the heap reaches 4 MiB x GOGC/100,
// which a run's start reaches with about 2 MB live (the stream's read
// buffers, the line sources', the HLL's sparse phase); that collection
// stopped both workers for 1-3 ms, as their assembly loops cannot be
// preempted, and cost 3-12 ms of CPU (GODEBUG=gctrace=1: every
// cat FILE | streamstat distinct, distinct -j 2 on Go tokens). At 200 such
// a run does not collect at all; soon after the first collection GOGC is
// back at its default, so a run that holds more is collected as before.
// Soon, not at once: the cleanup that restores it runs after the first
// collection's sweep, on its own goroutine, and a run allocating fast
// may have its second collection paced at 3x the first's live heap
// rather than 2x (GODEBUG=gctrace=1): at most that heap more, once.
// GOMEMLIMIT applies throughout, as it does whatever GOGC is.
const gcStartPercent = 200

// startGC sets gcStartPercent until the first collection, unless the user
// chose a GOGC (set).
func startGC(set bool) {
	if set {
		return
	}
	old := debug.SetGCPercent(gcStartPercent)
	// A cleanup runs after the first collection that finds its object
	// unreachable, which this one is at once.
	runtime.AddCleanup(new([4]uint64), func(old int) { debug.SetGCPercent(old) }, old)
}

// run runs streamstat with args (without the program name) and returns the
// exit code. Tests call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, defaultEnv(stdin, stdout, stderr))
}

// env is what a run takes from the outside world, so that tests can pass
// fakes: the standard streams, the clock and the tickers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stderrTerminal bool
	stdinTerminal  bool // stdin is a terminal: see checkStdin
	now            func() time.Time
	// newTicker returns a channel that delivers ticks every d, and a
	// function that stops it.
	newTicker func(d time.Duration) (<-chan time.Time, func())
	// chunkSize is the size of the chunks a stream is dealt to workers
	// in; 0 means defaultChunk. Tests make it small.
	chunkSize int64
	// bufSize is the size of the read buffers of streams; 0 means
	// defaultReadBuf.
	bufSize int
	// term is the progress line on a terminal stderr (progress.go),
	// which answers on the same screen clear first (onTerminal).
	term struct {
		mu    sync.Mutex
		drawn bool // a progress line without its newline is showing
	}
	// opCost, if set, is called by every --shed operator with the number
	// of records in each batch it processes, before it counts them. Tests
	// make it slow, to overload the run.
	opCost func(records int)
}

func defaultEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{
		stdin: stdin, stdout: stdout, stderr: stderr,
		now: time.Now,
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
}

// onTerminal runs write, which writes to stdout, after clearing the
// progress line if one is showing, and keeps progress from drawing
// meanwhile.
func (e *env) onTerminal(write func()) {
	e.term.mu.Lock()
	defer e.term.mu.Unlock()
	if e.term.drawn {
		fmt.Fprint(e.stderr, "\r\033[K")
		e.term.drawn = false
	}
	write()
}

// isTerminal reports whether f is a terminal, without a dependency beyond
// the standard library: a character device that is a tty (see ttyCheck),
// so that /dev/null or /dev/zero as stdin is read, not taken for one.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	return ttyCheck(f)
}
