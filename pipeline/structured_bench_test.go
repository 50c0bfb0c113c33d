package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
)

// structuredBench is one input of BenchmarkStructuredDistinct: a file and
// how to read it in ranges.
type structuredBench struct {
	name  string
	path  string
	split func(path string, n int) ([]FileRange, error)
	open  func(FileRange, LineConfig) (*LineSource, error)
	cfg   LineConfig
}

// structuredFiles writes the same n records three ways into dir: TSV with
// the user in field 3, CSV with quoted fields (the user in column 3), JSON
// lines of about 200 bytes with the user at user.id.
func structuredFiles(b *testing.B, dir string, n int) []structuredBench {
	r := rand.New(rand.NewPCG(14, 3))
	var tsv, csvData, jsonData bytes.Buffer
	for i := range n {
		user := "u-" + strconv.Itoa(int(r.Uint64N(200_000)))
		page := "/catalog/item/" + strconv.Itoa(int(r.Uint64N(50_000)))
		ms := strconv.FormatFloat(r.Float64()*500, 'f', 2, 64)
		ts := fmt.Sprintf("2024-06-01T12:%02d:%02d.%03dZ", i/60000%60, i/1000%60, i%1000)
		fmt.Fprintf(&tsv, "%s\tGET\t%s\t%s\t200\t%s\n", ts, user, page, ms)
		fmt.Fprintf(&csvData, "%s,\"GET\",\"%s\",\"%s?q=a,b\",200,%s\n", ts, user, page, ms)
		fmt.Fprintf(&jsonData, `{"ts":"%s","method":"GET","user":{"id":"%s","plan":"pro","country":"DE"},"page":"%s","status":200,"ms":%s,"agent":"Mozilla/5.0 (X11; Linux x86_64)"}`+"\n", ts, user, page, ms)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		return p
	}
	ck, err := NewCSVKey(',', false, 0, 3)
	if err != nil {
		b.Fatal(err)
	}
	jk, err := NewJSONKey("", "user.id")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("bytes per record: tsv %.0f, csv %.0f, json %.0f", float64(tsv.Len())/float64(n), float64(csvData.Len())/float64(n), float64(jsonData.Len())/float64(n))
	return []structuredBench{
		{"tsv", write("in.tsv", tsv.Bytes()), SplitFile, OpenRange, LineConfig{Field: 3, Delimiter: ByteDelimiter('\t')}},
		{"csv", write("in.csv", csvData.Bytes()), SplitCSVFile, OpenCSVRange, LineConfig{Extract: ck}},
		{"json", write("in.jsonl", jsonData.Bytes()), SplitFile, OpenRange, LineConfig{Extract: jk}},
	}
}

