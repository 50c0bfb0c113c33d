package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestLineSourceConsumed: Consumed receives exactly the bytes before
// Offset, in order, whatever the batch and buffer sizes, with lines
// skipped for a missing field and bytes skipped by SetPosition included.
func TestLineSourceConsumed(t *testing.T) {
	var data bytes.Buffer
	for i := range 3000 {
		if i%7 == 0 {
			fmt.Fprintf(&data, "lonely%d\n", i)
		} else {
			fmt.Fprintf(&data, "key%d value%d\n", i%13, i)
		}
	}
	data.WriteString("last line without newline")
	in := data.Bytes()
	for _, tc := range []struct {
		name   string
		cfg    LineConfig
		batch  int
		skipTo int64 // SetPosition before reading; must be a line start
	}{
		{"whole lines", LineConfig{BufferSize: 16}, 5, 0},
		{"field 2, lines skipped", LineConfig{Field: 2, BufferSize: 64}, 17, 0},
		{"big batches", LineConfig{}, 1000, 0},
		{"skip forward first", LineConfig{BufferSize: 32}, 9, int64(bytes.IndexByte(in[5000:], '\n') + 5001)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			cfg := tc.cfg
			cfg.Consumed = &got
			s, err := NewLineSource(lsNoSeek{bytes.NewReader(in)}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.skipTo > 0 {
				if err := s.SetPosition(tc.skipTo); err != nil {
					t.Fatal(err)
				}
			}
			var b Batch
			for {
				b.Reset()
				err := s.Fill(context.Background(), &b, tc.batch)
				if !bytes.Equal(got.Bytes(), in[:s.Offset()]) {
					t.Fatalf("at offset %d: Consumed holds %d bytes, not the %d before it", s.Offset(), got.Len(), s.Offset())
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got.Len() != len(in) {
				t.Fatalf("Consumed holds %d bytes at the end, want %d", got.Len(), len(in))
			}
		})
	}
}
