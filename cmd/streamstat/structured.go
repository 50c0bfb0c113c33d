package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
)

// Structured input (issue 14): --json, --value-json, --csv, --tsv,
// --header, --strict, and -f naming several fields or, with --header,
// columns by name. Plain -f N -d X runs are not touched: they keep the
// LineSource's own field splitting.

// structFlags are the flags of structured input. The zero value means
// plain lines.
type structFlags struct {
	json      string // --json: key paths, comma-separated
	valueJSON string // --value-json: stats' numbers
	csv       bool
	tsv       bool
	header    bool
	strict    bool
	keySpec   string // -f when it is not one number: "1,3", "user,page"

	parts int      // parts of the key once resolved: more than 1 is a tuple
	desc  string   // the extractor, for --save and checkpoints; "" for plain lines
	what  string   // the key's flags as typed, for messages
	names []string // the header's column names, if read (always for dedup --header)

	// tupleKeys, if set (freq), turns the keys the command looks up into
	// composite keys of parts parts, once the key is known to have more
	// than one.
	tupleKeys func(parts int) error
}

// register adds the flags set takes to fs.
func (f *structFlags) register(fs *flag.FlagSet, set flagSet) {
	if set&flagStructured != 0 {
		fs.BoolVar(&f.csv, "csv", false, "")
		fs.BoolVar(&f.tsv, "tsv", false, "")
		fs.BoolVar(&f.header, "header", false, "")
		fs.BoolVar(&f.strict, "strict", false, "")
	}
	path := func(dst *string) func(string) error {
		return func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New("want a path such as user.id or /user/id")
			}
			*dst = s
			return nil
		}
	}
	if set&flagJSONKey != 0 {
		fs.Func("json", "", path(&f.json))
	}
	if set&flagValueJSON != 0 {
		fs.Func("value-json", "", path(&f.valueJSON))
	}
}

// fieldFlag is -f: one field number (the plain form, kept in *p) or, for
// structured input, a list of fields or column names (kept in *spec). It
// may be given once: -f 1 -f 7 is an error, not field 7.
type fieldFlag struct {
	p    *int
	spec *string
	set  bool
}

func (v *fieldFlag) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	if *v.spec != "" {
		return *v.spec
	}
	return strconv.Itoa(*v.p)
}

func (v *fieldFlag) Set(s string) error {
	if v.set {
		return errors.New("given twice: give the fields of a composite key as one list, -f 1,3")
	}
	v.set = true
	if n, err := strconv.ParseInt(s, 0, strconv.IntSize); err == nil {
		*v.p, *v.spec = int(n), ""
		return nil
	}
	if strings.TrimSpace(s) == "" {
		return errors.New("want a field number, a list such as 1,3, or column names with --header")
	}
	*v.p, *v.spec = 0, s
	return nil
}

func (v *fieldFlag) Get() any { return *v.p }

// csvMode reports whether records are CSV (--csv or --tsv).
func (f *structFlags) csvMode() bool { return f.csv || f.tsv }

// on reports whether the run needs an extractor rather than plain lines.
func (f *structFlags) on(o *options) bool {
	return f.json != "" || f.valueJSON != "" || f.csvMode() || f.strict || f.keySpec != ""
}

// check validates the combination of flags (set: the command's).
func (f *structFlags) check(o *options, set flagSet) error {
	if f.keySpec != "" && set&(flagStructured|flagJSONKey) == 0 {
		return usagef("-f %s: this command keys by one field number", f.keySpec)
	}
	if f.header && !f.csvMode() {
		return usagef("--header needs --csv or --tsv")
	}
	dGiven := o.delimStr != "ws"
	if f.json != "" || f.valueJSON != "" {
		which := "--json"
		if f.json == "" {
			which = "--value-json"
		}
		switch {
		case f.csvMode():
			return usagef("%s and --csv/--tsv: choose one format", which)
		case f.json != "" && (o.field != 0 || f.keySpec != ""):
			return usagef("--json and -f: --json PATH selects the key of a JSON line")
		case f.valueJSON != "" && (o.field != 0 || f.keySpec != ""):
			return usagef("--value-json and -f: --value-json PATH selects the numbers of a JSON line")
		case dGiven:
			return usagef("-d and %s: JSON lines have no delimiter", which)
		}
	}
	if f.tsv && dGiven && o.delimStr != `\t` && o.delimStr != "tab" {
		return usagef("--tsv and -d %s: --tsv means -d tab", o.delimStr)
	}
	if f.csvMode() && dGiven {
		if _, ok := o.delim.Byte(); !ok {
			return usagef("-d %s with --csv: CSV fields are separated by one byte", o.delimStr)
		}
	}
	if f.keySpec != "" && !f.header {
		if _, err := pipeline.ParseKeyColumns(f.keySpec, nil); err != nil {
			return usagef("-f %s: %v (column names need --csv --header)", f.keySpec, trimPipeline(err))
		}
	}
	return nil
}

