package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// groupCases are the grouped answers of testdata/pages.txt (user, page,
// ms): each is run in every format, golden, and must give the same
// answer from a file with -j 2 and from stdin dealt in small chunks with
// -j 1 and -j 3 (grouped sketches are functions of what they saw, not of
// its order; stats' float sums are the exception, see skipOrder).
var groupCases = []struct {
	name string
	args []string
	// orderFree: the answer does not depend on how records are dealt
	// (false for stats, whose sums and KLL depend on merge order).
	orderFree bool
}{
	{"group_distinct", []string{"distinct", "-f", "1", "--by", "2", "-k", "5"}, true},
	{"group_distinct_sampled", []string{"distinct", "-f", "1", "--by", "2", "-k", "4", "--precision", "5"}, true},
	{"group_distinct_all", []string{"distinct", "-f", "1", "--by", "2", "-k", "0", "--precision", "6"}, true},
	{"group_stats", []string{"stats", "-f", "3", "--by", "2", "-k", "4"}, false},
	{"group_top", []string{"top", "-f", "1", "--by", "2", "-k", "3"}, true},
	{"group_top_small", []string{"top", "-f", "1", "--by", "2", "-k", "2", "--precision", "4"}, false},
	{"group_freq", []string{"freq", "-f", "1", "--by", "2", "-k", "3", "--key", "u1", "--key", "u7", "--key", "nobody"}, true},
}

func TestGroupGolden(t *testing.T) {
	file := filepath.Join("testdata", "pages.txt")
	for _, c := range groupCases {
		for _, format := range []string{"text", "json", "csv"} {
			t.Run(c.name+"_"+format, func(t *testing.T) {
				args := append(append([]string(nil), c.args...), "--format", format)
				run := func(o runOpts, extra ...string) string { t.Helper(); return runOut(t, o, args, extra...) }
				stdin := func() runOpts {
					return runOpts{stdin: strings.NewReader(readFile(t, file)), chunk: 16, buf: 7}
				}
				got := run(runOpts{}, file, "-j", "2")
				golden(t, c.name+"_"+format, got)
				if !c.orderFree {
					return
				}
				for _, j := range []string{"1", "3"} {
					if b := run(stdin(), "-j", j); b != got {
						t.Errorf("-j %s from stdin gives\n%s\nwant\n%s", j, b, got)
					}
				}
			})
		}
	}
}

// TestGroupStructured: --by selects the group as -f selects the key: a
// CSV column by name, a JSON path; the answers agree with the plain
// fields'.
func TestGroupStructured(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join("testdata", "pages.txt"))), "\n")
	var csv, js strings.Builder
	csv.WriteString("user,page,ms\n")
	for _, l := range lines {
		f := strings.Fields(l)
		csv.WriteString(strings.Join(f, ",") + "\n")
		js.WriteString(`{"user":"` + f[0] + `","req":{"page":"` + f[1] + `"},"ms":` + f[2] + "}\n")
	}
	dir := t.TempDir()
	csvPath, jsPath := filepath.Join(dir, "p.csv"), filepath.Join(dir, "p.json")
	if err := writeFile(csvPath, csv.String()); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(jsPath, js.String()); err != nil {
		t.Fatal(err)
	}
	plain, errOut, code := runIn(t, runOpts{}, "distinct", "-f", "1", "--by", "2", "-k", "5", "--format", "json", filepath.Join("testdata", "pages.txt"))
	if code != 0 {
		t.Fatalf("plain: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{
		{"--csv", "--header", "-f", "user", "--by", "page", csvPath},
		{"--csv", "--header", "-f", "1", "--by", "2", csvPath},
		{"--json", "user", "--by", "req.page", jsPath},
	} {
		all := append([]string{"distinct", "-k", "5", "--format", "json"}, args...)
		got, errOut, code := runIn(t, runOpts{}, all...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if got != plain {
			t.Errorf("%v gives\n%s\nplain fields give\n%s", args, got, plain)
		}
	}
}

// TestGroupUsage: what --by cannot do is a usage error that says why.
func TestGroupUsage(t *testing.T) {
	file := filepath.Join("testdata", "pages.txt")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"distinct", "-k", "3", file}, "-k only with --by"},
		{[]string{"distinct", "--by", "2", "-k", "-1", file}, "-k -1: must be in [0,"},
		{[]string{"distinct", "--by", "x", file}, "--by x: a field number"},
		{[]string{"distinct", "--by", "1,2", file}, "groups are one field"},
		{[]string{"distinct", "--by", "2", "--shed", file}, "--by and --shed"},
		{[]string{"distinct", "--max-memory", "2GiB", file}, "--max-memory needs --by"},
		{[]string{"distinct", "--by", "2", "-k", "0", "--max-memory", "12 parsecs", file}, "unit"},
		{[]string{"distinct", "--by", "2", "--precision", "30", file}, "--precision 30"},
	} {
		_, errOut, code := runIn(t, runOpts{}, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, exitUsage, c.want)
		}
	}
}

