package pipeline

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// csvAll is a test Extractor keying each CSV record by all its fields,
// joined (AppendTuplePart), so that records can be compared whole.
type csvAll struct{ comma byte }

func (csvAll) Framing() Framing { return FrameCSV }

func (c csvAll) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	key := sc.Key[:0]
	err := csvFields(rec, c.comma, func(sp csvSpan) {
		key = AppendTuplePart(key, csvField(rec, sp, &sc.Tmp))
	})
	sc.Key = key
	return Extraction{Key: key}, err
}

// csvRef reads data with encoding/csv (any number of fields per record)
// and returns its records as csvAll keys, and whether any record was bad.
func csvRef(data []byte, comma byte) (recs []string, bad bool) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = rune(comma)
	r.FieldsPerRecord = -1
	for {
		fields, err := r.Read()
		if err == io.EOF {
			return recs, bad
		}
		if err != nil {
			bad = true
			continue
		}
		var key []byte
		for _, f := range fields {
			key = AppendTuplePart(key, []byte(f))
		}
		recs = append(recs, string(key))
	}
}

// csvGen makes a random CSV input that encoding/csv reads without error:
// fields with delimiters, quotes, CR, LF and CRLF inside quotes, CRLF or
// LF line ends, blank lines, a last line with or without its newline.
func csvGen(r *rand.Rand, comma byte, records int) []byte {
	alphabet := []string{"a", "b", "é", " ", string(comma), `"`, "\n", "\r\n", "\r", "x1"}
	var out []byte
	for i := range records {
		if r.IntN(10) == 0 {
			out = append(out, '\n')
		}
		nf := 1 + r.IntN(4)
		for j := range nf {
			if j > 0 {
				out = append(out, comma)
			}
			var f strings.Builder
			for range r.IntN(6) {
				f.WriteString(alphabet[r.IntN(len(alphabet))])
			}
			s := f.String()
			needQuote := strings.ContainsAny(s, "\"\r\n"+string(comma)) || s == "" && nf == 1
			if needQuote || r.IntN(4) == 0 {
				s = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
			}
			out = append(out, s...)
		}
		if i < records-1 || r.IntN(2) == 0 {
			if r.IntN(3) == 0 {
				out = append(out, '\r')
			}
			out = append(out, '\n')
		}
	}
	return out
}

// csvRead reads data through LineSources over SplitCSVReaderAt's ranges
// (j of them, one reading the whole when j is 0) and returns the keys.
func csvRead(t *testing.T, data []byte, ex Extractor, j, bufSize int) ([]string, int64) {
	t.Helper()
	cfg := LineConfig{Extract: ex, BufferSize: bufSize}
	if j == 0 {
		s := mustLineSource(t, bytes.NewReader(data), cfg)
		return lsKeys(lsDrain(t, s, 7)), s.Skipped()
	}
	ranges, err := SplitCSVReaderAt(bytes.NewReader(data), "data.csv", int64(len(data)), j)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var skipped int64
	for _, fr := range ranges {
		s, err := NewCSVRangeSource(bytes.NewReader(data), fr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, lsKeys(lsDrain(t, s, 5))...)
		skipped += s.Skipped()
	}
	return keys, skipped
}

// TestCSVRangesMatchEncodingCSV: random CSV with quotes, CRLF and newlines
// inside quotes, read whole and in 1..8 ranges found by quote parity,
// gives encoding/csv's records over the whole input, in order.
func TestCSVRangesMatchEncodingCSV(t *testing.T) {
	trials := 200
	if testing.Short() {
		trials = 40
	}
	for trial := range trials {
		r := rand.New(rand.NewPCG(uint64(trial), 14))
		comma := ",;\t|"[trial%4]
		data := csvGen(r, comma, 1+r.IntN(60))
		want, bad := csvRef(data, comma)
		if bad {
			t.Fatalf("trial %d: generator made input encoding/csv rejects: %q", trial, data)
		}
		for j := 0; j <= 8; j++ {
			got, skipped := csvRead(t, data, csvAll{comma}, j, 1+r.IntN(64))
			if !lsEqual(got, want) || skipped != 0 {
				t.Fatalf("trial %d, comma %q, %d ranges: %d records (%d skipped), want %d\ninput %q\ngot  %q\nwant %q",
					trial, comma, j, len(got), skipped, len(want), data, got, want)
			}
		}
	}
}