// comma is the CSV delimiter.
func (f *structFlags) comma(o *options) byte {
	if f.tsv {
		return '\t'
	}
	if c, ok := o.delim.Byte(); ok {
		return c
	}
	return ','
}

// keyColumnsSpec is -f as ParseKeyColumns reads it, or "" for none.
func keyColumnsSpec(o *options) string {
	if o.st.keySpec != "" {
		return o.st.keySpec
	}
	if o.field > 0 {
		return strconv.Itoa(o.field)
	}
	return ""
}

// applyStructured gives s's LineConfig the extractor the structured flags
// ask for (keeping what the command set: MaxKeyLen), and notes in o how
// many parts its keys have. value says the command reads numbers (stats):
// its key is the value's field. With --header and column names, the
// header is read from the inputs (stdin's is read and replayed, since the
// job drops it again).
func applyStructured(e *env, o *options, s *spec) error {
	f := &o.st
	if o.by.on() {
		return applyBy(e, o, s)
	}
	if !f.on(o) {
		return nil
	}
	value := s.cmd == "stats"
	var (
		ex   pipeline.Extractor
		desc string
	)
	switch {
	case f.json != "" || f.valueJSON != "":
		paths := splitList(f.json)
		if value {
			if f.valueJSON == "" {
				return usagef("stats with --json needs --value-json PATH, the numbers")
			}
			paths = []string{f.valueJSON}
		}
		k, err := pipeline.NewJSONKey(f.valueJSON, paths...)
		if err != nil {
			return usagef("--json %s: %v", f.json+f.valueJSON, trimPipeline(err))
		}
		ex, f.parts = k, len(paths)
		desc = fmt.Sprintf("json %q", paths)
		f.what = "--json " + f.json
		if value {
			f.what = "--value-json " + f.valueJSON
		}
	case f.csvMode():
		spec := keyColumnsSpec(o)
		var header []string
		if f.header && (needsNames(spec) || s.cmd == "dedup") {
			// dedup writes the header in front of its records.
			h, err := readHeaders(e, s.args, f.comma(o))
			if err != nil {
				return err
			}
			header, f.names = h, h
		}
		var cols []int
		if spec != "" {
			c, err := pipeline.ParseKeyColumns(spec, header)
			if err != nil {
				return usagef("-f %s: %v", spec, trimPipeline(err))
			}
			cols = c
		}
		val := 0
		if value {
			if len(cols) != 1 {
				return usagef("stats needs -f with one column, the numbers")
			}
			val = cols[0]
		}
		k, err := pipeline.NewCSVKey(f.comma(o), f.header, val, cols...)
		if err != nil {
			return usagef("-f %s: %v", spec, trimPipeline(err))
		}
		ex, f.parts = k, max(len(cols), 1)
		desc = fmt.Sprintf("csv comma %q header %v columns %q", f.comma(o), f.header, spec)
		f.what = "--csv"
		if f.tsv {
			f.what = "--tsv"
		}
		if spec != "" {
			f.what += " -f " + spec
		}
	default:
		fields := []int{o.field}
		if f.keySpec != "" {
			c, err := pipeline.ParseKeyColumns(f.keySpec, nil)
			if err != nil {
				return usagef("-f %s: %v", f.keySpec, trimPipeline(err))
			}
			fields = c
		}
		val := 0
		if value {
			if len(fields) != 1 {
				return usagef("stats needs -f with one field, the numbers")
			}
			val = fields[0]
		}
		k, err := pipeline.NewFieldsKey(o.delim, val, fields...)
		if err != nil {
			return usagef("-f %s: %v", keyColumnsSpec(o), trimPipeline(err))
		}
		ex, f.parts = k, len(fields)
		if len(fields) > 1 {
			// One field (--strict): the keys of -f N, which the state
			// header records already.
			desc = fmt.Sprintf("fields %v delimiter %s", fields, o.delim)
		}
		f.what = fmt.Sprintf("-f %s -d %s", keyColumnsSpec(o), o.delim)
	}
	if f.parts > 1 && f.tupleKeys != nil {
		if err := f.tupleKeys(f.parts); err != nil {
			return err
		}
	}
	f.desc = desc
	if s.setExtract != nil {
		s.setExtract(ex)
		return nil
	}
	s.line.Extract, s.line.Strict = ex, f.strict
	return nil
}

