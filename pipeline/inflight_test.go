package pipeline

import (
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func TestInflightRoundTrip(t *testing.T) {
	var b Batch
	b.Add([]byte("a"))
	r := b.Add([]byte{})
	r.Value, r.HasValue, r.Time, r.KeepP = -2.5, true, -7, 0.25
	b.Add([]byte("\x00\xff long key"))
	got, err := decodeBatches(appendBatch(nil, &b), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Len() != 2 || got[1].Len() != 1 {
		t.Fatalf("batches %d", len(got))
	}
	g := got[0].Records[1]
	if g != b.Records[1] || string(got[1].Key(0)) != "\x00\xff long key" || got[1].Records[0].Hash != b.Records[2].Hash {
		t.Errorf("record %+v, want %+v", g, b.Records[1])
	}
}

func FuzzInflight(f *testing.F) {
	var b Batch
	b.Add([]byte("key")).HasValue = true
	f.Add(appendBatch(nil, &b))
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := decodeBatches(data, 3)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		var again []byte
		for _, b := range bs {
			again = appendBatch(again, b)
		}
		if len(again) > len(data) {
			t.Fatalf("re-encoding grew: %d > %d", len(again), len(data))
		}
	})
}
