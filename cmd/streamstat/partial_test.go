package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// interrupted runs args on a stream that stops after its first 5000
// lines, and cancels the run (as SIGINT does) once some are counted.
func interrupted(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	g := newGatedReader(lines("k", 5000), "")
	defer close(g.gate)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ctx: ctx, stdout: &out, stderr: &errb}, args...)
		done <- code
	}()
	select {
	case <-g.reached:
	case code := <-done:
		t.Fatalf("%q: exit %d before reading its input: %s", args, code, errb.String())
	}
	time.Sleep(50 * time.Millisecond) // let the worker take what it can
	cancel()
	code = <-done
	return out.String(), errb.String(), code
}

// TestInterruptMarksPartial: an interrupted run's answer says it is
// partial, in every format, and so does stderr; a run read to the end
// says it is complete.
func TestInterruptMarksPartial(t *testing.T) {
	for _, c := range []struct {
		args    []string
		partial *regexp.Regexp
	}{
		{[]string{"top", "-k", "2", "--format", "json"}, regexp.MustCompile(`"complete":false}\n$`)},
		{[]string{"distinct", "--format", "json"}, regexp.MustCompile(`"complete":false}\n$`)},
		{[]string{"top", "-k", "2"}, regexp.MustCompile(`\npartial answer: interrupted before the end of the input\n$`)},
		{[]string{"stats", "-f", "2", "-d", "k"}, regexp.MustCompile(`\npartial answer: interrupted`)},
		{[]string{"top", "-k", "2", "--format", "csv"}, regexp.MustCompile(`,complete\n(.*,false\n)+$`)},
		{[]string{"sample", "-k", "3", "--format", "csv"}, regexp.MustCompile(`,complete\n(.*,false\n)+$`)},
		{[]string{"sample", "-k", "3"}, regexp.MustCompile(`^(k\d+\n){3}$`)}, // data: the note is on stderr only
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			args := c.args
			if args[0] != "sample" {
				args = append(args, "-j", "1")
			}
			out, errOut, code := interrupted(t, args...)
			if code != 0 || !c.partial.MatchString(out) {
				t.Errorf("exit %d, stdout %q; want it to match %q", code, out, c.partial)
			}
			if !strings.Contains(errOut, "streamstat: interrupted: the answer is partial, over the ") {
				t.Errorf("stderr %q does not say the answer is partial", errOut)
			}
			whole, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(lines("k", 500))}, args...)
			if code != 0 || errOut != "" || strings.Contains(whole, "partial") || strings.Contains(whole, `"complete":false`) || strings.Contains(whole, ",false\n") {
				t.Errorf("whole input: exit %d, stderr %q, stdout %q; want a complete answer", code, errOut, whole)
			}
		})
	}
}

