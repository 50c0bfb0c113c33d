package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/job"
)

// flagSet says which optional flags a subcommand takes.
type flagSet uint

const (
	flagInput      flagSet = 1 << iota // -f, -d
	flagPrecision                      // --precision
	flagInterval                       // --interval
	flagSave                           // --save
	flagK                              // -k
	flagJobs                           // -j
	flagSeed                           // --seed
	flagQuantiles                      // -q
	flagBloom                          // --capacity, --fp-rate
	flagInFiles                        // freq's -i, --key, --keys-from
	flagProgress                       // --progress
	flagCheckpoint                     // --checkpoint, --checkpoint-interval, --resume
	flagShed                           // --shed, --max-latency
	flagStructured                     // --csv, --tsv, --header, --strict (structured.go)
	flagJSONKey                        // --json
	flagValueJSON                      // --value-json
	flagHTTP                           // --http
	flagKafka                          // --kafka-brokers, --kafka-topic, --kafka-group (kafka.go)
	flagKafkaJob                       // --kafka-session
	flagBy                             // --by (group.go)

	flagKafkaJobs = flagKafka | flagKafkaJob

	flagCounting = flagInput | flagInterval | flagSave | flagProgress | flagJobs | flagCheckpoint | flagShed | flagStructured | flagJSONKey | flagHTTP
)

