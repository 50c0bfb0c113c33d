package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
)

// Grouped answers (issue 15): --by FIELD on distinct, top, freq and
// stats. Each record's group is one more field (a number, a column name
// with --header, a JSON path with --json); the key the job hashes is the
// composite (group, value), so that a record's hash is its pair's
// (sketch.PairHash), and stats keys by the group with -f as the number.

// byFlags are --by and the flags that only mean something with it.
type byFlags struct {
	spec   string // --by: the group's field, column or JSON path
	maxMem string // --max-memory as typed
	kGiven bool   // -k was given (on a command that takes -k only under --by)
	cmd    string // the subcommand

	maxBytes int64 // --max-memory parsed
}

// defaultMaxMemory is --max-memory's default: 1 GiB.
const defaultMaxMemory = "1GiB"

// on reports whether the answer is per group.
func (b *byFlags) on() bool { return b.spec != "" }

// kFlag is -k for the commands that take it only with --by: it notes
// that it was given, so that a -k without --by is an error, not ignored.
type kFlag struct {
	p   *int
	set *bool
}

func (v *kFlag) String() string {
	if v == nil || v.p == nil {
		return "10"
	}
	return strconv.Itoa(*v.p)
}

func (v *kFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("parse error")
	}
	*v.p, *v.set = int(n), true
	return nil
}

func (v *kFlag) Get() any { return *v.p }

// register adds --by (and -k where the command has none of its own, and
// --max-memory for distinct) to fs.
func (b *byFlags) register(fs *flag.FlagSet, name string, set flagSet, o *options) {
	b.cmd = name
	fs.Func("by", "", func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("want a field number, a column name with --header, or a JSON path with --json")
		}
		if strings.Contains(s, ",") {
			return errors.New("groups are one field: give one field, column or path")
		}
		b.spec = s
		return nil
	})
	if set&flagK == 0 {
		o.k = 10
		fs.Var(&kFlag{p: &o.k, set: &b.kGiven}, "k", "")
	}
	if name == "distinct" {
		b.maxMem = defaultMaxMemory
		fs.StringVar(&b.maxMem, "max-memory", defaultMaxMemory, "")
	}
}

// check validates the grouped flags (set: the command's flags).
func (b *byFlags) check(o *options, set flagSet) error {
	name := b.cmd
	if name == "distinct" {
		n, err := parseBytes(b.maxMem)
		if err != nil {
			return usagef("--max-memory %q: %v", b.maxMem, err)
		}
		b.maxBytes = n
	}
	if !b.on() {
		if b.kGiven {
			return usagef("-k %d: %s takes -k only with --by (the number of groups shown)", o.k, name)
		}
		if name == "distinct" && b.maxMem != defaultMaxMemory {
			return usagef("--max-memory needs --by and -k 0 (every group)")
		}
		return nil
	}
	if set&flagK == 0 {
		lo := 1
		if name == "distinct" {
			lo = 0 // every group
		}
		if o.k < lo || o.k > 1<<20 {
			return usagef("-k %d: must be in [%d, %d]", o.k, lo, 1<<20)
		}
	}
	if name == "distinct" && o.k > 0 && b.maxMem != defaultMaxMemory {
		return usagef("--max-memory caps -k 0 (every group); -k %d runs in fixed memory", o.k)
	}
	if o.shed.on {
		return usagef("--by and --shed: grouped answers are not estimated under shedding yet; drop --shed")
	}
	return nil
}

// parseBytes reads a size: a whole number of bytes, or one with a unit
// (KiB, MiB, GiB, TiB powers of 1024; KB, MB, GB, TB powers of 1000; B).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, errors.New("want a size such as 512MiB, 2GiB or 1000000")
	}
	mult := map[string]float64{"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("unit %q: use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)", unit)
	}
	n := v * m
	if n < 1<<20 || n > 1<<50 {
		return 0, errors.New("must be between 1MiB and 1PiB")
	}
	return int64(n), nil
}

// formatBytes shows a size in the largest binary unit that keeps it at
// or above 1.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%d B", n)
	case v >= 999.5:
		return fmt.Sprintf("%.0f %s", v, units[i]) // %.3g would write 1e+03
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}