// TestGroupMerge: merged states of two parts answer as one run over
// both; a merge refuses plain distinct state with grouped.
func TestGroupMerge(t *testing.T) {
	dir := t.TempDir()
	lines := strings.SplitAfter(readFile(t, filepath.Join("testdata", "pages.txt")), "\n")
	partA, partB := strings.Join(lines[:150], ""), strings.Join(lines[150:], "")
	for _, args := range [][]string{
		{"distinct", "-f", "1", "--by", "2", "-k", "4"},
		{"distinct", "-f", "1", "--by", "2", "-k", "4", "--precision", "5"},
		{"distinct", "-f", "1", "--by", "2", "-k", "0", "--precision", "6"},
		{"stats", "-f", "3", "--by", "2", "-k", "4"},
		{"top", "-f", "1", "--by", "2", "-k", "3"},
		{"freq", "-f", "1", "--by", "2", "-k", "3", "--key", "u1", "--key", "u2"},
	} {
		name := strings.Join(args, "_")
		a := saved(t, dir, name+"a", partA, args...)
		b := saved(t, dir, name+"b", partB, args...)
		if head := strings.SplitN(readFile(t, a), "\n", 2)[0]; !strings.HasSuffix(head, args[0]+"-by") && !strings.HasSuffix(head, args[0]+"-by-all") {
			t.Errorf("state file header %q: want the grouped mode named", head)
		}
		// Stats' float sums differ in their last bits with the merge
		// order: compare its text, 6 digits.
		format := "json"
		if args[0] == "stats" {
			format = "text"
		}
		got, errOut, code := runIn(t, runOpts{}, "merge", "--format", format, a, b)
		if code != 0 {
			t.Fatalf("merge: exit %d: %s", code, errOut)
		}
		whole, _, _ := runIn(t, runOpts{stdin: strings.NewReader(partA + partB)}, append(args, "--format", format, "-j", "2")...)
		if got != whole {
			t.Errorf("%v: merge gives\n%s\none run gives\n%s", args, got, whole)
		}
	}
	plain := saved(t, dir, "plain", partA, "distinct", "-f", "1")
	grouped := saved(t, dir, "grouped", partB, "distinct", "-f", "1", "--by", "2")
	if _, errOut, code := runIn(t, runOpts{}, "merge", plain, grouped); code != exitFailure || !strings.Contains(errOut, "distinct-by state") {
		t.Errorf("merge of plain and grouped: exit %d, %q", code, errOut)
	}
}

// TestGroupAllMemoryLimit: -k 0 past --max-memory stops with exit 1 and
// a message naming -k N, the bounded alternative; never a partial list.
func TestGroupAllMemoryLimit(t *testing.T) {
	var b strings.Builder
	for i := range 40000 {
		fmt.Fprintf(&b, "u%d g%d\n", i%977, i)
	}
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(b.String())},
		"distinct", "-f", "1", "--by", "2", "-k", "0", "--max-memory", "1MiB", "-j", "1")
	if code != exitFailure || !strings.Contains(errOut, "-k N lists the N groups") || !strings.Contains(errOut, "--max-memory 1 MiB") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != "" {
		t.Fatalf("an answer was written past the cap:\n%s", out)
	}
	// Under the cap, the answer says how many groups and how much memory.
	out, errOut, code = runIn(t, runOpts{stdin: strings.NewReader(b.String())},
		"distinct", "-f", "1", "--by", "2", "-k", "0", "--max-memory", "64MiB", "-j", "1", "--format", "json")
	if code != 0 || !strings.Contains(out, `"group_count":40000`) || !strings.Contains(out, `"memory_bytes":`) {
		t.Fatalf("exit %d, stderr %q, out %.200s", code, errOut, out)
	}
}

