package checkpointtest

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// publish stores checkpoint id with the given parts.
func publish(t *testing.T, s *checkpoint.DirStore, id uint64, parts map[string][]byte) {
	t.Helper()
	m := checkpoint.Manifest{ID: id, Time: time.Unix(1700000000, 0).UTC()}
	names := make([]string, 0, len(parts))
	for name := range parts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p, err := s.WritePart(id, name, parts[name])
		if err != nil {
			t.Fatal(err)
		}
		m.Parts = append(m.Parts, p)
	}
	if err := s.Publish(m); err != nil {
		t.Fatal(err)
	}
}

func le(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// TestPositions: the newest checkpoint's src-i parts, in order, up to the
// first missing or malformed one; an empty directory is an error.
func TestPositions(t *testing.T) {
	dir := t.TempDir()
	s, err := checkpoint.NewDirStore(dir, 0, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Positions(dir); !errors.Is(err, checkpoint.ErrNoCheckpoint) {
		t.Errorf("no checkpoint: error %v, want ErrNoCheckpoint", err)
	}
	publish(t, s, 1, map[string][]byte{"src-0": le(1)})
	publish(t, s, 2, map[string][]byte{"src-0": le(7), "src-1": le(-3), "src-2": []byte("short"), "src-3": le(9), "op-0": le(5)})
	got, err := Positions(dir)
	if err != nil || !slices.Equal(got, []int64{7, -3}) {
		t.Errorf("Positions = %v, %v; want [7 -3] (newest checkpoint, up to the malformed src-2)", got, err)
	}
}
