package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Inputs that change underfoot (issue 11, items 7-9 and 12): files whose
// size says nothing, files replaced or truncated while read, FIFOs.

// withPlanned sets testHookPlanned for the test.
func withPlanned(t *testing.T, hook func()) {
	t.Helper()
	testHookPlanned = hook
	t.Cleanup(func() { testHookPlanned = nil })
}

// prefixed is n lines "prefix-i", i < 50: few keys, so that top lists
// them all.
func prefixed(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i%50)
	}
	return b.String()
}

// keyPrefixes returns the set of key prefixes (before '-') of a top answer.
func keyPrefixes(t *testing.T, j topJSON) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for k := range counted(t, j) {
		p, _, _ := strings.Cut(k, "-")
		m[p] = true
	}
	return m
}

// TestSizeZeroFileReadToEnd: a file that reports size 0 but holds bytes
// (/proc) or a made-up size (sysfs) is read to its end, as cat reads it.
func TestSizeZeroFileReadToEnd(t *testing.T) {
	for _, path := range []string{"/proc/self/limits", "/proc/cpuinfo", "/sys/class/net/lo/mtu"} {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil || len(data) == 0 {
				t.Skipf("no %s here (%v)", path, err)
			}
			want := uint64(strings.Count(string(data), "\n"))
			for _, cmd := range []string{"top", "distinct"} {
				out, errOut, code := runIn(t, runOpts{}, cmd, "--format", "json", "-j", "2", path)
				var j struct{ Records uint64 }
				if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.Records != want {
					t.Errorf("%s %s: exit %d, %s%s; want %d records", cmd, path, code, out, errOut, want)
				}
			}
		})
	}
}

// TestFIFOInput: a FIFO is read as a stream.
func TestFIFOInput(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		w.WriteString(prefixed("k", 3000))
		w.Close()
	}()
	j := topJSONOf(t, runOpts{}, "-j", "2", fifo)
	if j.Records != 3000 {
		t.Fatalf("records %d, want 3000", j.Records)
	}
}

// TestFIFOWithoutWriterStops: a run waiting for a FIFO's writer stops as
// soon as it is cancelled (the first SIGINT), with an answer for nothing.
func TestFIFOWithoutWriterStops(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	defer func() {
		// Release the open still waiting for a writer.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}()
	for _, args := range [][]string{
		{"distinct", fifo},
		{"top", "-j", "2", fifo},
		{"distinct", "--checkpoint", filepath.Join(t.TempDir(), "ckpt"), fifo},
	} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			type res struct {
				out, errOut string
				code        int
			}
			done := make(chan res, 1)
			go func() {
				out, errOut, code := runIn(t, runOpts{ctx: ctx}, args...)
				done <- res{out, errOut, code}
			}()
			time.Sleep(100 * time.Millisecond)
			cancel()
			select {
			case r := <-done:
				if r.code == exitUsage || !strings.Contains(r.out, "records") {
					t.Errorf("exit %d, stdout %q, stderr %q; want the answer for nothing read", r.code, r.out, r.errOut)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still waiting for the FIFO's writer 10 s after the cancel")
			}
		})
	}
}

// TestFileReplacedDuringRun: a file renamed over an input's path after the
// run opened it is not read; the answer is the opened file's, also for a
// second FILE argument.
func TestFileReplacedDuringRun(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	for _, f := range []struct{ path, data string }{{first, prefixed("first", 4000)}, {second, prefixed("second", 4000)}} {
		if err := os.WriteFile(f.path, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	withPlanned(t, func() {
		for _, path := range []string{first, second} {
			other := path + ".new"
			if err := os.WriteFile(other, []byte(prefixed("replacement", 9000)), 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Error(err)
			}
		}
	})
	for _, jobs := range []string{"1", "2"} {
		// Each run replaces the files again, so rewrite them first.
		os.WriteFile(first, []byte(prefixed("first", 4000)), 0o644)
		os.WriteFile(second, []byte(prefixed("second", 4000)), 0o644)
		j := topJSONOf(t, runOpts{}, "-j", jobs, first, second)
		if p := keyPrefixes(t, j); j.Records != 8000 || p["replacement"] || !p["first"] || !p["second"] {
			t.Errorf("-j %s: records %d, keys from %v; want 8000 from the files as opened", jobs, j.Records, p)
		}
	}
}

// TestFileTruncatedDuringRun: a file that ends before the size it had when
// opened fails the run (exit 1) with a message naming it.
func TestFileTruncatedDuringRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trunc.txt")
	data := prefixed("line", 20000)
	withPlanned(t, func() {
		if err := os.Truncate(path, int64(len(data)/3)); err != nil {
			t.Error(err)
		}
	})
	for _, args := range [][]string{{"distinct"}, {"top", "-j", "2"}, {"stats", "-f", "1", "-j", "1"}} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runIn(t, runOpts{}, append(args, path)...)
		if code != exitFailure || !strings.Contains(errOut, path+": the file shrank while being read") {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 1 naming the shrunk file", args, code, errOut, out)
		}
	}
}
