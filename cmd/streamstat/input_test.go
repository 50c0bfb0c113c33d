package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// topJSONOf runs top --format json and decodes the answer.
func topJSONOf(t *testing.T, o runOpts, args ...string) topJSON {
	t.Helper()
	out, errOut, code := runIn(t, o, append([]string{"top", "--format", "json", "-k", "100"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var j topJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return j
}

// counted returns key -> count from a top answer (key_base64 decoded; a
// truncated key as truncatedKey writes it).
func counted(t *testing.T, j topJSON) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, it := range j.Items {
		k := it.Key
		if it.Base64 != "" {
			b, err := base64Decode(it.Base64)
			if err != nil {
				t.Fatal(err)
			}
			k = string(b)
		}
		if it.Truncated {
			k = fmt.Sprintf("%s... (%d bytes, xxh64 %s)", k, it.Length, it.XXH64)
		}
		m[k] = it.Count
	}
	return m
}

// truncatedKey is how counted shows key if top truncates it.
func truncatedKey(key string) string {
	if len(key) <= topMaxKey {
		return key
	}
	return fmt.Sprintf("%s... (%d bytes, xxh64 %016x)", key[:topMaxKey], len(key), sketch.HashString(key))
}

// TestInputHandling checks each input case of the contract, from stdin
// (dealt to 2 workers in tiny chunks, read in odd sizes) and from a file.
func TestInputHandling(t *testing.T) {
	long := strings.Repeat("x", 3<<20) // longer than every buffer
	cases := []struct {
		name    string
		input   string
		args    []string
		want    map[string]uint64
		records uint64
		skipped uint64
	}{
		{"long lines", "a\n" + long + "\na\n" + long, nil, map[string]uint64{"a": 2, truncatedKey(long): 2}, 4, 0},
		{"crlf not part of the key", "a\r\nb\r\na\n", nil, map[string]uint64{"a": 2, "b": 1}, 3, 0},
		{"last line without newline", "a\nb\na", nil, map[string]uint64{"a": 2, "b": 1}, 3, 0},
		{"empty line is an empty key", "\n\na\n\n", nil, map[string]uint64{"": 3, "a": 1}, 4, 0},
		{"invalid utf-8 and nul kept byte for byte", "\xff\n\xfe\n\xff\na\x00b\na\x00b\nab\n", nil,
			map[string]uint64{"\xff": 2, "\xfe": 1, "a\x00b": 2, "ab": 1}, 6, 0},
		{"lone cr is part of the key", "a\rb\na\n", nil, map[string]uint64{"a\rb": 1, "a": 1}, 2, 0},
		{"missing field counted", "a 1\nb\nc 2\n\nd 1\n", []string{"-f", "2"}, map[string]uint64{"1": 2, "2": 1}, 5, 2},
		{"csv empty field is a key", "a,,b\na,x\nq\n", []string{"-f", "2", "-d", ","}, map[string]uint64{"": 1, "x": 1}, 3, 1},
		{"tab delimiter", "a\tb c\td\n", []string{"-f", "2", "-d", `\t`}, map[string]uint64{"b c": 1}, 1, 0},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "in"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(c.input), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, src := range []string{"stdin", "file"} {
				o := runOpts{stdin: strings.NewReader(c.input), chunk: 5, buf: 3}
				args := append([]string{"-j", "2"}, c.args...)
				if src == "file" {
					o, args = runOpts{}, append(args, path)
				}
				j := topJSONOf(t, o, args...)
				got := counted(t, j)
				if len(got) != len(c.want) {
					t.Errorf("%s: %d keys, want %d: %q", src, len(got), len(c.want), keysOf(got))
				}
				for k, n := range c.want {
					if got[k] != n {
						t.Errorf("%s: key %.20q: count %d, want %d", src, k, got[k], n)
					}
				}
				if j.Records != c.records || j.Skipped != c.skipped || j.Total != c.records-c.skipped {
					t.Errorf("%s: records %d skipped %d total %d, want %d %d %d", src, j.Records, j.Skipped, j.Total, c.records, c.skipped, c.records-c.skipped)
				}
			}
		})
	}
}

func keysOf(m map[string]uint64) []string {
	var ks []string
	for k := range m {
		if len(k) > 20 {
			k = k[:20] + "..."
		}
		ks = append(ks, k)
	}
	return ks
}