// TestGroupResumeAfterInterrupt: grouped runs checkpoint and resume to
// the answer of an uninterrupted run (numbered's lines: "kA B", grouped
// by A).
func TestGroupResumeAfterInterrupt(t *testing.T) {
	data := numbered(40000, 977)
	half := middleLine(data)
	for _, args := range [][]string{
		{"distinct", "-f", "2", "--by", "1", "-k", "5", "--precision", "10"},
		{"distinct", "-f", "2", "--by", "1", "-k", "0", "--precision", "6"},
		{"top", "-f", "2", "--by", "1", "-k", "3", "--precision", "6"},
		{"freq", "-f", "2", "--by", "1", "-k", "3", "--key", "7", "--key", "8"},
		{"stats", "-f", "2", "--by", "1", "-k", "3"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args = append(args, "--format", "json", "-j", "2")
			checkResumed(t, data, half, args)
		})
	}
}

// TestGroupStatsLate: a group whose first records came while every
// counter was taken is shown admitted late, its count a range and its
// statistics over the records since.
func TestGroupStatsLate(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "/g%d 1\n", i)
	}
	for range 50 {
		b.WriteString("/hot 7\n")
	}
	in := b.String()
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "stats", "-f", "2", "--by", "1", "-k", "1", "-j", "1")
	if code != 0 || !strings.Contains(out, "/hot") || !strings.Contains(out, "*") || !strings.Contains(out, "admitted late") {
		t.Fatalf("exit %d, stderr %q, out:\n%s", code, errOut, out)
	}
	out, _, _ = runIn(t, runOpts{stdin: strings.NewReader(in)}, "stats", "-f", "2", "--by", "1", "-k", "1", "-j", "1", "--format", "json")
	if !strings.Contains(out, `"key":"/hot","count":51,"count_lower":50,"late":true,"mean":7`) {
		t.Fatalf("json: %s", out)
	}
}

// FuzzGroupStateBody: the grouped states' decoders (distinct-by,
// distinct-by-all, stats-by, top-by, freq-by) fail with a documented
// error or decode what re-encodes to the same bytes. They are fuzzed
// below the state file's checksum, which random bytes rarely pass.
func FuzzGroupStateBody(f *testing.F) {
	names := []string{"distinct-by", "distinct-by-all", "stats-by", "top-by", "freq-by"}
	dir := f.TempDir()
	raw, err := os.ReadFile(filepath.Join("testdata", "pages.txt"))
	if err != nil {
		f.Fatal(err)
	}
	input := string(raw)
	for i, args := range [][]string{
		{"distinct", "-f", "1", "--by", "2", "-k", "3", "--precision", "5"},
		{"distinct", "-f", "1", "--by", "2", "-k", "0", "--precision", "4"},
		{"stats", "-f", "3", "--by", "2", "-k", "2"},
		{"top", "-f", "1", "--by", "2", "-k", "2", "--precision", "4"},
		{"freq", "-f", "1", "--by", "2", "-k", "2", "--key", "u1", "--precision", "4"},
	} {
		path := filepath.Join(dir, names[i])
		e := defaultEnv(strings.NewReader(input), io.Discard, io.Discard)
		if code := runContext(f.Context(), append(args, "--save", path, "-j", "1"), e); code != 0 {
			f.Fatalf("%v: exit %d", args, code)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		_, _, body, err := decodeState(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), body)
		f.Add(uint8(i), body[:len(body)/2])
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		dec := decoders[names[int(which)%len(names)]]
		a, err := dec(body)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		again, err := a.appendState(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("decoded state re-encodes to other bytes")
		}
		a.result(counts{})
	})
}

// TestGroupStatsBadValues: stats --by says, as stats does, how many
// values were not numbers, and fails when none was.
func TestGroupStatsBadValues(t *testing.T) {
	_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a x\nb 2\n")}, "stats", "-f", "2", "--by", "1")
	if code != 0 || !strings.Contains(errOut, "1 of 2 values are not numbers") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runIn(t, runOpts{stdin: strings.NewReader("a x\nb y\n")}, "stats", "-f", "2", "--by", "1")
	if code != exitFailure || !strings.Contains(errOut, "none of the 2 values is a number") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
