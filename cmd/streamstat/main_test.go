package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runOpts tunes an in-process run.
type runOpts struct {
	stdin  io.Reader
	chunk  int64 // stream chunk size; 0: default
	buf    int   // stream read size; 0: default
	ticker chan time.Time
	ctx    context.Context
	stdout io.Writer
	stderr *syncBuffer // to watch stderr while the run goes on
	// stdinTTY makes stdin a terminal, as far as the run can tell;
	// stderrTTY, stderr.
	stdinTTY, stderrTTY bool
	now                 func() time.Time // the clock; nil: time.Now
}

// runIn runs streamstat in-process and returns stdout, stderr and the exit
// code.
func runIn(t *testing.T, o runOpts, args ...string) (string, string, int) {
	t.Helper()
	var out, errb syncBuffer
	if o.stdin == nil {
		o.stdin = strings.NewReader("")
	}
	var stdout io.Writer = &out
	if o.stdout != nil {
		stdout = o.stdout
	}
	var stderr io.Writer = &errb
	if o.stderr != nil {
		stderr = io.MultiWriter(&errb, o.stderr)
	}
	e := defaultEnv(o.stdin, stdout, stderr)
	e.chunkSize, e.bufSize = o.chunk, o.buf
	e.stdinTerminal, e.stderrTerminal = o.stdinTTY, o.stderrTTY
	if o.now != nil {
		e.now = o.now
	}
	if o.ticker != nil {
		e.newTicker = func(time.Duration) (<-chan time.Time, func()) { return o.ticker, func() {} }
	}
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := runContext(ctx, args, e)
	return out.String(), errb.String(), code
}

// syncBuffer is a bytes.Buffer safe for concurrent use: interval answers
// are written from another goroutine than the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGolden runs every subcommand in every format on the files in
// testdata, from a file and from stdin (the answers must agree).
func TestGolden(t *testing.T) {
	words, visits := filepath.Join("testdata", "words.txt"), filepath.Join("testdata", "visits.csv")
	cases := []struct {
		name string
		args []string
		file string // input file, passed as argument and as stdin
	}{
		{"distinct", []string{"distinct"}, words},
		{"distinct_field", []string{"distinct", "-f", "1", "-d", ","}, visits},
		{"top", []string{"top", "-k", "5"}, words},
		{"top_field", []string{"top", "-k", "3", "-f", "2", "-d", ","}, visits},
		{"freq", []string{"freq", "apple", "banana", "", "nope"}, words},
		{"sample", []string{"sample", "-k", "4"}, words},
		{"stats", []string{"stats", "-f", "3", "-d", ","}, visits},
		{"dedup", []string{"dedup"}, words},
		{"dedup_field", []string{"dedup", "-f", "1", "-d", ","}, visits},
	}
	for _, c := range cases {
		for _, format := range []string{"text", "json", "csv"} {
			t.Run(c.name+"_"+format, func(t *testing.T) {
				args := append(append([]string(nil), c.args...), "--format", format)
				fileArg := []string{c.file}
				if c.args[0] == "freq" {
					fileArg = []string{"-i", c.file}
				}
				// -j 2 where it applies, so the golden answers are the
				// same on every machine.
				jobs := func(j string) []string {
					if c.args[0] == "sample" || c.args[0] == "dedup" {
						return nil // always one worker
					}
					return []string{"-j", j}
				}
				run := func(o runOpts, extra ...string) string { t.Helper(); return runOut(t, o, args, extra...) }
				stdin := func() runOpts {
					return runOpts{stdin: strings.NewReader(readFile(t, c.file)), chunk: 16, buf: 7}
				}
				got := run(runOpts{}, append(fileArg, jobs("2")...)...)
				golden(t, c.name+"_"+format, got)
				// One worker sees every record in order, whether it
				// reads a file or a stream dealt in small chunks.
				if a, b := run(runOpts{}, append(fileArg, jobs("1")...)...), run(stdin(), jobs("1")...); a != b {
					t.Errorf("-j 1: stdin gives\n%s\nthe file gives\n%s", b, a)
				}
				// On these small inputs no sketch is full, so every
				// answer but the floating-point sums of stats is the
				// same however the records are dealt.
				if c.args[0] != "stats" {
					if b := run(stdin(), jobs("3")...); b != got {
						t.Errorf("-j 3 from stdin gives\n%s\nwant\n%s", b, got)
					}
				}
			})
		}
	}
}

// runOut runs streamstat with args and then extra, and returns its
// output, with its stderr after a "--- stderr" line if it wrote any; a
// failed run fails the test.
func runOut(t *testing.T, o runOpts, args []string, extra ...string) string {
	t.Helper()
	out, errOut, code := runIn(t, o, slices.Concat(args, extra)...)
	if code != 0 {
		t.Fatalf("%v: exit %d, stderr %q", extra, code, errOut)
	}
	if errOut != "" {
		out += "--- stderr\n" + errOut
	}
	return out
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }
