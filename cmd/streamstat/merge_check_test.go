package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergeRefusesDoubleCounts: the same state given twice (by any name,
// a hard link, a copy, or inside a merge) is refused: its counts would
// count twice.
func TestMergeRefusesDoubleCounts(t *testing.T) {
	dir := t.TempDir()
	a := saved(t, dir, "a", partA, "distinct")
	b := saved(t, dir, "b", partB, "distinct")
	ab := filepath.Join(dir, "ab.state")
	if _, errOut, code := runIn(t, runOpts{}, "merge", a, b, "--save", ab); code != 0 {
		t.Fatalf("merge a b: exit %d: %s", code, errOut)
	}
	link := filepath.Join(dir, "link.state")
	if err := os.Link(a, link); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "copy.state")
	os.WriteFile(cp, []byte(readFile(t, a)), 0o644)
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, a)
	for _, c := range []struct {
		name  string
		files []string
		msg   string
	}{
		{"same path", []string{a, a}, "are the same file"},
		{"another spelling", []string{a, b, rel}, "are the same file"},
		{"hard link", []string{a, link}, "are the same file"},
		{"copy", []string{a, cp}, "hold the same state"},
		{"merge and a part", []string{ab, a}, "holds a run already merged in (from " + ab},
		{"part and merge", []string{b, ab}, "holds a run already merged in (from " + b},
	} {
		out, errOut, code := runIn(t, runOpts{}, append([]string{"merge"}, c.files...)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "streamstat: merge: ") || !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.name, code, out, errOut, c.msg)
		}
	}
	// Two runs over the same input are two runs: merged, they count twice,
	// as asked.
	a2 := saved(t, dir, "a2", partA, "distinct")
	if out, errOut, code := runIn(t, runOpts{}, "merge", "--format", "csv", a, a2); code != 0 || !strings.Contains(out, ",8,0,0,") {
		t.Errorf("two runs over one input: exit %d, %q, %q", code, out, errOut)
	}
}

// TestMergeRefusesOtherKeys: states made with other key fields,
// delimiters or sketch shapes are refused; the delimiter of whole-line
// keys does not matter.
func TestMergeRefusesOtherKeys(t *testing.T) {
	dir := t.TempDir()
	in := "1,2,3 x\n4,5,6 y\n"
	cases := []struct {
		name string
		a, b []string
		msg  string // "" means the merge is fine
	}{
		{"other field", []string{"distinct", "-f", "1"}, []string{"distinct", "-f", "2"}, "made with keys of -f 2 -d ws, "},
		{"whole line and field", []string{"top"}, []string{"top", "-f", "1"}, "keys of whole lines"},
		{"other delimiter", []string{"freq", "a", "-f", "1", "-d", ","}, []string{"freq", "a", "-f", "1"}, "-f 1 -d ,"},
		{"stats other field", []string{"stats", "-f", "1", "-d", ","}, []string{"stats", "-f", "2", "-d", ","}, "they count different things"},
		{"dedup other field", []string{"dedup", "-f", "1"}, []string{"dedup"}, "they count different things"},
		{"other precision", []string{"distinct"}, []string{"distinct", "--precision", "10"}, "incompatible states"},
		{"other top capacity", []string{"top"}, []string{"top", "--precision", "5"}, "incompatible states"},
		{"other freq width", []string{"freq", "a"}, []string{"freq", "a", "--precision", "8"}, "incompatible states"},
		{"other sample k", []string{"sample", "-k", "3"}, []string{"sample", "-k", "4"}, "incompatible states"},
		{"whole lines, other delimiter", []string{"distinct", "-d", ","}, []string{"distinct"}, ""},
		{"same key", []string{"top", "-f", "2", "-d", ","}, []string{"top", "-d", ",", "--field", "2"}, ""},
	}
	for i, c := range cases {
		pa := saved(t, dir, "a"+string(rune('a'+i)), in, c.a...)
		pb := saved(t, dir, "b"+string(rune('a'+i)), in, c.b...)
		out, errOut, code := runIn(t, runOpts{}, "merge", pa, pb)
		if c.msg == "" {
			if code != 0 || errOut != "" {
				t.Errorf("%s: exit %d, stderr %q; want the merge", c.name, code, errOut)
			}
			continue
		}
		if code != 1 || out != "" || !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.name, code, out, errOut, c.msg)
		}
	}
}

// TestMergeOldStateFiles: version 1 state files (before the key and the
// runs were recorded) are still merged, with a warning that they cannot
// be checked; a copy of one is still refused.
func TestMergeOldStateFiles(t *testing.T) {
	dir := t.TempDir()
	v1 := func(name, input string, args ...string) string {
		data, err := os.ReadFile(saved(t, dir, name, input, args...))
		if err != nil {
			t.Fatal(err)
		}
		h, c, a, err := decodeAll(data)
		if err != nil {
			t.Fatal(err)
		}
		h.version = 1
		old, err := encodeState(h, c, a)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(old), "streamstat-state 1 top\n") {
			t.Fatalf("not a version 1 file: %.30q", old)
		}
		checkState(t, old) // decodes and re-encodes to the same bytes
		path := filepath.Join(dir, name+".v1")
		os.WriteFile(path, old, 0o644)
		return path
	}
	a, b := v1("a", partA, "top", "-k", "3"), v1("b", partB, "top", "-k", "3")
	out, errOut, code := runIn(t, runOpts{}, "merge", a, b, "--format", "csv")
	whole, _, _ := runIn(t, runOpts{stdin: strings.NewReader(partA + partB)}, "top", "-k", "3", "--format", "csv", "-j", "2")
	if code != 0 || out != whole || strings.Count(errOut, "written by an older streamstat") != 2 {
		t.Errorf("exit %d, stderr %q\n got %s\nwant %s", code, errOut, out, whole)
	}
	cp := filepath.Join(dir, "copy.v1")
	os.WriteFile(cp, []byte(readFile(t, a)), 0o644)
	if _, errOut, code := runIn(t, runOpts{}, "merge", a, cp); code != 1 || !strings.Contains(errOut, "hold the same state") {
		t.Errorf("a copy of a version 1 file: exit %d, stderr %q", code, errOut)
	}
}

// TestMergePartialState: a state saved by an interrupted run makes the
// merged answer partial.
func TestMergePartialState(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "part.state")
	_, errOut, code := interrupted(t, "top", "-k", "2", "-j", "1", "--save", part)
	if code != 0 || !strings.Contains(errOut, part+" holds that partial state") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	whole := saved(t, dir, "whole", partA, "top", "-k", "2")
	out, errOut, code := runIn(t, runOpts{}, "merge", "--format", "json", whole, part)
	if code != 0 || !strings.HasSuffix(out, `"complete":false}`+"\n") || !strings.Contains(errOut, "the answer is partial") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a partial answer", code, out, errOut)
	}
	out, _, _ = runIn(t, runOpts{}, "merge", "--format", "json", whole)
	if !strings.HasSuffix(out, `"complete":true}`+"\n") {
		t.Errorf("a complete state merged alone: %q", out)
	}
}