// stateCmd is the subcommand a state file (--save) names: grouped states
// are another kind of state than the plain ones, so merge knows them
// apart ("distinct-by").
func stateCmd(s *spec) string {
	switch {
	case s.opts.by.on() && s.cmd == "distinct" && s.opts.k == 0:
		return "distinct-by-all" // every group: another sketch
	case s.opts.by.on():
		return s.cmd + "-by"
	}
	return s.cmd
}

// applyBy sets s's extractor for --by: the key is the composite (group,
// value) for distinct, top and freq, the group for stats (whose value is
// -f's number). It reads the input's header for column names.
func applyBy(e *env, o *options, s *spec) error {
	f := &o.st
	by := o.by.spec
	value := s.cmd == "stats"
	var (
		ex   pipeline.Extractor
		desc string
	)
	switch {
	case f.json != "" || f.valueJSON != "":
		if value {
			if f.valueJSON == "" {
				return usagef("stats --by with --json needs --value-json PATH, the numbers")
			}
			k, err := pipeline.NewJSONKey(f.valueJSON, by)
			if err != nil {
				return usagef("--by %s: %v", by, trimPipeline(err))
			}
			ex, f.parts = k, 1
			f.what = "--by " + by + " --value-json " + f.valueJSON
		} else {
			if strings.Contains(f.json, ",") {
				return usagef("--json %s with --by: the values are one path", f.json)
			}
			k, err := pipeline.NewJSONKey("", by, f.json)
			if err != nil {
				return usagef("--by %s --json %s: %v", by, f.json, trimPipeline(err))
			}
			ex, f.parts = k, 2
			f.what = "--by " + by + " --json " + f.json
		}
		desc = fmt.Sprintf("json by %q values %q", by, f.json+f.valueJSON)
	case f.csvMode():
		spec := keyColumnsSpec(o)
		var header []string
		if f.header && (needsNames(by) || (spec != "" && needsNames(spec))) {
			h, err := readHeaders(e, s.args, f.comma(o))
			if err != nil {
				return err
			}
			header = h
		}
		g, err := pipeline.ParseKeyColumns(by, header)
		if err != nil {
			return usagef("--by %s: %v", by, trimPipeline(err))
		}
		var v []int
		if spec != "" {
			if v, err = pipeline.ParseKeyColumns(spec, header); err != nil {
				return usagef("-f %s: %v", spec, trimPipeline(err))
			}
		}
		if len(v) != 1 {
			return usagef("--by with --csv needs -f with one column, the values")
		}
		var k *pipeline.CSVKey
		if value {
			k, err = pipeline.NewCSVKey(f.comma(o), f.header, v[0], g...)
			f.parts = 1
		} else {
			k, err = pipeline.NewCSVKey(f.comma(o), f.header, 0, g[0], v[0])
			f.parts = 2
		}
		if err != nil {
			return usagef("--by %s -f %s: %v", by, spec, trimPipeline(err))
		}
		ex = k
		desc = fmt.Sprintf("csv comma %q header %v by %q columns %q", f.comma(o), f.header, by, spec)
		f.what = "--csv --by " + by + " -f " + spec
	default:
		g, err := strconv.Atoi(by)
		if err != nil || g < 1 {
			return usagef("--by %s: a field number from 1 (column names need --csv --header, paths --json)", by)
		}
		if f.keySpec != "" {
			return usagef("-f %s with --by: the values are one field", f.keySpec)
		}
		var k *pipeline.FieldsKey
		if value {
			k, err = pipeline.NewFieldsKey(o.delim, o.field, g)
			f.parts = 1
		} else {
			k, err = pipeline.NewFieldsKey(o.delim, 0, g, o.field)
			f.parts = 2
		}
		if err != nil {
			return usagef("--by %s: %v", by, trimPipeline(err))
		}
		ex = k
		desc = fmt.Sprintf("fields by %d values %d delimiter %s", g, o.field, o.delim)
		f.what = fmt.Sprintf("--by %d -f %d -d %s", g, o.field, o.delim)
	}
	f.desc = desc
	s.line.Extract, s.line.Strict = ex, f.strict
	return nil
}