// FuzzCSVRecords: on any input, whole or in ranges, the source never
// panics; where encoding/csv reads every record without error, the
// records are its records and none is skipped, and the ranges always give
// what one source gives.
func FuzzCSVRecords(f *testing.F) {
	for _, s := range []string{"a,b\n\"c\n,d\",e\r\n", "a\"b,c\nd\n", "\"unterminated\nx,y\n", "\"a\"b\n", "\n\r\n\"\"\n", "a,\"b\"\"c\"\r"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, j uint8) {
		want, bad := csvRef(data, ',')
		whole, skipped := csvRead(t, data, csvAll{','}, 0, 16)
		if !bad && (!lsEqual(whole, want) || skipped != 0) {
			t.Fatalf("input %q: %q (%d skipped), encoding/csv %q", data, whole, skipped, want)
		}
		parts, pskipped := csvRead(t, data, csvAll{','}, 1+int(j%8), 16)
		if !lsEqual(parts, whole) || pskipped != skipped {
			t.Fatalf("input %q in %d ranges: %q (%d skipped), whole %q (%d skipped)", data, 1+j%8, parts, pskipped, whole, skipped)
		}
	})
}

// TestCSVBadRecords: broken quoting skips the record it breaks (the source
// counts and reports it, strict fails), never merging it silently into a
// good record. A bare quote frames the record on to the next quote (every
// reader, parallel ones too, frames by quote parity), so the lines up to
// it are skipped with it, as one record.
func TestCSVBadRecords(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string
		skipped    int64
	}{
		{"bare quote runs to the end", "k,1\nk\"x,2\nz,3\n", []string{"k"}, 1},
		{"text after a closing quote", "\"a\"b,1\nz,2\n", []string{"z"}, 1},
		{"bare quotes pairing over lines", "a\"b,1\nc,2\nd\"e,3\nz,4\n", []string{"z"}, 1},
		{"unterminated at the end", "a,1\n\"b,2\nc,3\n", []string{"a"}, 1},
		{"quoted newline kept", "\"a\nb\",1\nz,2\n", []string{"a\nb", "z"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewCSVKey(',', false, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			var bad []BadLine
			s := mustLineSource(t, strings.NewReader(tc.data), LineConfig{Extract: k, OnBadLine: func(b BadLine) { bad = append(bad, b) }})
			got := lsKeys(lsDrain(t, s, 100))
			if !lsEqual(got, tc.want) || s.Skipped() != tc.skipped || int64(len(bad)) != tc.skipped {
				t.Errorf("got %q, skipped %d; want %q, %d", got, s.Skipped(), tc.want, tc.skipped)
			}
			for _, b := range bad {
				if !errors.Is(b.Err, ErrBadCSV) {
					t.Errorf("bad record %q: %v, want ErrBadCSV", b.Line, b.Err)
				}
			}
			s = mustLineSource(t, strings.NewReader(tc.data), LineConfig{Extract: k, Strict: true})
			if _, err := lsDrainErr(s, 100); (err != nil) != (tc.skipped > 0) || err != nil && !errors.Is(err, ErrBadCSV) {
				t.Errorf("strict: %v", err)
			}
		})
	}
}

// TestCSVKeyColumns: columns by number and header name, composite keys,
// values, a header skipped only at offset 0.
func TestCSVKeyColumns(t *testing.T) {
	data := "id,name,name,ms\r\n7,\"Smith, J\",\"a\"\"b\",12.5\n8,x,y,bad\n9,short\n"
	header, err := ReadCSVHeader(strings.NewReader(data), ',')
	if err != nil || !reflect.DeepEqual(header, []string{"id", "name", "name", "ms"}) {
		t.Fatalf("header %q, %v", header, err)
	}
	col := func(name string) int {
		c, err := CSVColumn(header, name)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if col("name") != 2 || col("name[2]") != 3 || col("name[1]") != 2 || col("ms") != 4 {
		t.Errorf("columns: name %d name[2] %d ms %d", col("name"), col("name[2]"), col("ms"))
	}
	if _, err := CSVColumn(header, "name[3]"); !errors.Is(err, ErrMissingField) || !strings.Contains(err.Error(), `"ms"`) {
		t.Errorf("name[3]: %v", err)
	}
	k, err := NewCSVKey(',', true, col("ms"), col("name"), col("name[2]"))
	if err != nil {
		t.Fatal(err)
	}
	s := mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k})
	recs := lsDrain(t, s, 100)
	tuple := func(parts ...string) string {
		var k []byte
		for _, p := range parts {
			k = AppendTuplePart(k, []byte(p))
		}
		return string(k)
	}
	want := []lsRec{{tuple("Smith, J", `a"b`), 12.5, true}, {tuple("x", "y"), 0, false}}
	if !reflect.DeepEqual(recs, want) || s.Skipped() != 1 || s.BadValues() != 1 {
		t.Errorf("records %v (skipped %d, bad values %d), want %v", recs, s.Skipped(), s.BadValues(), want)
	}
	for _, bad := range [][]int{{0}, {-1}} {
		if _, err := NewCSVKey(',', false, 0, bad...); !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Errorf("columns %v: %v", bad, err)
		}
	}
	if _, err := NewCSVKey('"', false, 0, 1); !errors.Is(err, sketch.ErrInvalidParameter) {
		t.Errorf("quote as delimiter: %v", err)
	}
}

