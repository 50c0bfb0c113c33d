package main

import (
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// reFlagDoc finds the flags a help text documents: lines indented by two
// spaces that start with a flag ("  -f, --field N", "  --shed").
var reFlagDoc = regexp.MustCompile(`(?m)^  (-[a-z]), (--[a-z-]+)|^  (--?[a-z][a-z-]*)`)

// TestHelpListsFlagsTaken: `help CMD` documents every flag CMD accepts and
// no other (dedup takes no --interval, sample no -j), and is short.
func TestHelpListsFlagsTaken(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			out, _, code := runIn(t, runOpts{}, "help", c.name)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			golden(t, "help_"+c.name, out)
			var listed []string
			for _, m := range reFlagDoc.FindAllStringSubmatch(out, -1) {
				for _, f := range m[1:] {
					if f != "" {
						listed = append(listed, strings.TrimLeft(f, "-"))
					}
				}
			}
			var accepted []string
			c.newFlagSet(new(options)).VisitAll(func(f *flag.Flag) { accepted = append(accepted, f.Name) })
			slices.Sort(listed)
			listed = slices.Compact(listed)
			slices.Sort(accepted)
			if !slices.Equal(listed, accepted) {
				t.Errorf("help lists %q\nflags taken %q", listed, accepted)
			}
			// Every flag listed parses, with a value where it takes one.
			for _, name := range listed {
				arg := flagName(name)
				if v, ok := sampleValue[name]; ok {
					arg += "=" + v
				}
				if _, err := parseArgs(c.newFlagSet(new(options)), []string{arg}); err != nil {
					t.Errorf("%s %s: %v", c.name, arg, flagError(c.name, c.newFlagSet(new(options)), err))
				}
			}
			// 64: freq's 50 lines, the five of --window and the four of Kafka.
			if n := strings.Count(out, "\n"); n > 64 {
				t.Errorf("help %s is %d lines; keep it under 64 (the general help is `streamstat help`)", c.name, n)
			}
		})
	}
}

// sampleValue is a valid value for each flag that takes one.
var sampleValue = map[string]string{
	"f": "1", "field": "1", "d": ",", "delimiter": ",", "format": "json", "interval": "1s",
	"save": "x.state", "progress": "never", "j": "1", "jobs": "1", "checkpoint": "ckdir",
	"checkpoint-interval": "1s", "max-latency": "1s", "precision": "10", "k": "3", "seed": "2",
	"q": "0.5", "quantiles": "0.5", "capacity": "100", "fp-rate": "0.1", "i": "-", "input": "-",
	"key": "a", "keys-from": "keys.txt", "json": "user.id", "value-json": "ms", "http": "127.0.0.1:0",
	"window": "1m", "slide": "10s", "time-field": "1", "time-format": "unix", "lateness": "5s",
	"kafka-brokers": "127.0.0.1:9092", "kafka-topic": "t", "kafka-group": "g", "kafka-session": "5s",
	"by": "2", "max-memory": "512MiB",
}