func TestMissingFieldWarning(t *testing.T) {
	_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a b\nc\n")}, "distinct", "-f", "2")
	if code != 0 || !strings.Contains(errOut, "1 of 2 lines have no field 2") {
		t.Errorf("exit %d, stderr %q: want a warning about the skipped line", code, errOut)
	}
}

func TestEmptyInput(t *testing.T) {
	for _, args := range [][]string{{"distinct"}, {"distinct", "-"}, {"distinct", "-j", "4"}} {
		out, errOut, code := runIn(t, runOpts{}, append(args, "--format", "json")...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if want := `{"distinct":0,"lower":0,"upper":0,"confidence":0.95,"exact":true,"records":0,"skipped":0,"shed":0,"precision":14,"complete":true}` + "\n"; out != want {
			t.Errorf("%v: %s, want %s", args, out, want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	for _, cmd := range [][]string{{"top"}, {"freq", "-i", empty, "a"}, {"sample"}, {"stats", "-f", "1"}, {"dedup"}} {
		args := cmd
		if cmd[0] != "freq" {
			args = append(args, empty)
		}
		if _, errOut, code := runIn(t, runOpts{}, args...); code != 0 {
			t.Errorf("%v on an empty file: exit %d, stderr %q", cmd, code, errOut)
		}
	}
}

func TestUnreadableInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("a\n"), 0o644)
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"distinct", good, filepath.Join(dir, "missing")}, "open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{[]string{"top", dir}, dir + ": is a directory"},
		{[]string{"freq", "-i", filepath.Join(dir, "missing"), "a"}, "no such file or directory"},
	}
	for _, c := range cases {
		out, errOut, code := runIn(t, runOpts{}, c.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "streamstat: ") || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and a message with %q", c.args, code, out, errOut, c.msg)
		}
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadErrorFails(t *testing.T) {
	r := &failingReader{data: "a\nb\n", err: os.ErrDeadlineExceeded}
	out, errOut, code := runIn(t, runOpts{stdin: r}, "distinct", "-j", "2")
	if code != 1 || out != "" || !strings.Contains(errOut, "stdin") || !strings.Contains(errOut, "timeout") {
		t.Errorf("exit %d, stdout %q, stderr %q: want exit 1 naming stdin and the error", code, out, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"distinct", "--format", "xml"},
		{"distinct", "--precision", "30"},
		{"distinct", "-f", "-1"},
		{"distinct", "-d", "ab"},
		{"distinct", "--nope"},
		{"top", "-k", "0"},
		{"freq"},
		{"stats"},
		{"sample", "-j", "2"},
		{"distinct", "--progress", "sometimes"},
		{"distinct", "--interval", "-1s"},
		{"merge"},
		{"help", "nope"},
		{"dedup", "--fp-rate", "2"},
		{"stats", "-f", "1", "-q", "1.5"},
	} {
		out, errOut, code := runIn(t, runOpts{}, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "streamstat") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and a message", args, code, out, errOut)
		}
	}
}

func TestHelp(t *testing.T) {
	out, _, code := runIn(t, runOpts{}, "help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	golden(t, "help", out)
	for _, c := range commands {
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}, {c.name, "--help"}} {
			out, errOut, code := runIn(t, runOpts{}, args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: streamstat "+c.name) {
				t.Errorf("%q: exit %d, stderr %q, stdout starts %.40q", args, code, errOut, out)
			}
		}
	}
}

// TestFlagsAfterFiles: flags may follow file arguments, until "--".
func TestFlagsAfterFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("a b\na c\n"), 0o644)
	j := topJSONOf(t, runOpts{}, path, "-f", "2")
	if len(j.Items) != 2 || j.Items[0].Key != "b" {
		t.Errorf("flags after the file were not applied: %+v", j)
	}
	dash := filepath.Join(dir, "-f")
	os.WriteFile(dash, []byte("x\n"), 0o644)
	if out, errOut, code := runIn(t, runOpts{}, "distinct", "--format", "csv", "--", dash); code != 0 || !strings.Contains(out, "\n1,") {
		t.Errorf("a file named -f after --: exit %d %q %q", code, out, errOut)
	}
}