// TestCSVAllocs: a warmed CSV source allocates nothing per record.
func TestCSVAllocs(t *testing.T) {
	data := []byte("2024-06-01,\"user, 12\",\"GET \"\"x\"\"\",12.5\r\n2024-06-02,u-7,\"multi\nline\",3\n")
	for _, cols := range [][]int{{2}, {2, 3}} {
		k, err := NewCSVKey(',', false, 4, cols...)
		if err != nil {
			t.Fatal(err)
		}
		s := mustLineSource(t, &lsLoopReader{data: data}, LineConfig{Extract: k})
		var b Batch
		if n := fillAllocs(t, s, &b, 1024, 10); n != 0 {
			t.Errorf("columns %v: got %v allocation(s) (want zero)", cols, n)
		}
	}
}

// TestIndexEither against a byte loop, at every offset and length.
func TestIndexEither(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 14))
	for range 5000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = "ab,\"\r\x00\xff\x2c"[r.IntN(8)]
		}
		want := -1
		for i, c := range b {
			if c == ',' || c == '"' {
				want = i
				break
			}
		}
		if got := indexEither(b, ',', '"'); got != want {
			t.Fatalf("indexEither(%q) = %d, want %d", b, got, want)
		}
	}
}

// csvRefColumns reads data with encoding/csv and returns, for each record
// with at least max(cols) fields, the key CSVKey makes of cols, and the
// number of records with fewer fields; bad says encoding/csv failed.
func csvRefColumns(data []byte, comma byte, cols []int) (keys []string, short int64, bad bool) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = rune(comma)
	r.FieldsPerRecord = -1
	for {
		fields, err := r.Read()
		if err == io.EOF {
			return keys, short, bad
		}
		if err != nil {
			bad = true
			continue
		}
		var key []byte
		for _, c := range cols {
			if c > len(fields) {
				key = nil
				break
			}
			if len(cols) == 1 {
				key = []byte(fields[c-1])
			} else {
				key = AppendTuplePart(key, []byte(fields[c-1]))
			}
		}
		if key == nil && !(len(cols) == 1 && cols[0] <= len(fields)) {
			short++
			continue
		}
		keys = append(keys, string(key))
	}
}

// csvUnfused is a CSVKey seen only as an Extractor: a LineSource finds
// each record's end by quote parity and then calls Extract, rather than
// CSVKey's one pass (extractFramed).
type csvUnfused struct{ k *CSVKey }

func (u csvUnfused) Framing() Framing { return u.k.Framing() }
func (u csvUnfused) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	return u.k.Extract(rec, sc)
}

// TestCSVKeyMatchesEncodingCSV: CSVKey's columns, single and composite,
// read whole (one pass finding each record's end and its fields, with
// small buffers so records are cut by reads) and in ranges, are
// encoding/csv's fields; a record lacking a column is skipped.
func TestCSVKeyMatchesEncodingCSV(t *testing.T) {
	trials := 300
	if testing.Short() {
		trials = 60
	}
	colSets := [][]int{{1}, {2}, {3}, {1, 2}, {3, 1}, {2, 2, 4}}
	for trial := range trials {
		r := rand.New(rand.NewPCG(uint64(trial), 41))
		comma := ",;\t|"[trial%4]
		data := csvGen(r, comma, 1+r.IntN(60))
		cols := colSets[trial%len(colSets)]
		want, short, bad := csvRefColumns(data, comma, cols)
		if bad {
			t.Fatalf("trial %d: generator made input encoding/csv rejects: %q", trial, data)
		}
		k, err := NewCSVKey(comma, false, 0, cols...)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range []int{0, 1, 3} {
			bufSize := 1 + r.IntN(64)
			if trial%2 == 0 {
				bufSize = 0 // the default: room for the one-pass fast path
			}
			got, skipped := csvRead(t, data, k, j, bufSize)
			if !lsEqual(got, want) || skipped != short {
				t.Fatalf("trial %d, comma %q, columns %v, %d ranges: %q (%d skipped), want %q (%d short)\ninput %q",
					trial, comma, cols, j, got, skipped, want, short, data)
			}
		}
	}
}

