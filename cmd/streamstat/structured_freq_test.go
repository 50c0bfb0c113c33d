package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
)

// TestStructuredFreqComposite: freq with a composite key (-f 1,3,
// --json a,b, --csv columns) looks up keys given as comma-separated parts
// (CSV-quoted) or as the tuple top shows, and shows them as tuples in
// every format; a key with the wrong number of parts is a usage error;
// saved states merge with the tuples kept.
func TestStructuredFreqComposite(t *testing.T) {
	in := "GET /a 200\nGET /b 404\nPOST /a 200\nGET /a 500\nGET /a 200\n"
	for _, format := range []string{"text", "json", "csv"} {
		out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "freq", "-f", "1,2",
			"--key", "GET,/a", "--key", "(POST, /a)", "--key", "PUT,/a", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		golden(t, "freq_tuple_"+format, out)
	}
	// JSON values and CSV columns holding commas and quotes.
	jin := "{\"u\":\"a,b\",\"n\":1}\n{\"u\":\"a,b\",\"n\":1}\n{\"u\":\"a\",\"n\":2}\n"
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(jin)}, "freq", "--json", "u,n", "--key", `"a,b",1`, "--key", `("a,b", 2)`)
	if code != 0 || !strings.Contains(out, "2      2      2  (\"a,b\", 1)") || !strings.Contains(out, "0      0      0  (\"a,b\", 2)") {
		t.Errorf("--json u,n: exit %d, %s\n%s", code, errOut, out)
	}
	cin := "user,page\n\"Smith, J\",\"/q?\"\"x\"\"\"\n\"Smith, J\",/b\n"
	out, errOut, code = runIn(t, runOpts{stdin: strings.NewReader(cin)}, "freq", "--csv", "--header", "-f", "user,page", "--key", `"Smith, J","/q?""x"""`)
	if code != 0 || !strings.Contains(out, `1      1      1  ("Smith, J", "/q?\"x\"")`) {
		t.Errorf("--csv -f user,page: exit %d, %s\n%s", code, errOut, out)
	}
	for _, key := range []string{"GET", "GET,/a,200", `"GET`} {
		_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "freq", "-f", "1,2", "--key", key)
		if code != exitUsage || !strings.Contains(errOut, "the key has 2 parts") {
			t.Errorf("--key %q: exit %d, %s", key, code, errOut)
		}
	}
	if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "freq", "-f", "1,2", "--shed", "--key", "GET,/a"); code != exitUsage || !strings.Contains(errOut, "--shed with a composite key") {
		t.Errorf("--shed: exit %d, %s", code, errOut)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "freq", "-f", "1,2", "--key", "GET,/a", "--save", p); code != 0 {
			t.Fatalf("save: exit %d, %s", code, errOut)
		}
	}
	out, errOut, code = runIn(t, runOpts{}, "merge", a, b)
	if code != 0 || !strings.Contains(out, "6      6      6  (GET, /a)") {
		t.Errorf("merge: exit %d, %s\n%s", code, errOut, out)
	}
}

// TestParseTupleKey: both written forms of a composite key, and the
// tuple form only when it is exactly what FormatTuple shows.
func TestParseTupleKey(t *testing.T) {
	for _, tc := range []struct {
		in    string
		parts int
		want  []string
	}{
		{"a,b", 2, []string{"a", "b"}},
		{"(a, b)", 2, []string{"a", "b"}},
		{`("a,b", "")`, 2, []string{"a,b", ""}},
		{`"a,b",`, 2, []string{"a,b", ""}},
		{"(a,b)", 2, []string{"(a", "b)"}}, // not FormatTuple's form: CSV
		{"(a, b)", 3, nil},
		{`x,"y""z",(w`, 3, []string{"x", `y"z`, "(w"}},
	} {
		got, err := parseTupleKey(tc.in, tc.parts)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q (%d parts): %q, want an error", tc.in, tc.parts, got)
			}
			continue
		}
		var want []byte
		for _, p := range tc.want {
			want = pipeline.AppendTuplePart(want, []byte(p))
		}
		if err != nil || got != string(want) {
			t.Errorf("%q (%d parts): %q, %v; want %q", tc.in, tc.parts, got, err, want)
		}
	}
}