// parseTupleKey reads a composite key of parts parts as freq's --key (or
// a KEY argument, or a line of --keys-from) gives it: as top and freq show
// one, "(a, b)" (each part plain or a Go-quoted string), or as its parts
// separated by commas, quoted as in CSV where a part holds a comma or a
// quote ("a,b", "x,\"1,5\""). It returns the key as the extractor makes
// it (pipeline.AppendTuplePart).
func parseTupleKey(k string, parts int) (string, error) {
	if t, ok := parseShownTuple(k); ok {
		if n, _ := pipeline.SplitTuple([]byte(t)); len(n) == parts {
			return t, nil
		}
	}
	fields, err := pipeline.ParseCSVRecord([]byte(k), ',')
	if err != nil || len(fields) != parts {
		got := "not a CSV record"
		if err == nil {
			got = fmt.Sprintf("%d part(s)", len(fields))
		}
		return "", usagef("key %q: %s; the key has %d parts: write them separated by commas (a,b; CSV quotes for a part holding a comma or quote: \"a,b\",c) or as a tuple, (a, b)", k, got, parts)
	}
	var t []byte
	for _, f := range fields {
		t = pipeline.AppendTuplePart(t, []byte(f))
	}
	return string(t), nil
}

// parseShownTuple reads a tuple as pipeline.FormatTuple shows it, and
// returns the composite key; false if k is not exactly such a tuple.
func parseShownTuple(k string) (string, bool) {
	if len(k) < 2 || k[0] != '(' || k[len(k)-1] != ')' {
		return "", false
	}
	rest := k[1 : len(k)-1]
	var t []byte
	for {
		var part string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return "", false
			}
			part, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			i := strings.Index(rest, ", ")
			if i < 0 {
				i = len(rest)
			}
			part, rest = rest[:i], rest[i:]
		}
		t = pipeline.AppendTuplePart(t, []byte(part))
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, ", ") {
			return "", false
		}
		rest = rest[2:]
	}
	// Only the exact form FormatTuple writes: "(a,b)" is not a tuple.
	if pipeline.FormatTuple(t) != k {
		return "", false
	}
	return string(t), true
}

// splitList splits a comma-separated list.
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// needsNames reports whether spec names a column (not only numbers).
func needsNames(spec string) bool {
	_, err := pipeline.ParseKeyColumns(spec, nil)
	return err != nil
}

// readHeaders returns the column names of the inputs: every file's header
// must be the same. Stdin's header is read here and put back in front of
// what is left of it.
func readHeaders(e *env, args []string, comma byte) ([]string, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	var first []string
	firstName := ""
	for _, a := range args {
		var (
			h   []string
			err error
		)
		if a == "-" {
			h, err = readStdinHeader(e, comma)
		} else {
			h, err = readFileHeader(a, comma)
		}
		if err != nil {
			return nil, err
		}
		if first == nil {
			first, firstName = h, a
			continue
		}
		if !slices.Equal(h, first) {
			return nil, &inputError{fmt.Errorf("--header: %s has other columns (%s) than %s (%s)", a, strings.Join(h, ","), firstName, strings.Join(first, ","))}
		}
	}
	return first, nil
}

func readFileHeader(path string, comma byte) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &inputError{cleanPathError(err)}
	}
	if !fi.Mode().IsRegular() {
		return nil, usagef("--header with column names: %s is not a regular file, whose header can be read first; give column numbers", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &inputError{cleanPathError(err)}
	}
	defer f.Close()
	h, err := pipeline.ReadCSVHeader(bufio.NewReader(f), comma)
	if err != nil {
		return nil, &inputError{fmt.Errorf("%s: header: %v", path, trimPipeline(err))}
	}
	return h, nil
}

// readStdinHeader reads stdin up to the end of its header record and
// replaces e.stdin by those bytes followed by the rest of stdin.
func readStdinHeader(e *env, comma byte) ([]string, error) {
	br := bufio.NewReader(e.stdin)
	ends := pipeline.NewRecordEnds(pipeline.FrameCSV)
	var raw []byte
	blank := true
	for {
		line, err := br.ReadSlice('\n')
		raw = append(raw, line...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if !errors.Is(err, io.EOF) {
				return nil, &inputError{fmt.Errorf("read stdin: %w", err)}
			}
			break
		}
		blank = blank && len(bytes.Trim(line, "\r\n")) == 0
		if ends.Next(line) >= 0 && !blank {
			break
		}
	}
	e.stdin = io.MultiReader(bytes.NewReader(raw), br)
	h, err := pipeline.ReadCSVHeader(bytes.NewReader(raw), comma)
	if err != nil {
		return nil, &inputError{fmt.Errorf("stdin: header: %v", trimPipeline(err))}
	}
	return h, nil
}

// markTuple makes a merged aggregate show its keys as tuples (their state
// file says they are composite).
func markTuple(a aggregate, on bool) {
	switch a := a.(type) {
	case *topAgg:
		a.tuple = on
	case *sampleAgg:
		a.tuple = on
	case *freqAgg:
		a.tuple = on
	}
}
