package main

import (
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
)

// TestStructuredDedupCSV: dedup --csv writes the records whose key is new
// as they stand in the input (quoted fields, newlines inside quotes), the
// header once in front with --header, and the result reads back with
// encoding/csv as the input's records with a new key, in order; a record
// without the key column is skipped and counted, or with --strict an
// error naming it.
func TestStructuredDedupCSV(t *testing.T) {
	in := "id,name,city\r\n" +
		"1,\"Smith, J\",Oslo\r\n" +
		"2,\"two\nlines\",\"New York, NY\"\n" +
		"\n" +
		"3,\"Smith, J\",Bergen\n" +
		"4\n" +
		"5,\"say \"\"hi\"\"\",Oslo\n" +
		"6,\"two\nlines\",Oslo\n"
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in)}, "dedup", "--csv", "--header", "-f", "name", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "dedup_structured_csv", out)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, out)
	}
	want := [][]string{{"id", "name", "city"}, {"1", "Smith, J", "Oslo"}, {"2", "two\nlines", "New York, NY"}, {"5", `say "hi"`, "Oslo"}}
	if len(recs) != len(want) {
		t.Fatalf("records %q, want %q", recs, want)
	}
	for i := range want {
		if strings.Join(recs[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Errorf("record %d: %q, want %q", i, recs[i], want[i])
		}
	}
	if !strings.Contains(errOut, `"passed":3`) || !strings.Contains(errOut, `"skipped":1`) {
		t.Errorf("summary: %s", errOut)
	}

	// A composite key of columns, --tsv, a file argument.
	path := filepath.Join(t.TempDir(), "in.tsv")
	if err := writeFile(path, "a\tb\tc\nx\t1\tq\nx\t2\tq\ny\t1\tr\nx\t1\ts\n"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runIn(t, runOpts{}, "dedup", "--tsv", "--header", "-f", "a,b", path)
	if code != 0 || out != "a\tb\tc\nx\t1\tq\nx\t2\tq\ny\t1\tr\n" {
		t.Errorf("--tsv -f a,b: exit %d, %s\n%q", code, errOut, out)
	}

	// --strict: the first record without a key stops the run, named.
	_, errOut, code = runIn(t, runOpts{stdin: strings.NewReader(in)}, "dedup", "--csv", "--header", "-f", "city", "--strict")
	if code != exitFailure || !strings.Contains(errOut, "record 4 (--strict)") {
		t.Errorf("--strict: exit %d, %s", code, errOut)
	}
	// Broken quoting is skipped by the source, never merged silently.
	out, errOut, code = runIn(t, runOpts{stdin: strings.NewReader("k,v\n1,\"a\"b\n2,c\n")}, "dedup", "--csv", "-f", "2", "--format", "json")
	if code != 0 || out != "k,v\n2,c\n" || !strings.Contains(errOut, `"skipped":1`) {
		t.Errorf("bad quoting: exit %d, %q, %s", code, out, errOut)
	}
}
