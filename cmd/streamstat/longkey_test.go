package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Long keys in top (issue 11, item 21): kept as a prefix, counted as the
// whole key, shown marked as truncated; memory within a small multiple of
// the longest line.

// longKeyInput has three keys of 10000 bytes that share their first 5000
// (counts 5, 3, 1), a key of exactly topMaxKey bytes (2) and a short one
// (4).
func longKeyInput() (string, []string) {
	prefix := strings.Repeat("p", 5000)
	keys := []string{prefix + strings.Repeat("a", 5000), prefix + strings.Repeat("b", 5000), prefix + strings.Repeat("c", 5000),
		strings.Repeat("e", topMaxKey), "short"}
	var b strings.Builder
	for i, n := range []int{5, 3, 1, 2, 4} {
		for range n {
			b.WriteString(keys[i] + "\n")
		}
	}
	return b.String(), keys
}

// TestTopLongKeys: keys longer than topMaxKey are counted exactly as whole
// keys (three long keys with a common prefix stay three), shown as their
// first topMaxKey bytes marked truncated in every format, from a file and
// from stdin, and through --save and merge.
func TestTopLongKeys(t *testing.T) {
	input, keys := longKeyInput()
	dir := t.TempDir()
	path := filepath.Join(dir, "in")
	if err := os.WriteFile(path, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	for _, src := range []struct {
		name string
		o    runOpts
		args []string
	}{
		{"file", runOpts{}, []string{"-j", "2", "--save", state, path}},
		{"stdin", runOpts{stdin: strings.NewReader(input), chunk: 3000}, []string{"-j", "2"}},
		{"merge", runOpts{}, nil},
	} {
		t.Run(src.name, func(t *testing.T) {
			run := func(format string) string {
				args := append([]string{"top", "--format", format, "-k", "10"}, src.args...)
				if src.name == "merge" {
					args = []string{"merge", "--format", format, state}
				}
				out, errOut, code := runIn(t, src.o, args...)
				if code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, errOut)
				}
				if src.o.stdin != nil {
					src.o.stdin = strings.NewReader(input)
				}
				return out
			}
			var j struct {
				Items []struct {
					Key       string
					Count     uint64
					Truncated bool
					Length    int64
					XXH64     string
				}
			}
			if err := json.Unmarshal([]byte(run("json")), &j); err != nil {
				t.Fatal(err)
			}
			want := []struct {
				key   string
				count uint64
			}{{keys[0], 5}, {keys[4], 4}, {keys[1], 3}, {keys[3], 2}, {keys[2], 1}}
			if len(j.Items) != len(want) {
				t.Fatalf("%d items, want %d", len(j.Items), len(want))
			}
			hashes := map[string]bool{}
			for i, it := range j.Items {
				w := want[i]
				long := len(w.key) > topMaxKey
				if it.Count != w.count || it.Truncated != long || long && (it.Key != w.key[:topMaxKey] || it.Length != int64(len(w.key)) || len(it.XXH64) != 16) ||
					!long && (it.Key != w.key || it.Length != 0 || it.XXH64 != "") {
					t.Errorf("item %d: %.20q... (%d bytes) count %d truncated %v length %d xxh64 %q; want %.20q... count %d",
						i, it.Key, len(it.Key), it.Count, it.Truncated, it.Length, it.XXH64, w.key, w.count)
				}
				hashes[it.XXH64] = true
			}
			if len(hashes) != 4 { // three long keys and ""
				t.Errorf("xxh64 of the long keys not distinct: %v", hashes)
			}
			for _, format := range []string{"text", "csv"} {
				if n := strings.Count(run(format), "... (truncated: 10000 bytes, xxh64 "); n != 3 {
					t.Errorf("%s: %d keys marked truncated, want 3", format, n)
				}
			}
		})
	}
}

// TestTopMemoryLongLines: top's peak memory stays within a small multiple
// of the longest line, for one long line and for many distinct long lines
// (before the cap, with one worker: 9x and 24x; now 3x and 4x).
func TestTopMemoryLongLines(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 48 MB")
	}
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := peakRSS(t, "top", small)
	for _, tc := range []struct {
		name       string
		lines, len int
	}{
		{"one line of 32 MB", 1, 32 << 20},
		{"12 lines of 4 MB", 12, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "long")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.lines {
				f.Write(bytes.Repeat([]byte{byte('A' + i)}, tc.len))
				f.WriteString("\nshort\n")
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			for j := range 2 {
				j++
				rss := peakRSS(t, "top", "-j", fmt.Sprint(j), path)
				// Each worker may hold a long line: its read buffer
				// doubles up to it, and garbage collection lets the
				// heap grow to twice what is live.
				if limit := base + 6*int64(j*tc.len); rss > limit {
					t.Errorf("-j %d: peak %d MB, over %d MB (a run on a tiny file: %d MB, plus 6x the longest line per worker)", j, rss>>20, limit>>20, base>>20)
				}
				t.Logf("-j %d: peak %d MB, %d MB for a tiny file", j, rss>>20, base>>20)
			}
		})
	}
}

// hwmEnv, set in the environment of the test binary, makes it run
// streamstat with the arguments it holds (separated by US, 0x1f) instead of the
// tests, and write its peak resident memory to stderr (runHWM).
const hwmEnv = "STREAMSTAT_TEST_RUN_HWM"

func runReportingHWM(args []string) int {
	code := run(args, os.Stdin, io.Discard, os.Stderr)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 3
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Fprintf(os.Stderr, "\nvmhwm %s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return code
}

// peakRSS runs streamstat with args in a fresh process (the test binary,
// see hwmEnv) and returns its peak resident memory in bytes: the process's
// own VmHWM, which neither the test process's memory nor the rusage of a
// vforked child can blur.
func peakRSS(t *testing.T, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hwmEnv+"="+strings.Join(args, "\x1f"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, stderr.String())
	}
	_, v, ok := strings.Cut(stderr.String(), "\nvmhwm ")
	kib, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if !ok || err != nil {
		t.Skipf("no VmHWM here: %q", stderr.String())
	}
	return kib << 10
}
