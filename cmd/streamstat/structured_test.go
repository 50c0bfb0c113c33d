package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// topCounts runs top with args (a k large enough to list every key, whose
// counts are then exact) and returns its counts by key, and its skipped.
func topCounts(t *testing.T, o runOpts, args ...string) (map[string]uint64, uint64) {
	t.Helper()
	args = append([]string{"top", "-k", "100000", "--format", "json"}, args...)
	out, errOut, code := runIn(t, o, args...)
	if code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, errOut)
	}
	var ans struct {
		Items []struct {
			Key        string   `json:"key"`
			Parts      []string `json:"parts"`
			Count      uint64   `json:"count"`
			Guaranteed bool     `json:"guaranteed"`
		} `json:"items"`
		Skipped uint64 `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil {
		t.Fatalf("%q: %v\n%s", args, err, out)
	}
	got := map[string]uint64{}
	for _, it := range ans.Items {
		k := it.Key
		if it.Parts != nil {
			k = strings.Join(it.Parts, "\x00")
		}
		got[k] = it.Count
	}
	return got, ans.Skipped
}

// quotedCSV returns a CSV file with a header (id,name,city,name) whose
// fields hold commas, doubled quotes, CRLFs and newlines, and the truth:
// the count of each value of the first "name" column, and of each
// (name, city) pair, as encoding/csv reads the file.
func quotedCSV(t *testing.T, n int) (string, map[string]uint64, map[string]uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(14, 1))
	var b strings.Builder
	b.WriteString("id,name,city,name\r\n")
	names := []string{"plain", "a,b", "say \"hi\"", "two\nlines", "crlf\r\ninside", "", " spaced ", "x"}
	cities := []string{"Oslo", "New York, NY", "\"Q\""}
	w := csv.NewWriter(&b)
	for i := range n {
		rec := []string{fmt.Sprint(i), names[rng.IntN(len(names))], cities[rng.IntN(len(cities))], "other"}
		w.UseCRLF = rng.IntN(2) == 0
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			w.Flush()
			b.WriteString("\n") // a blank line is no record
		}
	}
	w.Flush()
	data := b.String()
	recs, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byName, byPair := map[string]uint64{}, map[string]uint64{}
	for _, r := range recs[1:] {
		byName[r[1]]++
		byPair[r[1]+"\x00"+r[2]]++
	}
	return data, byName, byPair
}

// TestStructuredCSVHeaderParallel: --csv --header -f NAME over quoted
// fields with commas, quotes and newlines gives the counts encoding/csv
// gives, from a file at -j 1 and -j 4 and from stdin dealt in small
// chunks to 3 workers: a cut inside a quoted field would split records.
func TestStructuredCSVHeaderParallel(t *testing.T) {
	data, byName, byPair := quotedCSV(t, 3000)
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := writeFile(path, data); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    runOpts
		args []string
		want map[string]uint64
	}{
		{"file -j 1", runOpts{}, []string{"--csv", "--header", "-f", "name", "-j", "1", path}, byName},
		{"file -j 4", runOpts{}, []string{"--csv", "--header", "-f", "name", "-j", "4", path}, byName},
		{"file -j 4 name[1] by number", runOpts{}, []string{"--csv", "-f", "2", "-j", "4", path}, nil},
		{"stdin -j 3", runOpts{stdin: strings.NewReader(data), chunk: 100, buf: 7}, []string{"--csv", "--header", "-f", "name", "-j", "3"}, byName},
		{"composite file -j 4", runOpts{}, []string{"--csv", "--header", "-f", "name,city", "-j", "4", path}, byPair},
		{"composite stdin -j 2", runOpts{stdin: strings.NewReader(data), chunk: 64}, []string{"--csv", "--header", "-f", "name,city", "-j", "2"}, byPair},
		// --header with a column number: the job drops the header itself.
		{"header by number stdin -j 2", runOpts{stdin: strings.NewReader(data), chunk: 80}, []string{"--csv", "--header", "-f", "2", "-j", "2"}, byName},
	}
	for j := 1; j <= 8; j++ {
		cases = append(cases, struct {
			name string
			o    runOpts
			args []string
			want map[string]uint64
		}{fmt.Sprintf("file -j %d of 1..8", j), runOpts{}, []string{"--csv", "--header", "-f", "name", "-j", fmt.Sprint(j), path}, byName})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped := topCounts(t, tc.o, tc.args...)
			want := tc.want
			if want == nil {
				// Without --header the header is a record like any other.
				want = maps.Clone(byName)
				want["name"]++
			}
			if skipped != 0 {
				t.Errorf("skipped %d, want 0", skipped)
			}
			if !maps.Equal(got, want) {
				t.Errorf("counts differ from encoding/csv's:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestStructuredJSON: --json keys JSON lines by a path; lines that are
// not JSON, lack the path or hold null there are skipped and counted, and
// with --strict the first is an error naming its record and offset.
func TestStructuredJSON(t *testing.T) {
	lines := []string{
		`{"user":{"id":"ann"},"ms":3}`,
		`{"user":{"id":"bob"},"ms":4}`,
		`not json`,
		`{"user":{"id":"ann"},"ms":5}`,
		`{"user":{}}`,
		`{"user":{"id":null}}`,
		`{"user":{"id":7}}`,
		`{"user":{"id":"a\"b"}}`,
	}
	in := strings.Join(lines, "\n") + "\n"
	got, skipped := topCounts(t, runOpts{stdin: strings.NewReader(in)}, "--json", "user.id")
	want := map[string]uint64{"ann": 2, "bob": 1, "7": 1, `a"b`: 1}
	if !maps.Equal(got, want) || skipped != 3 {
		t.Errorf("got %v skipped %d, want %v skipped 3", got, skipped, want)
	}
	// The pointer form reads the same.
	if got, _ := topCounts(t, runOpts{stdin: strings.NewReader(in)}, "--json", "/user/id"); !maps.Equal(got, want) {
		t.Errorf("--json /user/id: got %v, want %v", got, want)
	}
	_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "distinct", "--json", "user.id", "--strict", "-j", "1")
	off := len(lines[0]) + len(lines[1]) + 2
	if wantMsg := fmt.Sprintf("record 3 at offset %d", off); code != exitFailure || !strings.Contains(errOut, wantMsg) {
		t.Errorf("--strict: exit %d, stderr %q; want exit 1 and %q", code, errOut, wantMsg)
	}
	_, errOut, code = runIn(t, runOpts{stdin: strings.NewReader(in)}, "distinct", "--json", "user.id")
	if code != 0 || !strings.Contains(errOut, "3 of 8 records have no key (--json user.id)") {
		t.Errorf("skipped warning: exit %d, stderr %q", code, errOut)
	}
	// stats reads its numbers with --value-json.
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "stats", "--value-json", "ms", "--format", "json")
	var st struct {
		Count   uint64  `json:"count"`
		Mean    float64 `json:"mean"`
		Skipped uint64  `json:"skipped"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Count != 3 || st.Mean != 4 || st.Skipped != 5 {
		t.Errorf("stats --value-json ms: exit %d, %s %s; want count 3, mean 4, skipped 5", code, out, errOut)
	}
}

// TestStructuredComposite: -f 1,3 makes a key of two fields, shown as a
// tuple in text and csv and as parts in json; tuples that would join to
// the same string stay apart.
func TestStructuredComposite(t *testing.T) {
	in := "a x b\na y b\nc x d\na z b\nab x c\n"
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "top", "-f", "1,3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"3         yes  (a, b)", "(c, d)", "(ab, c)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text answer lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runIn(t, runOpts{stdin: strings.NewReader(in)}, "top", "-f", "1,3", "--format", "csv")
	if !strings.Contains(out, `1,"(a, b)",3,`) {
		t.Errorf("csv answer lacks the tuple (a, b):\n%s", out)
	}
	got, _ := topCounts(t, runOpts{stdin: strings.NewReader(in)}, "-f", "1,3")
	want := map[string]uint64{"a\x00b": 3, "c\x00d": 1, "ab\x00c": 1}
	if !maps.Equal(got, want) {
		t.Errorf("json parts: got %v, want %v", got, want)
	}
	// JSON paths, several: a composite key too.
	got, _ = topCounts(t, runOpts{stdin: strings.NewReader("{\"a\":\"1\",\"b\":2}\n{\"a\":1,\"b\":\"2\"}\n")}, "--json", "a,b")
	if want := map[string]uint64{"1\x002": 2}; !maps.Equal(got, want) {
		t.Errorf("--json a,b: got %v, want %v", got, want)
	}
}

// TestStructuredUsage: combinations that make no sense are usage errors.
func TestStructuredUsage(t *testing.T) {
	for _, args := range [][]string{
		{"top", "-f", "name"},             // a name needs --header
		{"top", "--csv", "-f", "name"},    // idem
		{"top", "--header"},               // --header needs --csv
		{"top", "--json", "a", "--csv"},   // one format
		{"top", "--json", "a", "-f", "2"}, // --json is the key
		{"top", "--json", "a", "-d", ","}, // JSON has no delimiter
		{"freq", "-f", "1,2", "k"},        // freq: one part
		{"stats", "--csv", "-f", "1,2"},   // stats: one column
		{"stats", "--value-json", "a..b"}, // a bad path
		{"distinct", "--json", ""},        // an empty path
	} {
		_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a\n")}, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errOut)
		}
	}
}

// TestStructuredMergeKeys: a state saved with structured keys records
// them: merge refuses states of other keys (other paths, columns, or
// plain lines), merges states of the same keys, and shows composite keys
// as tuples.
func TestStructuredMergeKeys(t *testing.T) {
	dir := t.TempDir()
	in := "{\"a\":\"x\",\"b\":\"y\"}\n{\"a\":\"x\",\"b\":\"z\"}\n"
	save := func(name string, args ...string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		args = append(append([]string{"top", "--save", path}, args...), "--format", "json")
		if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		return path
	}
	ab1, ab2 := save("ab1", "--json", "a,b"), save("ab2", "--json", "a,b")
	a, ba := save("a", "--json", "a"), save("ba", "--json", "b,a")
	plain := save("plain")
	for _, pair := range [][2]string{{ab1, a}, {ab1, ba}, {a, plain}, {plain, a}} {
		_, errOut, code := runIn(t, runOpts{}, "merge", pair[0], pair[1])
		if code != exitFailure || !strings.Contains(errOut, "count different things") {
			t.Errorf("merge %s %s: exit %d, stderr %q; want a refusal", filepath.Base(pair[0]), filepath.Base(pair[1]), code, errOut)
		}
	}
	out, errOut, code := runIn(t, runOpts{}, "merge", ab1, ab2)
	if code != 0 || !strings.Contains(out, "2         yes  (x, y)") {
		t.Errorf("merge of like states: exit %d, %s\n%s", code, errOut, out)
	}
}

// TestStructuredStrictOffset: --strict names the bad record's byte offset
// in its input exactly at every -j, from a file cut into ranges and from
// stdin dealt in small chunks (where a worker's view of the stream has its
// own offsets); the record number, which counts a worker's share, is given
// with -j 1 only.
func TestStructuredStrictOffset(t *testing.T) {
	var b strings.Builder
	bad := 0
	for i := range 3000 {
		if i == 2222 {
			bad = b.Len()
			b.WriteString("{\"user\":\n")
			continue
		}
		fmt.Fprintf(&b, "{\"user\":{\"id\":\"u%d\"},\"pad\":%q}\n", i%40, strings.Repeat("x", i%13))
	}
	data := b.String()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := writeFile(path, data); err != nil {
		t.Fatal(err)
	}
	runStrictOffset(t, data, []string{"--json", "user.id", "--strict"}, []strictCase{
		{"file -j 1", runOpts{}, []string{"-j", "1", path}, fmt.Sprintf("record 2223 at offset %d:", bad)},
		{"file -j 4", runOpts{}, []string{"-j", "4", path}, fmt.Sprintf("record at offset %d:", bad)},
		{"stdin -j 1", runOpts{stdin: strings.NewReader(data), chunk: 300}, []string{"-j", "1"}, fmt.Sprintf("record 2223 at offset %d:", bad)},
		{"stdin -j 3", runOpts{stdin: strings.NewReader(data), chunk: 300, buf: 100}, []string{"-j", "3"}, fmt.Sprintf("record at offset %d:", bad)},
	})
}

// strictCase is one way of reading a --strict test's input, and the
// message wanted.
type strictCase struct {
	name string
	o    runOpts
	args []string
	want string
}

// runStrictOffset runs distinct and top (dynamic and static dealing) with
// flags and each case's args on data, and wants exit 1 and the case's
// message.
func runStrictOffset(t *testing.T, data string, flags []string, cases []strictCase) {
	t.Helper()
	for _, tc := range cases {
		for _, cmd := range []string{"distinct", "top"} {
			args := append(append([]string{cmd}, flags...), tc.args...)
			o := tc.o
			if o.stdin != nil {
				o.stdin = strings.NewReader(data)
			}
			_, errOut, code := runIn(t, o, args...)
			if code != exitFailure || !strings.Contains(errOut, tc.want) {
				t.Errorf("%s %s: exit %d, stderr %q; want exit 1 and %q", tc.name, cmd, code, errOut, tc.want)
			}
		}
	}
}

// TestStructuredDedup: dedup keys lines by a JSON path or by several
// fields, and passes the whole lines.
func TestStructuredDedup(t *testing.T) {
	in := "{\"u\":1,\"v\":\"a\"}\n{\"u\":2, \"v\":\"a\"}\n{\"u\":1,\"v\":\"b\"}\nbad\n{\"v\":\"a\",\"u\":1}\n"
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "dedup", "--json", "u,v", "--format", "json")
	if want := "{\"u\":1,\"v\":\"a\"}\n{\"u\":2, \"v\":\"a\"}\n{\"u\":1,\"v\":\"b\"}\n"; code != 0 || out != want || !strings.Contains(errOut, `"skipped":1`) {
		t.Errorf("dedup --json u,v: exit %d, stdout %q, stderr %q; want %q and skipped 1", code, out, errOut, want)
	}
	out, _, code = runIn(t, runOpts{stdin: strings.NewReader("a x b\na y b\nc x d\nab x c\n")}, "dedup", "-f", "1,3")
	if want := "a x b\nc x d\nab x c\n"; code != 0 || out != want {
		t.Errorf("dedup -f 1,3: exit %d, stdout %q, want %q", code, out, want)
	}
}

// TestStrictOffsetCSVHeader: --strict names a broken CSV record by its
// offset in the input, the header counted, however the input is read:
// stdin with one worker (whose view of the stream starts after the
// header, which the stream drops) included.
func TestStrictOffsetCSVHeader(t *testing.T) {
	var b strings.Builder
	b.WriteString("user,page\n")
	bad := 0
	for i := range 2000 {
		if i == 1500 {
			bad = b.Len()
			b.WriteString("u1,/x\"y\n")
			continue
		}
		fmt.Fprintf(&b, "u%d,\"/p,%d\"\n", i%40, i%7)
	}
	data := b.String()
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := writeFile(path, data); err != nil {
		t.Fatal(err)
	}
	runStrictOffset(t, data, []string{"--csv", "--header", "-f", "user", "--strict"}, []strictCase{
		{"file -j 1", runOpts{}, []string{"-j", "1", path}, fmt.Sprintf("record 1501 at offset %d:", bad)},
		{"file -j 2", runOpts{}, []string{"-j", "2", path}, fmt.Sprintf("record at offset %d:", bad)},
		{"stdin -j 1", runOpts{stdin: strings.NewReader(data), chunk: 300}, []string{"-j", "1"}, fmt.Sprintf("record 1501 at offset %d:", bad)},
		{"stdin -j 2", runOpts{stdin: strings.NewReader(data), chunk: 300}, []string{"-j", "2"}, fmt.Sprintf("record at offset %d:", bad)},
	})
}
