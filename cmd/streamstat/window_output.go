package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Windowed output. Each window is one answer, written as it closes:
// text starts it with a "window [START, END)" line (blank lines between
// windows) and ends a partial one with a line saying why; json is one
// object per window (NDJSON), the command's answer with "start" and "end"
// first and "late" and "complete" last; csv has one header, then the
// command's rows, each with start and end first and late and complete
// last. Times are RFC 3339 in UTC, to the millisecond. In a window's
// answer, records counts the window's records; skipped and shed count
// none (a record without a key or time is in no window: the run's counts
// go to stderr); late counts the records the workers that answered the
// window had found late (event time) by the time it closed, since the
// start of the run (text says it when not 0).

// window writes one window's answer r, [start, end); a partial one
// (complete false) says why in text.
func (p *reporter) window(start, end time.Time, r result, late uint64, complete bool, why string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf bytes.Buffer
	from, to := start.Format(timeFormat), end.Format(timeFormat)
	switch p.format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(windowJSON(start, end, r.JSON, late, complete)); err != nil {
			return err
		}
	case "csv":
		cw := csv.NewWriter(&buf)
		if p.n == 0 {
			h := append([]string{"start", "end"}, r.CSVHeader...)
			cw.Write(append(h, "late", "complete"))
		}
		for _, row := range r.CSVRows {
			cw.Write(append(append([]string{from, to}, row...), u(late), strconv.FormatBool(complete)))
		}
		cw.Flush()
	default:
		if p.n > 0 {
			buf.WriteByte('\n')
		}
		fmt.Fprintf(&buf, "window [%s, %s)\n", from, to)
		buf.WriteString(r.Text)
		if late > 0 {
			fmt.Fprintf(&buf, "late records so far: %d (in no window)\n", late)
		}
		if !complete {
			fmt.Fprintf(&buf, "partial window: %s\n", why)
		}
	}
	p.n++
	p.e.onTerminal(func() { p.w.Write(buf.Bytes()) })
	return p.w.err
}

// windowAnswer is a window's answer in JSON: the command's answer object
// between the window's bounds, and the late records and whether it is
// complete.
type windowAnswer struct {
	start, end time.Time
	answer     any
	late       uint64
	complete   bool
}

func windowJSON(start, end time.Time, answer any, late uint64, complete bool) windowAnswer {
	return windowAnswer{start: start, end: end, answer: answer, late: late, complete: complete}
}

func (w windowAnswer) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w.answer); err != nil {
		return nil, err
	}
	inner := bytes.TrimSpace(buf.Bytes())
	if len(inner) < 2 || inner[0] != '{' {
		return nil, fmt.Errorf("window answer is not an object: %.20s", inner)
	}
	b := fmt.Appendf(nil, `{"start":%q,"end":%q`, w.start.Format(timeFormat), w.end.Format(timeFormat))
	if body := inner[1 : len(inner)-1]; len(bytes.TrimSpace(body)) > 0 {
		b = append(append(b, ','), body...)
	}
	return fmt.Appendf(b, `,"late":%d,"complete":%t}`, w.late, w.complete), nil
}