// TestIntervalAnswersTimed: with --interval every snapshot carries its
// time and number, and the final answer says it is final (and complete).
func TestIntervalAnswersTimed(t *testing.T) {
	clock := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	for _, format := range []string{"json", "text", "csv"} {
		t.Run(format, func(t *testing.T) {
			g := newGatedReader(lines("a", 3000), "")
			tick := make(chan time.Time)
			var out syncBuffer
			done := make(chan int)
			go func() {
				_, _, code := runIn(t, runOpts{stdin: g, ticker: tick, stdout: &out, now: now},
					"top", "-k", "1", "--interval", "1s", "--format", format, "-j", "1")
				done <- code
			}()
			<-g.reached
			for n := 1; n <= 2; n++ {
				tick <- time.Now()
				waitFor(t, "a snapshot", func() bool { return strings.Count(out.String(), "\n") >= n })
				time.Sleep(time.Millisecond)
			}
			close(g.gate)
			if code := <-done; code != 0 {
				t.Fatalf("exit %d", code)
			}
			got := out.String()
			switch format {
			case "json":
				answers := strings.Split(strings.TrimSpace(got), "\n")
				for i, a := range answers {
					var j struct {
						Complete *bool
						Snapshot *int
						Time     string
						Final    *bool
					}
					if err := json.Unmarshal([]byte(a), &j); err != nil || j.Complete == nil || j.Snapshot == nil || j.Final == nil {
						t.Fatalf("answer %d: %v: %s", i, err, a)
					}
					last := i == len(answers)-1
					wantN := i + 1
					if last {
						wantN = 0
					}
					if *j.Final != last || *j.Complete != last || *j.Snapshot != wantN || j.Time != "2026-12-06T17:00:00.000Z" {
						t.Errorf("answer %d of %d: %s", i+1, len(answers), a)
					}
				}
			case "text":
				if !strings.HasPrefix(got, "snapshot 1 at 2026-12-06T17:00:00.000Z\n") ||
					!strings.Contains(got, "\n\nsnapshot 2 at 2026-12-06T17:00:00.000Z\n") ||
					!strings.Contains(got, "\n\nfinal answer at 2026-12-06T17:00:00.000Z\n") || strings.Contains(got, "partial") {
					t.Errorf("text answers:\n%s", got)
				}
			case "csv":
				rows := strings.Split(strings.TrimSpace(got), "\n")
				if len(rows) < 4 || !strings.HasPrefix(rows[0], "snapshot,time,") || !strings.HasPrefix(rows[1], "1,2026-12-06T17:00:00.000Z,") ||
					!strings.HasPrefix(rows[2], "2,2026-12-06T17:00:00.000Z,") || !strings.HasPrefix(rows[len(rows)-1], "final,2026-12-06T17:00:00.000Z,") {
					t.Errorf("csv answers:\n%s", got)
				}
			}
		})
	}
}

// screen renders what a terminal shows for out: \r returns to the start
// of the line, ESC [K erases to its end.
func screen(out string) []string {
	var rows []string
	line, col := []rune{}, 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '\r':
			col = 0
		case rs[i] == '\n':
			rows = append(rows, string(line))
			line, col = line[:0:0], 0
		case rs[i] == '\033' && i+2 < len(rs) && rs[i+1] == '[' && rs[i+2] == 'K':
			line = line[:col]
			i += 2
		default:
			if col < len(line) {
				line[col] = rs[i]
			} else {
				line = append(line, rs[i])
			}
			col++
		}
	}
	return append(rows, string(line))
}

// TestSnapshotClearsProgress: on a terminal, a snapshot is not glued to
// the end of the progress line (stdout and stderr share the screen).
func TestSnapshotClearsProgress(t *testing.T) {
	g := newGatedReader(lines("a", 3000), "")
	tick := make(chan time.Time)
	var term syncBuffer // stdout and stderr, as on one screen
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ticker: tick, stdout: &term, stderr: &term, stderrTTY: true},
			"distinct", "--interval", "1s", "--format", "json", "-j", "1")
		done <- code
	}()
	<-g.reached
	// The progress and the snapshots share the fake ticker: tick until
	// a snapshot follows a progress line.
	deadline := time.Now().Add(10 * time.Second)
	for !regexp.MustCompile(`(?s)records/s.*"distinct"`).MatchString(term.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot after a progress line:\n%q", term.String())
		}
		tick <- time.Now()
		time.Sleep(5 * time.Millisecond)
	}
	close(g.gate)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, row := range screen(term.String()) {
		if strings.Contains(row, "records/s") && strings.Contains(row, "{") {
			t.Errorf("a snapshot glued to the progress line: %q\nall output: %q", row, term.String())
		}
	}
}

// TestSignalMarksPartial: the real binary, sent SIGINT while reading a
// live stream, writes an answer marked partial and says so on stderr.
func TestSignalMarksPartial(t *testing.T) {
	cmd, sc, stderr := startLive(t, "top", "-k", "2", "--format", "json", "--interval", "20ms")
	for sc.Scan() { // snapshots, until one has counted records
		if !strings.Contains(sc.Text(), `"records":0,`) {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; stderr %q", err, stderr.String())
	}
	if !strings.Contains(last, `"complete":false,"snapshot":0,`) || !strings.Contains(last, `"final":true}`) {
		t.Errorf("final answer %q: want it final and not complete", last)
	}
	if !strings.Contains(stderr.String(), "streamstat: interrupted: the answer is partial") {
		t.Errorf("stderr %q does not say the answer is partial", stderr.String())
	}
}
