package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
)

// command is one subcommand.
type command struct {
	name     string
	synopsis string // the usage line, after "streamstat "
	flags    flagSet
	help     string
	setup    func(e *env, o *options, args []string) (*spec, error)
}

var commands []*command

func init() {
	commands = []*command{
		{name: "distinct", synopsis: "distinct [flags] [FILE...]", flags: flagCounting | flagPrecision | flagBy | flagKafkaJobs, help: helpDistinct,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupDistinct(o, a) }},
		{name: "top", synopsis: "top [-k N] [flags] [FILE...]", flags: flagCounting | flagPrecision | flagK | flagBy | flagKafkaJobs, help: helpTop,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupTop(o, a) }},
		{name: "freq", synopsis: "freq [flags] {KEY... | --key K [FILE...]}", flags: flagCounting | flagPrecision | flagInFiles | flagBy | flagKafkaJobs, help: helpFreq,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupFreq(o, a) }},
		{name: "sample", synopsis: "sample [-k N] [flags] [FILE...]", flags: flagCounting&^(flagJobs|flagShed) | flagK | flagSeed, help: helpSample,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupSample(o, a) }},
		{name: "stats", synopsis: "stats -f N [flags] [FILE...]", flags: flagCounting&^(flagShed|flagJSONKey) | flagQuantiles | flagValueJSON | flagBy | flagKafkaJobs, help: helpStats,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupStats(o, a) }},
		{name: "dedup", synopsis: "dedup [flags] [FILE...]", flags: flagInput | flagStructured | flagJSONKey | flagSave | flagProgress | flagBloom | flagHTTP, help: helpDedup,
			setup: setupDedup},
		{name: "merge", synopsis: "merge [--format F] [-k N] FILE...", flags: flagSave | flagKafka, help: helpMerge},
	}
}

// newFlagSet returns the flag set of c bound to o.
func (c *command) newFlagSet(o *options) *flag.FlagSet {
	fs := newFlags(c.name, c.flags, o)
	if c.name == "merge" {
		fs.IntVar(&o.k, "k", 0, "")
	}
	return fs
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// runContext runs streamstat with args and returns the exit code. Its
// counting runs stop early, with their final answer, when ctx is done.
func runContext(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, overview())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return runHelp(e, args[1:])
	case "version", "-version", "--version":
		fmt.Fprintln(e.stdout, version())
		return exitOK
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "streamstat: unknown command %q\nRun 'streamstat help' for usage.\n", args[0])
		return exitUsage
	}
	o := new(options)
	fs := c.newFlagSet(o)
	pos, err := parseArgs(fs, args[1:])
	if isHelp(err) {
		fmt.Fprint(e.stdout, c.fullHelp())
		return exitOK
	}
	if err != nil {
		return usage(e, c.name, flagError(c.name, fs, err))
	}
	if err := o.check(c.flags); err != nil {
		return usage(e, c.name, err)
	}
	if o.kafka.on() {
		return runKafka(ctx, e, c, o, fs, args[1:], pos)
	}
	if c.name == "merge" {
		// -k as top takes it; not given, the saved one.
		if set(fs, "k") && (o.k < 1 || o.k > 1<<20) {
			return usage(e, c.name, usagef("-k %d: must be in [1, %d]", o.k, 1<<20))
		}
		return runMerge(e, o, pos)
	}
	s, err := c.setup(e, o, pos)
	var ie *inputError
	if errors.As(err, &ie) {
		return fail(e, err)
	}
	if err != nil {
		return usage(e, c.name, err)
	}
	if err := e.checkStdin(s); err != nil {
		return usage(e, c.name, err)
	}
	if err := applyStructured(e, o, s); err != nil {
		if errors.As(err, &ie) {
			return fail(e, err)
		}
		return usage(e, c.name, err)
	}
	// A --save that cannot be written fails now, not after the input.
	if o.save != "" {
		if err := checkSavePath(o.save); err != nil {
			return fail(e, err)
		}
	}
	return runJob(ctx, e, s)
}

// usage reports a command-line error for subcommand name and returns 2.
func usage(e *env, name string, err error) int {
	c := findCommand(name)
	fmt.Fprintf(e.stderr, "streamstat: %s: %v\nusage: streamstat %s\nRun 'streamstat help %s' for details.\n", name, err, c.synopsis, name)
	return exitUsage
}