// runStructured counts the distinct keys of in with par sources over
// ranges of the file, each chained to its HLL instance, as the CLI's
// distinct does, and returns the time and the process's CPU time (the
// split included) and the records read.
func runStructured(b *testing.B, in structuredBench, par int) (time.Duration, time.Duration, int64) {
	start, cpu := time.Now(), cputime.Process()
	ranges, err := in.split(in.path, par)
	if err != nil {
		b.Fatal(err)
	}
	var srcs []Source
	var lss []*LineSource
	for _, fr := range ranges {
		s, err := in.open(fr, in.cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		srcs = append(srcs, s)
		lss = append(lss, s)
	}
	p, err := New(srcs, []Stage{{Name: "distinct", New: newDistinct, Parallelism: len(srcs)}}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	d, c := time.Since(start), cputime.Process()-cpu
	var recs int64
	for _, s := range lss {
		if s.Skipped() != 0 {
			b.Fatalf("%s: %d records skipped", in.name, s.Skipped())
		}
		recs += s.Lines()
	}
	return d, c, recs
}

// BenchmarkStructuredDistinct: distinct over the same 400k records as TSV
// (key in field 3, the plain field splitter), CSV with quoted fields
// (CSVKey, ranges cut by quote parity) and 200-byte JSON lines (JSONKey at
// user.id), each on two sources and two HLL instances, in one run.
// csv/tsv (target <= 1.5) and json/tsv (target <= 4) are the time ratios;
// ns/record-X each input's time per record; the -cpu ratios are those of
// the process's CPU time (user and system), steadier than wall time on a
// machine shared with other work; allocs/record counts the allocations of
// the three runs (setup included) per record read.
func BenchmarkStructuredDistinct(b *testing.B) {
	const n = 400_000
	inputs := structuredFiles(b, b.TempDir(), n)
	times := make([]time.Duration, len(inputs))
	cpus := make([]time.Duration, len(inputs))
	var records int64
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ReportAllocs()
	for b.Loop() {
		for i, in := range inputs {
			d, c, recs := runStructured(b, in, 2)
			if recs != n {
				b.Fatalf("%s: %d records, want %d", in.name, recs, n)
			}
			times[i] += d
			cpus[i] += c
			records += recs
		}
	}
	runtime.ReadMemStats(&m1)
	for i, in := range inputs {
		b.ReportMetric(float64(times[i].Nanoseconds())/float64(n*b.N), "ns/record-"+in.name)
	}
	b.ReportMetric(times[1].Seconds()/times[0].Seconds(), "csv/tsv")
	b.ReportMetric(times[2].Seconds()/times[0].Seconds(), "json/tsv")
	if cpus[0] > 0 {
		b.ReportMetric(cpus[1].Seconds()/cpus[0].Seconds(), "csv/tsv-cpu")
		b.ReportMetric(cpus[2].Seconds()/cpus[0].Seconds(), "json/tsv-cpu")
	}
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(records), "allocs/record")
}

// BenchmarkExtract: one record's key extraction, alone: the JSON line and
// CSV record of BenchmarkStructuredDistinct, and the TSV field split.
func BenchmarkExtract(b *testing.B) {
	jk, _ := NewJSONKey("", "user.id")
	ck, _ := NewCSVKey(',', false, 0, 3)
	fk, _ := NewFieldsKey(ByteDelimiter('\t'), 0, 3)
	for _, bc := range []struct {
		name string
		ex   Extractor
		rec  string
	}{
		{"json", jk, `{"ts":"2024-06-01T12:00:01.123Z","method":"GET","user":{"id":"u-123456","plan":"pro","country":"DE"},"page":"/catalog/item/4711","status":200,"ms":123.45,"agent":"Mozilla/5.0 (X11; Linux x86_64)"}`},
		{"csv", ck, `2024-06-01T12:00:01.123Z,"GET","u-123456","/catalog/item/4711?q=a,b",200,123.45`},
		{"tsv", fk, "2024-06-01T12:00:01.123Z\tGET\tu-123456\t/catalog/item/4711\t200\t123.45"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rec := []byte(bc.rec)
			var sc Scratch
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.ex.Extract(rec, &sc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONLinear: Lookup's time per byte on documents built to make
// a careless scanner quadratic (duplicate names on the path, each holding
// the path's next level; escaped names on the path; deep nesting; long
// escaped strings), at 1 KiB and 1 MiB. per-byte-ratio = ns/byte at 1 MiB
// over ns/byte at 1 KiB: about 1 for a linear scanner.
func BenchmarkJSONLinear(b *testing.B) {
	docs := map[string]func(n int) []byte{
		"duplicates": func(n int) []byte {
			var d bytes.Buffer
			d.WriteString("{")
			for d.Len() < n {
				d.WriteString(`"a":{"b":{"c":1},"b":2},`)
			}
			d.WriteString(`"z":0}`)
			return d.Bytes()
		},
		"escaped-names": func(n int) []byte {
			var d bytes.Buffer
			d.WriteString("{")
			for d.Len() < n {
				d.WriteString(`"\u0061\u0061\u0061\u0061\u0061\u0061":{"\u0062":1},`)
			}
			d.WriteString(`"z":0}`)
			return d.Bytes()
		},
		"deep": func(n int) []byte {
			depth := min(n/4, maxJSONDepth)
			var d bytes.Buffer
			for d.Len() < n-2*depth-8 {
				d.WriteString(`[{"a":"` + "x" + `"}],`)
			}
			head := bytes.Repeat([]byte(`{"a":`), depth/5)
			tail := bytes.Repeat([]byte(`}`), depth/5)
			return append(append(append(head, '['), append(d.Bytes(), '0', ']')...), tail...)
		},
	}
	p, err := ParseJSONPath("a.a.a.b")
	if err != nil {
		b.Fatal(err)
	}
	for name, make := range docs {
		b.Run(name, func(b *testing.B) {
			small, big := make(1<<10), make(1<<20)
			var scratch []byte
			var ts, tb time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				for range 1024 {
					if _, _, err := p.Lookup(small, &scratch); err == ErrBadJSON {
						b.Fatal(err)
					}
				}
				ts += time.Since(start)
				start = time.Now()
				if _, _, err := p.Lookup(big, &scratch); err == ErrBadJSON {
					b.Fatal(err)
				}
				tb += time.Since(start)
			}
			perSmall := float64(ts.Nanoseconds()) / float64(1024*len(small)*b.N)
			perBig := float64(tb.Nanoseconds()) / float64(len(big)*b.N)
			b.ReportMetric(perSmall, "ns/byte-1KiB")
			b.ReportMetric(perBig, "ns/byte-1MiB")
			b.ReportMetric(perBig/perSmall, "per-byte-ratio")
		})
	}
}

// BenchmarkStructuredSource: one LineSource alone reading each input of
// BenchmarkStructuredDistinct from memory into batches (framing, key
// extraction, hashing; no pipeline, no sketch). cpu-ns/record is the
// process's CPU time per record, steadier than ns/record on a shared
// machine.
func BenchmarkStructuredSource(b *testing.B) {
	const n = 100_000
	for _, in := range structuredFiles(b, b.TempDir(), n) {
		data, err := os.ReadFile(in.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var batch Batch
			cpu := cputime.Process()
			for b.Loop() {
				readLines(b, data, in.cfg, &batch, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/record")
			b.ReportMetric(float64((cputime.Process()-cpu).Nanoseconds())/float64(n*b.N), "cpu-ns/record")
		})
	}
}

// BenchmarkPairsSource: one LineSource alone reading, from memory, the
// Zipf (group, value) lines of the CLI's BenchmarkGroupedDistinct ("/p/G
// uV", 10^4 groups, 10^5 values), keyed by field 2 (the plain splitter,
// HashOnly, as distinct -f 2 reads) and by the pair of fields 1 and 2 (a
// FieldsKey, as distinct --by 1 -f 2 reads): pairs/plain-cpu is the cost
// of the composite key's extraction, CPU time in the same run.
func BenchmarkPairsSource(b *testing.B) {
	const n = 200_000
	rng := rand.New(rand.NewPCG(15, 2))
	groups := rand.NewZipf(rng, 1.1, 1, 9999)
	values := rand.NewZipf(rng, 1.05, 1, 99999)
	var data []byte
	for range n {
		data = fmt.Appendf(data, "/p/%d u%d\n", groups.Uint64(), values.Uint64())
	}
	fk, err := NewFieldsKey(Whitespace, 0, 1, 2)
	if err != nil {
		b.Fatal(err)
	}
	cfgs := []LineConfig{{Field: 2, HashOnly: true}, {Extract: fk}}
	var cpu [2]time.Duration
	var batch Batch
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for i, cfg := range cfgs {
			c0 := cputime.Process()
			readLines(b, data, cfg, &batch, n)
			cpu[i] += cputime.Process() - c0
		}
	}
	b.ReportMetric(float64(cpu[0].Nanoseconds())/float64(n*b.N), "cpu-ns/record-plain")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/float64(n*b.N), "cpu-ns/record-pairs")
	if cpu[0] > 0 {
		b.ReportMetric(cpu[1].Seconds()/cpu[0].Seconds(), "pairs/plain-cpu")
	}
}

// readLines reads data to its end with a LineSource configured by cfg,
// 1024 records a Fill into batch, and fails b unless it read n lines.
func readLines(b *testing.B, data []byte, cfg LineConfig, batch *Batch, n int64) {
	s, err := NewLineSource(bytes.NewReader(data), cfg)
	if err != nil {
		b.Fatal(err)
	}
	for {
		batch.Reset()
		if err := s.Fill(context.Background(), batch, 1024); err != nil {
			break
		}
	}
	if s.Lines() != n {
		b.Fatalf("%d lines", s.Lines())
	}
}
