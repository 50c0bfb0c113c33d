package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// saved runs a subcommand with --save on input and returns the state file.
func saved(t *testing.T, dir, name, input string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, name+".state")
	args = append(append([]string(nil), args...), "--save", path)
	if args[0] != "sample" && args[0] != "dedup" {
		args = append(args, "-j", "2")
	}
	_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(input), chunk: 8}, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return path
}

var mergeCases = []struct {
	name string
	args []string
}{
	{"distinct", []string{"distinct"}},
	{"top", []string{"top", "-k", "3"}},
	{"freq", []string{"freq", "apple", "fig", "zz"}},
	{"sample", []string{"sample", "-k", "100"}},
	{"stats", []string{"stats", "-f", "2"}},
	{"dedup", []string{"dedup", "--capacity", "1000"}},
}

const (
	partA = "apple 1\nbanana 2\napple 3\nfig 4\n"
	partB = "apple 5\ncherry x\nfig 7\nfig\nkiwi 9\n"
)

// TestMergeEqualsWhole: merging the states of two parts answers as one run
// over both would (these inputs fill no sketch, so exactly).
func TestMergeEqualsWhole(t *testing.T) {
	dir := t.TempDir()
	for _, c := range mergeCases {
		for _, format := range []string{"text", "json", "csv"} {
			t.Run(c.name+"_"+format, func(t *testing.T) {
				a := saved(t, dir, c.name+"a", partA, c.args...)
				b := saved(t, dir, c.name+"b", partB, c.args...)
				got, errOut, code := runIn(t, runOpts{}, "merge", "--format", format, a, b)
				if code != 0 {
					t.Fatalf("merge: exit %d: %s", code, errOut)
				}
				golden(t, "merge_"+c.name+"_"+format, got)
				if c.name == "sample" || c.name == "dedup" || c.name == "stats" {
					return // indexes, passed lines and float sums differ by design
				}
				args := append(append([]string(nil), c.args...), "--format", format, "-j", "2")
				whole, _, _ := runIn(t, runOpts{stdin: strings.NewReader(partA + partB)}, args...)
				if got != whole {
					t.Errorf("merge gives\n%s\none run gives\n%s", got, whole)
				}
			})
		}
	}
}

func TestMergeErrors(t *testing.T) {
	dir := t.TempDir()
	d := saved(t, dir, "d", partA, "distinct")
	top := saved(t, dir, "t", partA, "top")
	top2 := saved(t, dir, "t2", partA, "top", "--precision", "5")
	data, _ := os.ReadFile(d)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x10
	cases := []struct {
		name  string
		files []string
		msg   string
	}{
		{"missing", []string{filepath.Join(dir, "nope")}, "no such file"},
		{"not a state file", []string{write("text", []byte("hello\n"))}, "not a streamstat state file"},
		{"empty", []string{write("empty", nil)}, "not a streamstat state file"},
		{"truncated", []string{write("trunc", data[:len(data)-10])}, "damaged"},
		{"bit flipped", []string{write("flip", flipped)}, "damaged"},
		{"newer version", []string{write("ver", append([]byte("streamstat-state 9 distinct\n"), data[len("streamstat-state 1 distinct\n"):]...))}, "newer streamstat"},
		{"mixed subcommands", []string{d, top}, "holds top state"},
		{"incompatible shapes", []string{top, top2}, "incompatible"},
	}
	for _, c := range cases {
		out, errOut, code := runIn(t, runOpts{}, append([]string{"merge"}, c.files...)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "streamstat: merge: ") || !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.name, code, out, errOut, c.msg)
		}
	}
}

// TestStateCanonical: a state file decodes and re-encodes to the same
// bytes, and decoding rejects every prefix of it.
func TestStateCanonical(t *testing.T) {
	dir := t.TempDir()
	for _, c := range mergeCases {
		data, err := os.ReadFile(saved(t, dir, c.name, partA+partB, c.args...))
		if err != nil {
			t.Fatal(err)
		}
		checkState(t, data)
		step := max(1, len(data)/500)
		for n := 0; n < len(data); n += step {
			if _, _, _, err := decodeAll(data[:n]); err == nil {
				t.Errorf("%s: a %d-byte prefix of %d decoded", c.name, n, len(data))
			}
		}
	}
}

func decodeAll(data []byte) (stateHeader, counts, aggregate, error) {
	h, c, body, err := decodeState(data)
	if err != nil {
		return h, c, nil, err
	}
	dec, ok := decoders[h.cmd]
	if !ok {
		return h, c, nil, errNotState
	}
	a, err := dec(body)
	return h, c, a, err
}

// checkState asserts what every state file must satisfy: decoding fails
// with a documented error or succeeds and re-encodes to the same bytes.
func checkState(t *testing.T, data []byte) {
	h, c, a, err := decodeAll(data)
	if err != nil {
		if !errors.Is(err, errNotState) && !errors.Is(err, errStateVer) && !errors.Is(err, errStateCheck) && !envelope.IsDecodeError(err) {
			t.Fatalf("undocumented error: %v", err)
		}
		return
	}
	again, err := encodeState(h, c, a)
	if err != nil {
		t.Fatalf("re-encoding a decoded state: %v", err)
	}
	if !bytes.Equal(again, data) {
		i := 0
		for i < min(len(again), len(data)) && again[i] == data[i] {
			i++
		}
		t.Fatalf("%s state re-encodes to other bytes: from byte %d of %d: %q, was %q", h.cmd, i, len(data), again[i:min(i+12, len(again))], data[i:min(i+12, len(data))])
	}
}

func FuzzDecodeState(f *testing.F) {
	dir := f.TempDir()
	for _, c := range mergeCases {
		args := append(append([]string(nil), c.args...), "--save", filepath.Join(dir, c.name))
		e := defaultEnv(strings.NewReader(partA+partB), &bytes.Buffer{}, &bytes.Buffer{})
		if code := runContext(f.Context(), args, e); code != 0 {
			f.Fatalf("%v: exit %d", args, code)
		}
		data, err := os.ReadFile(filepath.Join(dir, c.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
		b := bytes.Clone(data)
		b[len(b)/3] ^= 1
		f.Add(b)
	}
	f.Add([]byte("streamstat-state 1 top\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkState(t, data)
	})
}