func runHelp(e *env, topics []string) int {
	if len(topics) == 0 {
		fmt.Fprint(e.stdout, overview()+"\n"+helpCommon)
		return exitOK
	}
	if len(topics) > 1 {
		fmt.Fprintln(e.stderr, "streamstat: help takes one subcommand\nRun 'streamstat help' for usage.")
		return exitUsage
	}
	c := findCommand(topics[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "streamstat: help: unknown command %q\nRun 'streamstat help' for usage.\n", topics[0])
		return exitUsage
	}
	fmt.Fprint(e.stdout, c.fullHelp())
	return exitOK
}

func overview() string {
	var b strings.Builder
	b.WriteString("streamstat answers questions about streams of lines in bounded memory,\nwith bounds on every estimate.\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  streamstat %-41s %s\n", c.synopsis, firstLine(c.help))
	}
	b.WriteString("  streamstat help [COMMAND]\n  streamstat version\n")
	return b.String()
}

// fullHelp is c's help: its own text, with the doc lines of the shared
// flags it takes in place of %FLAGS%, and a pointer to the general help.
func (c *command) fullHelp() string {
	return "usage: streamstat " + c.synopsis + "\n\n" + strings.Replace(c.help, "%FLAGS%\n", flagsHelp(c.flags)+"\n", 1) +
		"\n" + helpFooter
}

// set reports whether flag name was given.
func set(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// checkStdin refuses to wait on a terminal: a run that would read stdin
// while stdin is a terminal is, far more often than someone about to type
// lines, a command missing its FILE (or freq taking a file for a KEY).
func (e *env) checkStdin(s *spec) error {
	if len(s.args) > 0 && !slices.Contains(s.args, "-") {
		return nil
	}
	if !e.stdinTerminal {
		e.warnKeysNamingFiles(s)
		return nil
	}
	msg := "stdin is a terminal: give the input as FILE arguments, or pipe it in"
	if s.cmd == "freq" && len(s.opts.keys) == 0 && s.opts.keysFrom == "" {
		msg = "stdin is a terminal: give the input with -i FILE, or pipe it in"
		// Arguments that name files were most likely meant as input:
		// say how, with the others as --key.
		var keys, files []string
		for _, k := range s.opts.argKeys {
			if fi, err := os.Stat(k); err == nil && fi.Mode().IsRegular() {
				files = append(files, k)
			} else {
				keys = append(keys, "--key "+k)
			}
		}
		if len(files) > 0 {
			if len(keys) == 0 {
				keys = []string{"--key KEY"}
			}
			msg += fmt.Sprintf("; freq's arguments are KEYs, and %s is a file: to read it, streamstat freq %s %s",
				files[0], strings.Join(keys, " "), strings.Join(files, " "))
		}
	}
	return usagef("%s", msg)
}

// warnKeysNamingFiles warns, for freq reading stdin with its KEYs as
// arguments, of each KEY that names a file: it is counted as a key, as the
// syntax says, but was most likely meant as input (freq GET access.log).
func (e *env) warnKeysNamingFiles(s *spec) {
	if s.cmd != "freq" || len(s.opts.keys) > 0 || s.opts.keysFrom != "" {
		return
	}
	for _, k := range s.opts.argKeys {
		if fi, err := os.Stat(k); err == nil && fi.Mode().IsRegular() {
			var keys []string
			for _, o := range s.opts.argKeys {
				if o != k {
					keys = append(keys, "--key "+o)
				}
			}
			if len(keys) == 0 {
				keys = []string{"--key KEY"}
			}
			fmt.Fprintf(e.stderr, "streamstat: warning: freq: %s is counted as a KEY, though it names a file, which is not read: to read it, streamstat freq %s %s\n",
				k, strings.Join(keys, " "), k)
		}
	}
}

// version is the module version streamstat was built from, with the VCS
// revision when it was built from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "streamstat (unknown version)"
	}
	v := "streamstat " + bi.Main.Version
	if v == "streamstat " {
		v += "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (%.12s%s)", rev, modified)
	}
	return v + " " + bi.GoVersion
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
