package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestCSVHasJSONFields: every scalar field of an answer's JSON (records,
// skipped, shed, total, unlisted_max, k, ...) is a CSV column with the
// same value in every row, for every subcommand, with and without keys
// in the answer.
func TestCSVHasJSONFields(t *testing.T) {
	for _, c := range []struct {
		args  []string
		input string
	}{
		{[]string{"distinct"}, partA + partB},
		{[]string{"top", "-k", "2"}, partA + partB},
		{[]string{"top", "-k", "2", "-f", "3"}, partA + partB}, // every line skipped: no key
		{[]string{"freq", "apple", "zz"}, partA + partB},
		{[]string{"sample", "-k", "3"}, partA + partB},
		{[]string{"sample", "-k", "3"}, ""}, // an empty sample
		{[]string{"stats", "-f", "2"}, partA + partB},
		{[]string{"dedup"}, partA + partB},
		{[]string{"distinct", "--shed"}, partA + partB},
		{[]string{"top", "-k", "2", "--shed"}, partA + partB},
		{[]string{"top", "-k", "2", "-f", "3", "--shed"}, partA + partB},
		{[]string{"freq", "apple", "zz", "--shed"}, partA + partB},
	} {
		t.Run(strings.Join(c.args, " ")+fmt.Sprintf("/%d bytes", len(c.input)), func(t *testing.T) {
			answer := func(format string) string {
				args := append(append([]string(nil), c.args...), "--format", format)
				out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(c.input)}, args...)
				if code != 0 {
					t.Fatalf("%q: exit %d: %s", args, code, errOut)
				}
				if c.args[0] == "dedup" {
					return errOut // its summary
				}
				return out
			}
			var j map[string]any
			dec := json.NewDecoder(strings.NewReader(answer("json")))
			dec.UseNumber()
			if err := dec.Decode(&j); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(strings.NewReader(answer("csv"))).ReadAll()
			if err != nil || len(rows) < 2 {
				t.Fatalf("csv: %d rows, %v; want a header and at least one row", len(rows), err)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			for name, v := range j {
				switch v.(type) {
				case []any, map[string]any:
					continue // items and quantiles are rows and columns of their own
				}
				i, ok := col[name]
				if !ok {
					t.Errorf("json field %q is not a csv column (header %q)", name, rows[0])
					continue
				}
				want := fmt.Sprint(v)
				if v == nil {
					want = "" // no value: an empty cell
				}
				for _, r := range rows[1:] {
					if r[i] != want {
						t.Errorf("column %q is %q; json says %q", name, r[i], want)
					}
				}
			}
		})
	}
}

// TestFmtFloatExactAsJSON: csv writes exact numbers as json does, so
// that the two formats agree digit for digit.
func TestFmtFloatExactAsJSON(t *testing.T) {
	for _, v := range []float64{0, 1, -2.5, 6710153, 0.95, 1e-6, 1e-7, 5.295681698642494e-16, 1e21, 1.5e300, 123456789012345680000} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmtFloat(v, true); got != string(b) {
			t.Errorf("fmtFloat(%v) = %q; json writes %s", v, got, b)
		}
	}
}
