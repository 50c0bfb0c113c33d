package pipeline

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
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

// TestSplitCSVFile: ranges of a file on disk start at record starts, even
// where a cut falls inside a quoted field holding newlines.
func TestSplitCSVFile(t *testing.T) {
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "%d,\"line one\nline two, \"\"quoted\"\"\nthree\",%d\n", i, i%7)
	}
	path := filepath.Join(t.TempDir(), "q.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := NewCSVKey(',', false, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for j := 1; j <= 8; j++ {
		ranges, err := SplitCSVFile(path, j)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fr := range ranges {
			s, err := OpenCSVRange(fr, LineConfig{Extract: k})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, lsKeys(lsDrain(t, s, 64))...)
			if s.Skipped() != 0 {
				t.Errorf("%d ranges: range %+v skipped %d", j, fr, s.Skipped())
			}
			s.Close()
		}
		if len(got) != 400 || got[0] != "0" || got[399] != "399" || len(ranges) != j {
			t.Errorf("%d ranges (%d made): %d records", j, len(ranges), len(got))
		}
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestSplitCSVReadsBeforeLastCut: the split counts quotes only where a
// cut needs them, before the last cut (for two ranges, half the file, not
// all of it: the whole file read once more cost 12% of a CSV distinct's
// CPU), and its ranges still match encoding/csv's records.
func TestSplitCSVReadsBeforeLastCut(t *testing.T) {
	var b strings.Builder
	for i := range 80000 {
		fmt.Fprintf(&b, "%d,\"a\nb\",\"x,\"\"y\"\"\"\n", i)
	}
	data := []byte(b.String())
	for j := 2; j <= 4; j++ {
		c := &countingReaderAt{r: bytes.NewReader(data)}
		ranges, err := SplitCSVReaderAt(c, "q.csv", int64(len(data)), j)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranges) != j {
			t.Fatalf("%d ranges, want %d", len(ranges), j)
		}
		// The bytes before the last cut, and a scan of splitScan bytes
		// for each cut's record start.
		if max := int64(len(data))*int64(j-1)/int64(j) + int64(j-1)*(splitScan+1); c.n.Load() > max {
			t.Errorf("%d ranges: split read %d bytes of %d, want at most %d", j, c.n.Load(), len(data), max)
		}
		keys, _ := csvRead(t, data, &CSVKey{Columns: []int{1}}, j, 0)
		if len(keys) != 80000 || keys[0] != "0" || keys[79999] != "79999" {
			t.Errorf("%d ranges: %d records", j, len(keys))
		}
	}
}

// TestCSVRangeTruncatedWhileRead: a CSV file truncated while a range of
// it is read fails with ErrFileChanged, where its bytes are read through
// a memory map too (a fault in csvMasks' assembly, or in the copy of a
// block's tail, is recovered like any other), never a crash or a short
// answer.
func TestCSVRangeTruncatedWhileRead(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 12<<20; i++ {
		fmt.Fprintf(&b, "2024-06-01T12:00:00.000Z,\"GET\",\"u-%d\",\"/p?q=a,b\",200,1.5\n", i)
	}
	path := frWrite(t, b.Bytes())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ranges, err := SplitCSVReaderAt(f, path, int64(b.Len()), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewCSVRangeSource(f, ranges[0], LineConfig{Extract: &CSVKey{Columns: []int{3}}})
	if err != nil {
		t.Fatal(err)
	}
	lsDrainN(t, s, 100)
	if err := os.Truncate(path, 64<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := lsDrainErr(s, 1000); !errors.Is(err, ErrFileChanged) {
		t.Fatalf("got %v, want ErrFileChanged", err)
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

// TestRecordEnds: a stream cut at every record end RecordEnds finds, fed
// in random pieces, cuts exactly where SplitCSVReaderAt may start a range
// (the newlines after an even number of quotes), and at every newline for
// lines.
func TestRecordEnds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 14))
	for trial := range 100 {
		data := csvGen(r, ',', 1+r.IntN(30))
		for _, f := range []Framing{FrameLines, FrameCSV} {
			var want []int
			odd := false
			for i, c := range data {
				if c == '"' {
					odd = !odd
				}
				if c == '\n' && (!odd || f == FrameLines) {
					want = append(want, i+1)
				}
			}
			e := NewRecordEnds(f)
			var got []int
			for p := 0; p < len(data); {
				piece := data[p:min(len(data), p+1+r.IntN(12))]
				if r.IntN(3) == 0 {
					// A piece taken whole, as a stream dealer passes the
					// bytes it does not look into; its cuts are known.
					e.Pass(piece)
					for _, w := range want {
						if w > p && w <= p+len(piece) {
							got = append(got, w)
						}
					}
					p += len(piece)
					continue
				}
				k := e.Next(piece)
				if k < 0 {
					p += len(piece)
					continue
				}
				p += k
				got = append(got, p)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("trial %d framing %d: cuts %v, want %v in %q", trial, f, got, want, data)
			}
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

// TestCSVMasks: each implementation's bitmaps (assembly, where there is
// some) are the byte loop's, for every delimiter and block count.
func TestCSVMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 14))
	for name, masks := range csvMasksVariants() {
		for trial := range 500 {
			src := make([]byte, 64*(trial%4))
			for i := range src {
				src[i] = "\"\n,;\t\r ax\x00\xff"[r.IntN(11)]
			}
			comma := ",;\t|"[trial%4]
			got, want := make([]uint64, 4*(trial%4)+trial%3), make([]uint64, 4*(trial%4)+trial%3)
			masks(got, src, comma)
			csvMasksGo(want, src, comma)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: comma %q, %q: %x, want %x", name, comma, src, got, want)
			}
		}
	}
}

