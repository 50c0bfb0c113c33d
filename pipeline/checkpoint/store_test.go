package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/envelope"
)

// write stores a complete checkpoint id with parts a and b.
func write(t *testing.T, s *DirStore, id uint64) Manifest {
	t.Helper()
	m := Manifest{ID: id, Time: time.Unix(1700000000, int64(id)).UTC()}
	for _, name := range []string{"src-0", "op-0-1"} {
		p, err := s.WritePart(id, name, []byte(fmt.Sprintf("%s of %d", name, id)))
		if err != nil {
			t.Fatal(err)
		}
		m.Parts = append(m.Parts, p)
	}
	if err := s.Publish(m); err != nil {
		t.Fatal(err)
	}
	return m
}

type logs struct{ lines []string }

func (l *logs) logf(format string, args ...any) {
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func newStore(t *testing.T, keep int) (*DirStore, *logs, string) {
	dir := t.TempDir()
	l := new(logs)
	s, err := NewDirStore(dir, keep, l.logf)
	if err != nil {
		t.Fatal(err)
	}
	return s, l, dir
}

func TestDirStoreRoundTrip(t *testing.T) {
	s, _, _ := newStore(t, 0)
	if _, err := s.Latest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("empty store: %v", err)
	}
	write(t, s, 1)
	want := write(t, s, 2)
	got, err := s.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 2 || !got.Time.Equal(want.Time) || len(got.Parts) != 2 {
		t.Fatalf("latest %+v", got)
	}
	data, err := s.ReadPart(got, "src-0")
	if err != nil || string(data) != "src-0 of 2" {
		t.Fatalf("part %q, %v", data, err)
	}
	if _, err := s.ReadPart(got, "nope"); !errors.Is(err, ErrNoPart) {
		t.Errorf("missing part: %v", err)
	}
}

func TestDirStoreKeepsLastK(t *testing.T) {
	s, _, dir := newStore(t, 3)
	for id := uint64(1); id <= 6; id++ {
		write(t, s, id)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !strings.HasSuffix(names[0], "4") {
		t.Errorf("kept %v, want checkpoints 4, 5, 6", names)
	}
}

// TestDirStoreSkipsBroken damages the newest checkpoint in every way a crash
// or a disk can, and checks that Latest falls back to the previous complete
// one and says why.
func TestDirStoreSkipsBroken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		reason string
	}{
		{"no manifest (crash before publish)", func(d string) { os.Remove(filepath.Join(d, "MANIFEST")) }, "never completed"},
		{"truncated manifest", func(d string) { truncate(filepath.Join(d, "MANIFEST"), 10) }, "truncated"},
		{"corrupt manifest", func(d string) { flipByte(filepath.Join(d, "MANIFEST"), 60) }, "checksum"},
		{"missing part", func(d string) { os.Remove(filepath.Join(d, "part-src-0")) }, "no such file"},
		{"truncated part", func(d string) { truncate(filepath.Join(d, "part-op-0-1"), 3) }, "manifest says"},
		{"altered part", func(d string) { flipByte(filepath.Join(d, "part-op-0-1"), 0) }, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, l, _ := newStore(t, 5)
			write(t, s, 1)
			write(t, s, 2)
			tc.damage(s.chkDir(2))
			m, err := s.Latest()
			if err != nil || m.ID != 1 {
				t.Fatalf("latest %d, %v; want checkpoint 1", m.ID, err)
			}
			if len(l.lines) != 1 || !strings.Contains(l.lines[0], "checkpoint 2") || !strings.Contains(l.lines[0], tc.reason) {
				t.Errorf("log %q, want one line about checkpoint 2 saying %q", l.lines, tc.reason)
			}
		})
	}
}

