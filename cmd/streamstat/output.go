package main

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/streamstat/streamstat/pipeline"
)

// result is one answer, ready for each output format.
type result struct {
	// JSON is marshalled as one line (NDJSON when there are snapshots).
	JSON any
	// CSV is a header and rows.
	CSVHeader []string
	CSVRows   [][]string
	// Text is the answer aligned for people.
	Text string
	// Filter says the text is data, one key per line (sample's): a
	// partial answer is said on stderr only, never in it.
	Filter bool
}

// answer says which answer of a run a result is: a snapshot
// (--interval) or the final answer, and whether the input was read to
// its end.
type answer struct {
	final    bool
	complete bool
	time     time.Time
}

// errWriter remembers the first write error and drops every later write,
// so that output code can write freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// reporter writes results to stdout in the chosen format. Every answer
// says whether it is complete (json "complete", a csv column, a text
// line when it is not). With snapshots (--interval), each answer also
// says when it was taken and whether it is the final one: text answers
// start with a "snapshot N at TIME" or "final answer at TIME" line and
// are separated by blank lines; json ones add "snapshot" (0 for the
// final answer), "time" and "final"; csv rows start with the snapshot
// number ("final") and the time, after one header. It is safe for
// concurrent use.
type reporter struct {
	mu        sync.Mutex
	e         *env
	w         *errWriter
	format    string
	snapshots bool
	n         int
}

func newReporter(e *env, w io.Writer, format string, snapshots bool) *reporter {
	return &reporter{e: e, w: &errWriter{w: w}, format: format, snapshots: snapshots}
}

// snapshot writes r as a snapshot taken now.
func (p *reporter) snapshot(r result) error {
	return p.write(r, answer{time: p.e.now()})
}

// final writes r as the final answer; complete says the input was read
// to its end.
func (p *reporter) final(r result, complete bool) error {
	return p.write(r, answer{final: true, complete: complete, time: p.e.now()})
}

// timeFormat is the time of snapshots: RFC 3339 with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// write writes r and returns the first write error so far.
func (p *reporter) write(r result, a answer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf bytes.Buffer
	label := "final"
	if !a.final {
		label = strconv.Itoa(p.n + 1)
	}
	when := a.time.Format(timeFormat)
	switch p.format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.JSON); err != nil {
			return err
		}
		// The answer's object, with its place in the run added at the
		// end (every answer object has fields, so a comma goes first).
		b := bytes.TrimSuffix(buf.Bytes(), []byte("}\n"))
		b = fmt.Appendf(b, `,"complete":%t`, a.complete)
		if p.snapshots {
			n := 0
			if !a.final {
				n = p.n + 1
			}
			b = fmt.Appendf(b, `,"snapshot":%d,"time":%q,"final":%t`, n, when, a.final)
		}
		buf.Reset()
		buf.Write(append(b, "}\n"...))
	case "csv":
		cw := csv.NewWriter(&buf)
		if p.n == 0 {
			h := append(r.CSVHeader[:len(r.CSVHeader):len(r.CSVHeader)], "complete")
			if p.snapshots {
				h = append([]string{"snapshot", "time"}, h...)
			}
			cw.Write(h)
		}
		for _, row := range r.CSVRows {
			row = append(row[:len(row):len(row)], strconv.FormatBool(a.complete))
			if p.snapshots {
				row = append([]string{label, when}, row...)
			}
			cw.Write(row)
		}
		cw.Flush()
	default:
		if p.n > 0 {
			buf.WriteByte('\n')
		}
		if p.snapshots {
			if a.final {
				fmt.Fprintf(&buf, "final answer at %s\n", when)
			} else {
				fmt.Fprintf(&buf, "snapshot %s at %s\n", label, when)
			}
		}
		buf.WriteString(r.Text)
		if a.final && !a.complete && !r.Filter {
			buf.WriteString("partial answer: interrupted before the end of the input\n")
		}
	}
	p.n++
	// On a terminal, stdout and stderr share the screen: the progress
	// line is cleared first, or the answer would start at its end.
	p.e.onTerminal(func() { p.w.Write(buf.Bytes()) })
	return p.w.err
}

// notePartial says on stderr that the answer of an interrupted run covers
// only part of the input.
func notePartial(e *env, s *spec, c counts) {
	msg := fmt.Sprintf("streamstat: interrupted: the answer is partial, over the %d records read before the signal", c.Records)
	// (With --checkpoint, a line before this one says where --resume
	// goes on from.)
	if s.opts.save != "" {
		msg += fmt.Sprintf("; %s holds that partial state", s.opts.save)
	}
	fmt.Fprintln(e.stderr, msg)
}