// FuzzCSVKey: on any input, CSVKey's one pass (extractFramed) gives the
// keys, skips and bad-record reports that framing by quote parity and then
// Extract give, at any buffer size; where encoding/csv reads the input
// without error, the keys are its fields.
func FuzzCSVKey(f *testing.F) {
	for _, s := range []string{"a,b\n\"c\n,d\",e\r\n", "a\"b,c\nd\n", "\"unterminated\nx,y\n", "\"a\"b,c\n", "\n\r\n\"\"\n", "a,\"b\"\"c\"\r", "x,\"y\"\r\r\n,z\r", "1,2,\"3\"\"\",4\"\n5,6\n"} {
		f.Add([]byte(s), uint8(2), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, col, buf uint8) {
		cols := []int{1 + int(col%4)}
		if col >= 128 {
			cols = append(cols, 1+int(col/4%4))
		}
		k, err := NewCSVKey(',', false, 0, cols...)
		if err != nil {
			t.Fatal(err)
		}
		read := func(ex Extractor) ([]string, int64, []BadLine) {
			var bad []BadLine
			size := 1 + int(buf%64)
			if buf >= 192 {
				size = 0 // the default, which the one-pass fast path needs
			}
			s := mustLineSource(t, bytes.NewReader(data), LineConfig{Extract: ex, BufferSize: size, OnBadLine: func(b BadLine) {
				b.Line = bytes.Clone(b.Line)
				bad = append(bad, b)
			}})
			return lsKeys(lsDrain(t, s, 5)), s.Skipped(), bad
		}
		got, skipped, gotBad := read(k)
		ref, refSkipped, refBad := read(csvUnfused{k})
		if !lsEqual(got, ref) || skipped != refSkipped || !reflect.DeepEqual(gotBad, refBad) {
			t.Fatalf("input %q, columns %v: one pass %q (%d skipped, %v), framed then extracted %q (%d skipped, %v)", data, cols, got, skipped, gotBad, ref, refSkipped, refBad)
		}
		if want, short, bad := csvRefColumns(data, ',', cols); !bad && (!lsEqual(got, want) || skipped != short) {
			t.Fatalf("input %q, columns %v: %q (%d skipped), encoding/csv %q (%d short)", data, cols, got, skipped, want, short)
		}
	})
}

// TestIndexAny3 against a byte loop, at every offset and length.
func TestIndexAny3(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 14))
	for range 5000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = "ab,\"\n\r\x00\xff\x0b"[r.IntN(9)]
		}
		want := -1
		for i, c := range b {
			if c == ',' || c == '"' || c == '\n' {
				want = i
				break
			}
		}
		if got := indexAny3(b, ',', '"', '\n'); got != want {
			t.Fatalf("indexAny3(%q) = %d, want %d", b, got, want)
		}
	}
}

// TestCSVKeyLiteralInvalid: a CSVKey written as a literal with a delimiter
// or column NewCSVKey refuses is an error from the source and from
// Extract, not a panic in the framing.
func TestCSVKeyLiteralInvalid(t *testing.T) {
	data := []byte("a,b\n\"c\",d\n")
	for _, tc := range []struct {
		name string
		k    *CSVKey
	}{
		{"quote delimiter", &CSVKey{Comma: '"', Columns: []int{1}}},
		{"CR delimiter", &CSVKey{Comma: '\r', Columns: []int{1}}},
		{"LF delimiter", &CSVKey{Comma: '\n', Columns: []int{2}}},
		{"non-ASCII delimiter", &CSVKey{Comma: 0xC3, Columns: []int{1}}},
		{"column 0", &CSVKey{Columns: []int{0}}},
		{"negative column", &CSVKey{Columns: []int{-2}}},
		{"negative value column", &CSVKey{Columns: []int{1}, ValueColumn: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewLineSource(bytes.NewReader(data), LineConfig{Extract: tc.k}); !errors.Is(err, sketch.ErrInvalidParameter) {
				t.Fatalf("NewLineSource: got %v, want ErrInvalidParameter", err)
			}
			if _, err := tc.k.Extract([]byte("a,b"), new(Scratch)); !errors.Is(err, sketch.ErrInvalidParameter) {
				t.Fatalf("Extract: got %v, want ErrInvalidParameter", err)
			}
		})
	}
}