// TestDirStoreFailedWriteKeepsEarlier makes a checkpoint's directory
// impossible to create (a file stands in its place, as good as a full disk
// for this purpose): that checkpoint fails, the earlier one stays.
func TestDirStoreFailedWriteKeepsEarlier(t *testing.T) {
	s, _, _ := newStore(t, 1)
	write(t, s, 1)
	if err := os.WriteFile(s.chkDir(2), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WritePart(2, "src-0", []byte("x")); err == nil {
		t.Fatal("write into a blocked checkpoint succeeded")
	}
	_ = s.Abort(2)
	if m, err := s.Latest(); err != nil || m.ID != 1 {
		t.Fatalf("latest %d, %v; want checkpoint 1", m.ID, err)
	}
}

func TestBadPartNames(t *testing.T) {
	s, _, _ := newStore(t, 1)
	for _, name := range []string{"", ".", "..", "a/b", "../x", "sp ace", strings.Repeat("x", 201)} {
		if _, err := s.WritePart(1, name, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", name, err)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := Manifest{ID: 9, Time: time.Unix(5, 6).UTC(), Parts: []Part{{"b", 2, 3}, {"a", 1 << 40, 7}}}
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Manifest
	if err := got.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if got.ID != 9 || !got.Time.Equal(m.Time) || got.Parts[0].Name != "a" || got.Parts[1] != (Part{"b", 2, 3}) {
		t.Errorf("got %+v", got)
	}
	if _, err := (Manifest{Parts: []Part{{"a", 1, 1}, {"a", 2, 2}}}).MarshalBinary(); !errors.Is(err, ErrBadName) {
		t.Errorf("duplicate part names: %v", err)
	}
}

func FuzzManifest(f *testing.F) {
	m := Manifest{ID: 3, Time: time.Unix(1, 2).UTC(), Parts: []Part{{"op-1-0", 100, 0xdeadbeef}, {"src-0", 8, 1}}}
	enc, _ := m.MarshalBinary()
	f.Add(enc)
	f.Add(enc[:len(enc)-5])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Manifest
		err := m.UnmarshalBinary(data)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || string(again) != string(data) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

func truncate(path string, n int64) { _ = os.Truncate(path, n) }

func flipByte(path string, i int) {
	b, _ := os.ReadFile(path)
	if i < len(b) {
		b[i] ^= 0x40
	}
	_ = os.WriteFile(path, b, 0o644)
}

func TestDirStoreClear(t *testing.T) {
	s, _, dir := newStore(t, 3)
	write(t, s, 1)
	write(t, s, 2)
	if _, err := s.WritePart(3, "src-0", []byte("partial")); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "JOB")
	if err := os.WriteFile(other, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Latest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("after Clear, Latest = %v; want ErrNoCheckpoint", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "JOB" {
		t.Errorf("after Clear the directory holds %v; want only the file that is not a checkpoint", ents)
	}
}

// TestDirStorePruneKeepsValidFallback is issue 11's scenario: keep=2, a
// damaged part in checkpoint 6, then 7 published. Pruning must count only
// checkpoints whose parts verify, so 5 stays; when 7 is damaged too,
// Latest still finds 5.
func TestDirStorePruneKeepsValidFallback(t *testing.T) {
	s, _, _ := newStore(t, 2)
	for id := uint64(3); id <= 5; id++ {
		write(t, s, id)
	}
	write(t, s, 6)
	flipByte(filepath.Join(s.chkDir(6), "part-op-0-1"), 0)
	write(t, s, 7)
	for id, want := range map[uint64]bool{3: false, 4: false, 5: true, 6: false, 7: true} {
		if _, err := os.Stat(s.chkDir(id)); (err == nil) != want {
			t.Errorf("checkpoint %d present %v, want %v", id, err == nil, want)
		}
	}
	flipByte(filepath.Join(s.chkDir(7), "part-src-0"), 0)
	m, err := s.Latest()
	if err != nil || m.ID != 5 {
		t.Fatalf("Latest = %d, %v; want checkpoint 5, the last valid fallback", m.ID, err)
	}
}

// TestDirStorePrunesLeftoverAbove: an incomplete checkpoint above the one
// published (a crashed earlier run's) is removed; a complete one is not.
func TestDirStorePrunesLeftoverAbove(t *testing.T) {
	s, _, _ := newStore(t, 2)
	write(t, s, 8) // complete, from an earlier run
	if _, err := s.WritePart(9, "src-0", []byte("partial")); err != nil {
		t.Fatal(err)
	}
	write(t, s, 2)
	if _, err := os.Stat(s.chkDir(9)); err == nil {
		t.Error("incomplete checkpoint 9 above the published 2 was kept")
	}
	for _, id := range []uint64{2, 8} {
		if _, err := os.Stat(s.chkDir(id)); err != nil {
			t.Errorf("complete checkpoint %d removed: %v", id, err)
		}
	}
}