// answerCheck writes the warnings of a final answer on stderr and
// returns the error of an answer that cannot be given, for the aggregates
// that have such (stats: bad values, or no numeric value at all).
func answerCheck(e *env, a aggregate, c counts) error {
	ch, ok := a.(interface {
		check(counts) (warning string, err error)
	})
	if !ok {
		return nil
	}
	w, err := ch.check(c)
	if w != "" {
		fmt.Fprintf(e.stderr, "streamstat: warning: %s\n", w)
	}
	return err
}

// err returns the first write error.
func (p *reporter) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w.err
}

// jfloat is a float64 that marshals NaN and infinities, which JSON lacks,
// as null.
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// fmtFloat formats a float for text and CSV: integers without a point,
// others with up to 6 significant digits in text, exactly in CSV.
func fmtFloat(v float64, exact bool) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case exact:
		// As JSON writes numbers: every digit, without an exponent
		// between 1e-6 and 1e21 (6710153, not 6.710153e+06).
		if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		// 1e-07 as 1e-7, as encoding/json writes it.
		s := strconv.FormatFloat(v, 'e', -1, 64)
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
		return s
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// jsonKey is a key in JSON: the key as a string and, when it is not valid
// UTF-8 (which JSON strings cannot carry), its bytes in base64 as well.
type jsonKey struct {
	Key    string `json:"key"`
	Base64 string `json:"key_base64,omitempty"`
	// Parts are a composite key's parts (-f 1,3, --json a,b); Key then
	// shows them as a tuple (pipeline.FormatTuple).
	Parts []string `json:"parts,omitempty"`
}

// newTupleJSONKey is the JSON of a composite key: the tuple's text and
// its parts (invalid UTF-8 replaced; the tuple's text shows every byte).
func newTupleJSONKey(k []byte) jsonKey {
	parts, ok := pipeline.SplitTuple(k)
	if !ok {
		return newJSONKey(k)
	}
	j := jsonKey{Key: pipeline.FormatTuple(k), Parts: make([]string, len(parts))}
	for i, p := range parts {
		j.Parts[i] = strings.ToValidUTF8(string(p), "\uFFFD")
	}
	return j
}

func newJSONKey(k []byte) jsonKey {
	if utf8.Valid(k) {
		return jsonKey{Key: string(k)}
	}
	return jsonKey{Key: strings.ToValidUTF8(string(k), "\uFFFD"), Base64: base64.StdEncoding.EncodeToString(k)}
}

// textKey shows a key to people: as it is when that is unambiguous,
// otherwise Go-quoted (empty keys, blanks at either end, control
// characters, invalid UTF-8), so every byte is visible.
func textKey(k []byte) string {
	s := string(k)
	if s == "" || s[0] == '"' || strings.TrimSpace(s) != s || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// table formats rows of cells as aligned columns: numbers right-aligned,
// the last column (keys) left-aligned and not padded.
type table struct {
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	if len(t.rows) == 0 {
		return ""
	}
	width := make([]int, len(t.rows[0]))
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			fmt.Fprintf(&b, "%*s  ", width[i], c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// kv formats label/value lines with the values aligned.
func kv(pairs ...string) string {
	w := 0
	for i := 0; i < len(pairs); i += 2 {
		w = max(w, len(pairs[i]))
	}
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "%-*s  %s\n", w, pairs[i], pairs[i+1])
	}
	return b.String()
}

// countsLine is the text footer every answer ends with.
func countsLine(c counts, bad bool) string {
	s := fmt.Sprintf("records %d, skipped %d", c.Records, c.Skipped)
	if bad {
		s += fmt.Sprintf(", bad values %d", c.Bad)
	}
	return s + fmt.Sprintf(", shed %d", c.Shed)
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

// roundCount rounds an estimated count for display: the value to the
// nearest integer, bounds outwards, so the shown interval still contains
// the one computed.
func roundCount(e float64) uint64 {
	if !(e > 0) {
		return 0
	}
	return uint64(math.Round(e))
}

func floorCount(e float64) uint64 {
	if !(e > 0) {
		return 0
	}
	return uint64(math.Floor(e))
}

func ceilCount(e float64) uint64 {
	if !(e > 0) {
		return 0
	}
	if e >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Ceil(e))
}
