package main

import (
	"context"
	"fmt"
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
		{name: "distinct", synopsis: "distinct [flags] [FILE...]", flags: flagCounting | flagPrecision, help: helpDistinct,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupDistinct(o, a) }},
		{name: "top", synopsis: "top [-k N] [flags] [FILE...]", flags: flagCounting | flagPrecision | flagK, help: helpTop,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupTop(o, a) }},
		{name: "freq", synopsis: "freq [flags] KEY...", flags: flagCounting | flagPrecision | flagInFiles, help: helpFreq,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupFreq(o, a) }},
		{name: "sample", synopsis: "sample [-k N] [flags] [FILE...]", flags: flagCounting&^flagJobs | flagK | flagSeed, help: helpSample,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupSample(o, a) }},
		{name: "stats", synopsis: "stats -f N [flags] [FILE...]", flags: flagCounting | flagQuantiles, help: helpStats,
			setup: func(_ *env, o *options, a []string) (*spec, error) { return setupStats(o, a) }},
		{name: "dedup", synopsis: "dedup [flags] [FILE...]", flags: flagInput | flagSave | flagProgress | flagBloom, help: helpDedup,
			setup: setupDedup},
		{name: "merge", synopsis: "merge [--format F] [-k N] FILE...", flags: flagSave, help: helpMerge},
	}
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
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "streamstat: unknown command %q\nRun 'streamstat help' for usage.\n", args[0])
		return exitUsage
	}
	o := new(options)
	fs := newFlags(c.name, c.flags, o)
	if c.name == "merge" {
		fs.IntVar(&o.k, "k", 0, "")
	}
	pos, err := parseArgs(fs, args[1:])
	if isHelp(err) {
		fmt.Fprint(e.stdout, c.fullHelp())
		return exitOK
	}
	if err == nil {
		err = o.check(c.flags)
	}
	if err != nil {
		return usage(e, c.name, err)
	}
	if c.name == "merge" {
		if o.k < 0 {
			return usage(e, c.name, usagef("-k %d: must be at least 1", o.k))
		}
		return runMerge(e, o, pos)
	}
	s, err := c.setup(e, o, pos)
	if err != nil {
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
		fmt.Fprintf(&b, "  streamstat %-34s %s\n", c.synopsis, firstLine(c.help))
	}
	b.WriteString("  streamstat help [COMMAND]\n")
	return b.String()
}

func (c *command) fullHelp() string {
	return "usage: streamstat " + c.synopsis + "\n\n" + c.help
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