// TestCSVFrame: reading a buffer's records in turn as a LineSource does,
// where the bitmap fast path reads a record it finds frameCSV's end and
// fields; it reads every valid record short enough for its ring; and a
// record it leaves is one frameCSV finds invalid, longer, or not ended
// within the data. Buffers of valid CSV, of any bytes, and of both.
func TestCSVFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 14))
	read, readLong, left := 0, 0, 0
	var f csvFrame
	for trial := range 3000 {
		comma := ",;\t|"[trial%4]
		var data []byte
		for len(data) < 64+r.IntN(1500) {
			if r.IntN(3) == 0 {
				// Any bytes: quotes out of place, CRs, long records.
				for range r.IntN(200) {
					c := "\"\n\r ab"[r.IntN(6)]
					if r.IntN(8) == 0 {
						c = comma
					}
					data = append(data, c)
				}
			} else if r.IntN(3) == 0 {
				// A long record: the fields of several records.
				for k := range 2 + r.IntN(40) {
					if k > 0 {
						data = append(data, comma)
					}
					rec := bytes.TrimLeft(csvGen(r, comma, 1), "\n")
					rec = bytes.TrimSuffix(bytes.TrimSuffix(rec, []byte("\n")), []byte("\r"))
					data = append(data, rec...)
				}
				data = append(data, '\n')
			} else {
				data = append(data, csvGen(r, comma, 1+r.IntN(4))...)
			}
		}
		last := r.IntN(5)
		if r.IntN(4) == 0 {
			last = 100
		}
		f.data = nil // Scratch.newData
		for p := 0; p < len(data); {
			var fast, slow []csvSpan
			d := data[p:]
			var v csvView
			ok := f.view(d, comma, &v)
			end := v.end
			short := ok
			if ok {
				v.spans(d, last, &fast)
			} else {
				end, ok = f.long(d, comma, last, &fast)
			}
			wantEnd, err := frameCSV(d, comma, csvMore, last, &slow)
			if ok {
				read++
				same := len(fast) == len(slow)
				for i := 0; same && i < len(fast); i++ {
					var b1, b2 []byte
					same = fast[i].start == slow[i].start && fast[i].end == slow[i].end && fast[i].quoted == slow[i].quoted &&
						string(csvField(d, fast[i], &b1)) == string(csvField(d, slow[i], &b2))
				}
				if err != nil || end != wantEnd || !same {
					t.Fatalf("%q at %d, comma %q, last %d: fast path end %d %v, frameCSV end %d %v (%v)", data, p, comma, last, end, fast, wantEnd, slow, err)
				}
				if !short {
					readLong++
				} else {
					csvFrameField(t, data, p, comma, &v, r.IntN(5)+1)
				}
			} else {
				left++
				// A record ending within 8 blocks, wherever it starts in
				// the first, is read (up to 449 bytes).
				if err == nil && wantEnd >= 0 && wantEnd < 449 {
					t.Fatalf("%q at %d, comma %q, last %d: fast path left a valid record ending at %d", data, p, comma, last, wantEnd)
				}
			}
			if wantEnd < 0 {
				break
			}
			p += wantEnd + 1
		}
	}
	if read == 0 || left == 0 || readLong == 0 {
		t.Errorf("fast path read %d records (%d long) and left %d: the test misses a case", read, readLong, left)
	}
}

// csvFrameField: a view's c-th field, found without spans, is frameCSV's,
// and one it says is clean needs no rewriting.
func csvFrameField(t *testing.T, data []byte, p int, comma byte, v *csvView, c int) {
	t.Helper()
	d := data[p:]
	var slow []csvSpan
	frameCSV(d, comma, csvMore, c, &slow)
	sp, clean, has := v.field(d, c)
	var b1, b2 []byte
	switch {
	case has != (c <= len(slow)):
		t.Fatalf("%q at %d, comma %q: field %d found %v, frameCSV has %d fields", data, p, comma, c, has, len(slow))
	case !has:
	case string(csvField(d, sp, &b1)) != string(csvField(d, slow[c-1], &b2)) || clean && string(d[sp.start:sp.end]) != string(csvField(d, slow[c-1], &b2)):
		t.Fatalf("%q at %d, comma %q: field %d %v (clean %v), frameCSV's %v", data, p, comma, c, sp, clean, slow[c-1])
	}
}

// TestCSVFrameNewData: after Scratch.newData, the fast path reads the
// bytes as they are now, not the bitmaps of what stood there before (a
// LineSource refills its buffer in place).
func TestCSVFrameNewData(t *testing.T) {
	k := &CSVKey{Columns: []int{2}}
	var sc Scratch
	buf := []byte("a,x1\nb,x2\nc,x3\n")
	for round, want := range []string{"x1", "y1"} {
		if round == 1 {
			copy(buf, "a,\"y1\"\n,\"\n\"\n")
			sc.newData()
		}
		var x Extraction
		end, err := k.extractFramed(buf, false, &sc, &x)
		if err != nil || string(x.Key) != want {
			t.Fatalf("round %d: key %q (%v), want %q", round, x.Key, err, want)
		}
		x = Extraction{}
		if _, err := k.extractFramed(buf[end+1:], false, &sc, &x); err != nil || string(x.Key) != []string{"x2", "\n"}[round] {
			t.Fatalf("round %d: second key %q (%v)", round, x.Key, err)
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
