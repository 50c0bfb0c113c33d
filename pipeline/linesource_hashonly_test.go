package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// hashOnlyDrain reads src to the end and returns every record (with its
// key, if the batch has one), checking that a HashOnly batch holds no
// key bytes.
func hashOnlyDrain(t *testing.T, src Source, max int, hashOnly bool) (recs []Record, keys []string) {
	t.Helper()
	var b Batch
	for {
		b.Reset()
		err := src.Fill(context.Background(), &b, max)
		for i := range b.Records {
			if hashOnly && len(b.Key(i)) != 0 {
				t.Fatalf("HashOnly: record %d has key %q", len(recs), b.Key(i))
			}
			recs = append(recs, b.Records[i])
			keys = append(keys, string(b.Key(i)))
		}
		if hashOnly && b.Bytes() != 0 {
			t.Fatalf("HashOnly: batch holds %d arena bytes", b.Bytes())
		}
		if errors.Is(err, io.EOF) {
			return recs, keys
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLineSourceHashOnly reads the same lines with and without HashOnly,
// whole lines, fields with values, and keys over the cap, and checks that
// the records are the same (hash, value, count, skips) but for their keys,
// which HashOnly leaves out.
func TestLineSourceHashOnly(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var sb strings.Builder
	for i := range 5000 {
		n := r.IntN(200)
		if i%50 == 0 {
			n = 1000 + r.IntN(3000) // over the cap below
		}
		for range n {
			sb.WriteByte("ab c\t12.5x"[r.IntN(10)])
		}
		if i%7 == 0 {
			sb.WriteByte('\r')
		}
		sb.WriteByte('\n')
	}
	sb.WriteString("last line without a newline")
	in := sb.String()
	for _, cfg := range []LineConfig{
		{},
		{MaxKeyLen: 500},
		{Field: 2},
		{Field: 1, ValueField: 2, MaxKeyLen: 40},
		{BufferSize: 64, MaxBatchBytes: 100},
	} {
		for _, max := range []int{1, 7, DefaultBatchSize} {
			t.Run(fmt.Sprintf("%+v/max=%d", cfg, max), func(t *testing.T) {
				src, err := NewLineSource(strings.NewReader(in), cfg)
				if err != nil {
					t.Fatal(err)
				}
				want, keys := hashOnlyDrain(t, src, max, false)
				cfg.HashOnly = true
				ho, err := NewLineSource(strings.NewReader(in), cfg)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := hashOnlyDrain(t, ho, max, true)
				if len(got) != len(want) {
					t.Fatalf("HashOnly made %d records, want %d", len(got), len(want))
				}
				for i := range want {
					w := want[i]
					w.keyOff, w.keyLen = 0, 0
					if got[i] != w {
						t.Fatalf("record %d (key %q): HashOnly %+v, want %+v", i, keys[i], got[i], w)
					}
				}
				if ho.Lines() != src.Lines() || ho.Skipped() != src.Skipped() || ho.BadValues() != src.BadValues() || ho.Offset() != src.Offset() {
					t.Fatalf("HashOnly counts lines %d skipped %d bad %d offset %d, want %d %d %d %d",
						ho.Lines(), ho.Skipped(), ho.BadValues(), ho.Offset(), src.Lines(), src.Skipped(), src.BadValues(), src.Offset())
				}
			})
		}
	}
}

// TestLineSourceFillAllocs checks that reading lines allocates nothing
// once the batch has grown, with and without HashOnly, whole lines and
// fields; and lines of 100 bytes, which takeWhole hashes and copies every
// hashEvery bytes (the short lines seldom take that path), with and
// without HashOnly and with top's key cap.
func TestLineSourceFillAllocs(t *testing.T) {
	var sb bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&sb, "key-%d %d\n", i*7919%5000, i)
	}
	short := sb.Bytes()
	long := lsBenchData(1<<20, func(r *rand.Rand, dst []byte) []byte {
		for range 100 {
			dst = append(dst, 'a'+byte(r.IntN(26)))
		}
		return dst
	})
	for _, c := range []struct {
		data []byte
		cfg  LineConfig
	}{
		{short, LineConfig{}}, {short, LineConfig{HashOnly: true}},
		{short, LineConfig{Field: 1, ValueField: 2}}, {short, LineConfig{Field: 1, HashOnly: true}},
		{long, LineConfig{}}, {long, LineConfig{HashOnly: true}}, {long, LineConfig{MaxKeyLen: 4096}},
	} {
		cfg := c.cfg
		rd := bytes.NewReader(c.data)
		s, err := NewLineSource(rd, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		read := func() {
			if err := s.SetPosition(0); err != nil {
				t.Fatal(err)
			}
			for {
				b.Reset()
				if err := s.Fill(context.Background(), &b, DefaultBatchSize); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					return
				}
			}
		}
		read() // grows the batch
		if a := testing.AllocsPerRun(5, read); a != 0 {
			t.Errorf("%+v on %d-byte lines: got %v allocation(s) per read of the input (want zero)", cfg, len(c.data)/bytes.Count(c.data, []byte{'\n'}), a)
		}
	}
}
