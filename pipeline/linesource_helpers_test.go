package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// lsRec is a record with its key copied out of the batch.
type lsRec struct {
	Key      string
	Value    float64
	HasValue bool
}

// lsDrain calls Fill with batches of up to max records until io.EOF and
// returns every record, checking that each hash is the key's xxhash.
func lsDrain(t testing.TB, src Source, max int) []lsRec {
	t.Helper()
	recs, err := lsDrainErr(src, max)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func lsDrainErr(src Source, max int) ([]lsRec, error) {
	var recs []lsRec
	var b Batch
	for calls := 0; ; calls++ {
		if calls > 1<<24 {
			return recs, errors.New("source never ends")
		}
		b.Reset()
		err := src.Fill(context.Background(), &b, max)
		if b.Len() > max {
			return recs, fmt.Errorf("Fill appended %d records, max %d", b.Len(), max)
		}
		for i := range b.Records {
			r := &b.Records[i]
			if r.Hash != sketch.Hash(b.Key(i)) {
				return recs, fmt.Errorf("record %d: hash %x is not xxhash of %q", len(recs), r.Hash, b.Key(i))
			}
			recs = append(recs, lsRec{Key: string(b.Key(i)), Value: r.Value, HasValue: r.HasValue})
		}
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
	}
}

// lsRef is the reference line splitter: split on '\n', drop the empty
// piece after a final newline, strip one trailing '\r' from each line.
func lsRef(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	parts := bytes.Split(data, []byte{'\n'})
	if len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(bytes.TrimSuffix(p, []byte{'\r'}))
	}
	return out
}

func lsKeys(recs []lsRec) []string {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	return keys
}

func lsEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lsNoSeek hides a reader's Seek method.
type lsNoSeek struct{ r io.Reader }

func (n lsNoSeek) Read(p []byte) (int, error) { return n.r.Read(p) }

// lsChunkReader returns at most k bytes per Read, and sometimes 0 bytes
// with a nil error, as io.Reader allows.
type lsChunkReader struct {
	data []byte
	k    int
	zero bool
}

func (c *lsChunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	if c.zero = !c.zero; c.zero {
		return 0, nil
	}
	n := copy(p[:min(len(p), c.k)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// lsLoopReader repeats data forever without allocating.
type lsLoopReader struct {
	data []byte
	off  int
}

func (l *lsLoopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], l.data[l.off:])
		n += k
		l.off = (l.off + k) % len(l.data)
	}
	return n, nil
}