// options holds every flag of every subcommand; each subcommand registers
// the ones it takes.
type options struct {
	http      string // --http ADDR: serve the run's page there
	field     int
	delimStr  string
	delim     pipeline.Delimiter
	precision int // -1: the subcommand's default
	format    string
	interval  time.Duration
	save      string
	progress  string
	jobs      int
	k         int
	seed      uint64
	quantStr  string
	quantiles []float64
	capacity  uint64
	fpRate    float64
	inFiles   stringList
	keys      stringList // freq's --key
	keysFrom  string     // freq's --keys-from
	argKeys   []string   // freq's keys given as arguments

	jobsAuto     bool   // -j was not given
	checkpoint   string // directory
	ckptInterval time.Duration
	resume       bool
	shed         shedFlags
	st           structFlags // structured input (structured.go)
	win          windowFlags // --window (window.go)
	kafka        kafkaFlags  // a worker of a Kafka consumer group (kafka.go)
	by           byFlags     // grouped answers (group.go)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// inputError is an error of setup that is not a usage error (exit 1):
// a file named by a flag cannot be read.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// maxJobs bounds -j.
const maxJobs = 1024

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// newFlags registers the flags of set on a fresh FlagSet bound to o, with
// their defaults in o.
func newFlags(name string, set flagSet, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller
	o.precision = -1
	fs.StringVar(&o.format, "format", "text", "")
	if set&flagInput != 0 {
		field := &fieldFlag{p: &o.field, spec: &o.st.keySpec}
		fs.Var(field, "f", "")
		fs.Var(field, "field", "")
		fs.StringVar(&o.delimStr, "d", "ws", "")
		fs.StringVar(&o.delimStr, "delimiter", "ws", "")
	}
	if set&flagPrecision != 0 {
		fs.IntVar(&o.precision, "precision", -1, "")
	}
	if set&flagInterval != 0 {
		fs.DurationVar(&o.interval, "interval", 0, "")
	}
	if set&flagSave != 0 {
		fs.StringVar(&o.save, "save", "", "")
	}
	if set&flagProgress != 0 {
		fs.StringVar(&o.progress, "progress", "auto", "")
	}
	if set&flagJobs != 0 {
		fs.IntVar(&o.jobs, "j", 0, "")
		fs.IntVar(&o.jobs, "jobs", 0, "")
	}
	if set&flagK != 0 {
		fs.IntVar(&o.k, "k", 10, "")
	}
	if set&flagSeed != 0 {
		fs.Uint64Var(&o.seed, "seed", 1, "")
	}
	if set&flagQuantiles != 0 {
		fs.StringVar(&o.quantStr, "q", "0.5,0.9,0.99", "")
		fs.StringVar(&o.quantStr, "quantiles", "0.5,0.9,0.99", "")
	}
	if set&flagBloom != 0 {
		fs.Uint64Var(&o.capacity, "capacity", 10_000_000, "")
		fs.Float64Var(&o.fpRate, "fp-rate", 0.01, "")
	}
	if set&flagCheckpoint != 0 {
		fs.StringVar(&o.checkpoint, "checkpoint", "", "")
		fs.DurationVar(&o.ckptInterval, "checkpoint-interval", job.DefaultCheckpointInterval, "")
		fs.BoolVar(&o.resume, "resume", false, "")
	}
	if set&flagInFiles != 0 {
		fs.Var(&o.inFiles, "i", "")
		fs.Var(&o.inFiles, "input", "")
		fs.Var(&o.keys, "key", "")
		fs.StringVar(&o.keysFrom, "keys-from", "", "")
	}
	if set&flagShed != 0 {
		o.shed.register(fs)
	}
	o.st.register(fs, set)
	o.win.register(fs, name)
	o.kafka.register(fs, set)
	if set&flagBy != 0 {
		o.by.register(fs, name, set, o)
	}
	if set&flagHTTP != 0 {
		fs.StringVar(&o.http, "http", "", "")
	}
	return fs
}

// parseArgs parses args with fs, allowing flags after positional arguments
// (streamstat top big.log -k 5) until a "--", and returns the positional
// arguments in order.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// check validates the flags set registered and derives the parsed forms.
func (o *options) check(set flagSet) error {
	switch o.format {
	case "text", "json", "csv":
	default:
		return usagef("--format %q: use text, json or csv", o.format)
	}
	if set&flagInput != 0 {
		if o.field < 0 {
			return usagef("-f %d: fields are numbered from 1 (0 is the whole line)", o.field)
		}
		d, err := pipeline.ParseDelimiter(o.delimStr)
		if err != nil {
			return usagef("-d %q: use a single byte, an escape such as \\t, or ws for runs of whitespace", o.delimStr)
		}
		o.delim = d
		if err := o.st.check(o, set); err != nil {
			return err
		}
	}
	if o.interval < 0 {
		return usagef("--interval %v: must not be negative", o.interval)
	}
	if o.http != "" {
		if _, _, err := net.SplitHostPort(o.http); err != nil {
			return usagef("--http %q: use HOST:PORT, such as 127.0.0.1:8080 (port 0 picks a free one)", o.http)
		}
	}
	if set&flagProgress != 0 {
		switch o.progress {
		case "auto", "always", "never":
		default:
			return usagef("--progress %q: use auto, always or never", o.progress)
		}
	}
	if set&flagCheckpoint != 0 {
		if o.checkpoint == "" && (o.resume || o.ckptInterval != job.DefaultCheckpointInterval) {
			return usagef("--resume and --checkpoint-interval need --checkpoint DIR")
		}
		if o.ckptInterval <= 0 {
			return usagef("--checkpoint-interval %v: must be positive", o.ckptInterval)
		}
	}
	if o.jobs < 0 || o.jobs > maxJobs {
		return usagef("-j %d: use 1 to %d workers, or 0 for one per CPU", o.jobs, maxJobs)
	}
	if o.jobs == 0 {
		o.jobs, o.jobsAuto = runtime.GOMAXPROCS(0), true
	}
	if set&flagK != 0 && (o.k < 1 || o.k > 1<<20) {
		return usagef("-k %d: must be in [1, %d]", o.k, 1<<20)
	}
	if set&flagQuantiles != 0 {
		qs, err := parseQuantiles(o.quantStr)
		if err != nil {
			return err
		}
		o.quantiles = qs
	}
	if err := o.shed.check(o); err != nil {
		return err
	}
	if err := o.win.check(o); err != nil {
		return err
	}
	if err := o.kafka.check(); err != nil {
		return err
	}
	if set&flagBy != 0 {
		if err := o.by.check(o, set); err != nil {
			return err
		}
	}
	if set&flagBloom != 0 {
		if o.capacity < 1 {
			return usagef("--capacity %d: must be at least 1", o.capacity)
		}
		if !(o.fpRate > 0 && o.fpRate < 1) {
			return usagef("--fp-rate %v: must be in (0, 1)", o.fpRate)
		}
	}
	return nil
}

// precisionOr returns --precision, or def when it was not given, checking
// it against [lo, hi].
func (o *options) precisionOr(def, lo, hi int) (int, error) {
	if o.precision == -1 {
		return def, nil
	}
	if o.precision < lo || o.precision > hi {
		return 0, usagef("--precision %d: must be in [%d, %d]", o.precision, lo, hi)
	}
	return o.precision, nil
}

func parseQuantiles(s string) ([]float64, error) {
	var qs []float64
	for _, f := range strings.Split(s, ",") {
		q, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(q >= 0 && q <= 1) || math.IsNaN(q) {
			return nil, usagef("-q %q: give quantiles in [0, 1], separated by commas", s)
		}
		qs = append(qs, q)
	}
	return qs, nil
}

// isHelp reports whether err asks for help (-h, --help).
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// flagName spells a flag as users type it: -k, --precision.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// Package flag's error messages, compiled when a parse fails rather than
// at every start (50 us of a run's fixed cost, issue 16).
var (
	reUndefined = lazyRegexp(`^flag provided but not defined: -+(.+)$`)
	reInvalid   = lazyRegexp(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-+([^:]+): (.*)$`)
	reNeedsArg  = lazyRegexp(`^flag needs an argument: -+(.+)$`)
)

// lazyRegexp returns a function that compiles expr at its first call.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// flagError rewrites the errors of package flag for subcommand cmd: long
// flags with two dashes, what a value should look like, and, for a flag
// cmd does not take, which subcommands do.
func flagError(cmd string, fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if m := reUndefined().FindStringSubmatch(msg); m != nil {
		name := m[1]
		if name == "shed" || name == "max-latency" {
			if cmd == "sample" || cmd == "stats" {
				return noShed(cmd)
			}
		}
		var takers []string
		for _, c := range commands {
			if c.name != cmd && c.newFlagSet(new(options)).Lookup(name) != nil {
				takers = append(takers, c.name)
			}
		}
		if len(takers) > 0 {
			verb := "do"
			if len(takers) == 1 {
				verb = "does"
			}
			return usagef("%s: %s does not take this flag (%s %s)", flagName(name), cmd, strings.Join(takers, ", "), verb)
		}
		return usagef("unknown flag %s", flagName(name))
	}
	if m := reNeedsArg().FindStringSubmatch(msg); m != nil {
		return usagef("%s needs a value", flagName(m[1]))
	}
	if m := reInvalid().FindStringSubmatch(msg); m != nil {
		why := m[3]
		if why == "parse error" || why == "value out of range" || strings.HasPrefix(why, "strconv.") {
			why = "want " + valueKind(fs.Lookup(m[2]))
		}
		return usagef("%s %s: %s", flagName(m[2]), m[1], why)
	}
	return usagef("%s", msg)
}

// valueKind says what a flag's value should look like.
func valueKind(f *flag.Flag) string {
	if f == nil {
		return "a valid value"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case int:
			return "a whole number"
		case uint64:
			return "a whole number, 0 or more"
		case float64:
			return "a number"
		case bool:
			return "true or false"
		case time.Duration:
			return "a duration such as 500ms or 10s"
		}
	}
	return "a valid value"
}
