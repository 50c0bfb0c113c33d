package kafka

import (
	"bytes"
	"errors"
	"testing"
)

func testSnapshot(stateLen, shedLen int) *Snapshot {
	s := &Snapshot{Partition: 3, Offset: 1234, Records: 1000, Shed: 200, Skipped: 34, ID: 0xfeedface}
	for i := range stateLen {
		s.State = append(s.State, byte(i*31))
	}
	for i := range shedLen {
		s.ShedState = append(s.ShedState, byte(i*7))
	}
	return s
}

// roundTrip encodes s in chunks of at most maxValue bytes and assembles it.
func roundTrip(t *testing.T, s *Snapshot, maxValue int) Snapshot {
	t.Helper()
	chunks, man := encodeSnapshot(s, maxValue)
	m, err := decodeManifest(man)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]chunk{}
	for _, c := range chunks {
		if len(c) > maxValue {
			t.Fatalf("chunk of %d bytes, limit %d", len(c), maxValue)
		}
		ch, err := decodeChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		got[ch.index] = ch
	}
	out, err := assemble(m, got)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKafkaSnapshotRoundTrip(t *testing.T) {
	for _, tc := range []struct{ state, shed, max int }{
		{0, 0, 100}, {1, 0, 100}, {77, 0, 100}, {1000, 0, 100}, {1000, 50, 64}, {0, 300, 100}, {5000, 5000, 4096},
	} {
		s := testSnapshot(tc.state, tc.shed)
		got := roundTrip(t, s, tc.max)
		if !bytes.Equal(got.State, s.State) || !bytes.Equal(got.ShedState, s.ShedState) ||
			got.Partition != s.Partition || got.Offset != s.Offset || got.Records != s.Records ||
			got.Shed != s.Shed || got.Skipped != s.Skipped || got.ID != s.ID {
			t.Errorf("state=%d,shed=%d,max=%d: round trip changed the snapshot", tc.state, tc.shed, tc.max)
		}
	}
}

func TestKafkaSnapshotMismatch(t *testing.T) {
	s := testSnapshot(1000, 10)
	chunks, man := encodeSnapshot(s, 200)
	m, _ := decodeManifest(man)
	all := map[uint32]chunk{}
	for _, c := range chunks {
		ch, _ := decodeChunk(c)
		all[ch.index] = ch
	}
	other := testSnapshot(1000, 10)
	other.ID++
	oc, _ := encodeSnapshot(other, 200)
	stale, _ := decodeChunk(oc[2])
	for name, mod := range map[string]func(map[uint32]chunk){
		"missing chunk": func(c map[uint32]chunk) { delete(c, 1) },
		"stale chunk":   func(c map[uint32]chunk) { c[2] = stale },
	} {
		cs := map[uint32]chunk{}
		for k, v := range all {
			cs[k] = v
		}
		mod(cs)
		if _, err := assemble(m, cs); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v, want ErrBadSnapshot", name, err)
		}
	}
}

// FuzzDecodeCheckpointRecord: any bytes decode to a manifest or chunk, or
// to an error wrapping ErrBadSnapshot, never a panic; a decoded manifest
// with decoded chunks assembles or fails the same way.
func FuzzDecodeCheckpointRecord(f *testing.F) {
	s := testSnapshot(300, 20)
	chunks, man := encodeSnapshot(s, 128)
	f.Add(man, chunks[0])
	f.Add(man[:len(man)-1], chunks[1])
	f.Add([]byte("SSKM\x01"), []byte("SSKC\x01"))
	bad := bytes.Clone(man)
	bad[20] ^= 1
	f.Add(bad, chunks[2][:10])
	f.Fuzz(func(t *testing.T, mb, cb []byte) {
		m, merr := decodeManifest(mb)
		if merr != nil && !errors.Is(merr, ErrBadSnapshot) {
			t.Fatalf("manifest: %v", merr)
		}
		c, cerr := decodeChunk(cb)
		if cerr != nil && !errors.Is(cerr, ErrBadSnapshot) {
			t.Fatalf("chunk: %v", cerr)
		}
		if merr == nil && cerr == nil {
			_, err := assemble(m, map[uint32]chunk{c.index: c})
			if err != nil && !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("assemble: %v", err)
			}
		}
	})
}
