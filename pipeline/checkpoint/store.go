package checkpoint

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Store keeps checkpoints. The pipeline writes every part of checkpoint id
// with WritePart, then completes it with Publish; a checkpoint that fails on
// the way is dropped with Abort. Readers see only published checkpoints.
// DirStore is the file-system implementation; object storage or a Kafka
// topic can implement the same five methods.
type Store interface {
	WritePart(id uint64, name string, data []byte) (Part, error)
	Publish(m Manifest) error
	Abort(id uint64) error
	Latest() (Manifest, error)
	ReadPart(m Manifest, name string) ([]byte, error)
}

// DirStore is a Store in a directory (see the package documentation for the
// layout). Create one with NewDirStore; the zero value is not usable.
type DirStore struct {
	dir  string
	keep int
	logf func(format string, args ...any)
	mu   sync.Mutex // serializes Publish and pruning
}

// DefaultKeep is the number of complete checkpoints a DirStore keeps unless
// told otherwise.
const DefaultKeep = 3

// NewDirStore returns a store in dir, creating it if needed, that keeps the
// newest keep complete checkpoints (0 means DefaultKeep) and reports what it
// skips with logf (nil means log.Printf).
func NewDirStore(dir string, keep int, logf func(string, ...any)) (*DirStore, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	if logf == nil {
		logf = log.Printf
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &DirStore{dir: dir, keep: keep, logf: logf}, nil
}

func (s *DirStore) chkDir(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("chk-%020d", id))
}

// WritePart durably writes one part of checkpoint id.
func (s *DirStore) WritePart(id uint64, name string, data []byte) (Part, error) {
	if err := checkName(name); err != nil {
		return Part{}, err
	}
	d := s.chkDir(id)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return Part{}, fmt.Errorf("checkpoint %d: %w", id, err)
	}
	if err := writeFileSync(filepath.Join(d, "part-"+name), data); err != nil {
		return Part{}, fmt.Errorf("checkpoint %d: part %s: %w", id, name, err)
	}
	return Part{Name: name, Size: int64(len(data)), CRC: crc32.Checksum(data, castagnoli)}, nil
}

// Publish completes checkpoint m.ID: it writes the manifest to a temporary
// file, fsyncs it, renames it into place and fsyncs the directories, then
// removes checkpoints older than the newest Keep complete ones.
func (s *DirStore) Publish(m Manifest) error {
	enc, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	d := s.chkDir(m.ID)
	tmp := filepath.Join(d, "MANIFEST.tmp")
	if err := writeFileSync(tmp, enc); err != nil {
		return fmt.Errorf("checkpoint %d: manifest: %w", m.ID, err)
	}
	if err := os.Rename(tmp, filepath.Join(d, "MANIFEST")); err != nil {
		return fmt.Errorf("checkpoint %d: manifest: %w", m.ID, err)
	}
	if err := syncDir(d); err != nil {
		return fmt.Errorf("checkpoint %d: %w", m.ID, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("checkpoint %d: %w", m.ID, err)
	}
	s.prune(m.ID)
	return nil
}

// Abort removes what was written of checkpoint id, as far as it can.
func (s *DirStore) Abort(id uint64) error {
	return os.RemoveAll(s.chkDir(id))
}

// Clear removes every checkpoint in the directory, complete or not, and
// nothing else: a job that starts over must not leave checkpoints behind
// that a later recovery would take for its own.
func (s *DirStore) Clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, err := s.ids()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := os.RemoveAll(s.chkDir(id)); err != nil {
			return fmt.Errorf("checkpoint: clear: %w", err)
		}
	}
	return syncDir(s.dir)
}

// ids returns the checkpoint IDs present, newest first.
func (s *DirStore) ids() ([]uint64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), "chk-"); ok && e.IsDir() {
			if id, err := strconv.ParseUint(n, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}

// prune keeps the newest s.keep checkpoints at or below newest whose parts
// verify (load reads and checks every part; newest, just published, is
// taken as valid), and removes the rest: older
// ones, damaged ones among the kept, and incomplete leftovers above newest
// (checkpoints are published in order, one at a time, so a checkpoint
// above the one just published that does not verify is a leftover of an
// earlier run, which Latest would skip anyway). Counting a checkpoint by
// its manifest alone would let damaged newer ones push the last valid
// fallback out. A valid checkpoint above newest is left alone.
func (s *DirStore) prune(newest uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, err := s.ids()
	if err != nil {
		return
	}
	valid := 0
	for _, id := range ids {
		if valid >= s.keep {
			_ = os.RemoveAll(s.chkDir(id))
			continue
		}
		if id == newest {
			// Just written, fsynced and checksummed from memory: only
			// the older ones can have been damaged since.
			valid++
			continue
		}
		if _, err := s.load(id); err != nil {
			s.logf("checkpoint %d in %s removed: %v", id, s.dir, err)
			_ = os.RemoveAll(s.chkDir(id))
			continue
		}
		if id <= newest {
			valid++
		}
	}
}

// Latest returns the manifest of the newest complete checkpoint whose parts
// are all present and intact, logging each newer one it skips and why. It
// returns ErrNoCheckpoint if there is none.
func (s *DirStore) Latest() (Manifest, error) {
	ids, err := s.ids()
	if err != nil {
		return Manifest{}, err
	}
	for _, id := range ids {
		m, err := s.load(id)
		if err != nil {
			s.logf("checkpoint %d in %s skipped: %v", id, s.dir, err)
			continue
		}
		return m, nil
	}
	return Manifest{}, ErrNoCheckpoint
}

func (s *DirStore) load(id uint64) (Manifest, error) {
	enc, err := os.ReadFile(filepath.Join(s.chkDir(id), "MANIFEST"))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, errors.New("no manifest: the checkpoint never completed")
	}
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := m.UnmarshalBinary(enc); err != nil {
		return Manifest{}, err
	}
	if m.ID != id {
		return Manifest{}, fmt.Errorf("manifest names checkpoint %d", m.ID)
	}
	for _, p := range m.Parts {
		if _, err := s.ReadPart(m, p.Name); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

// ReadPart reads part name of checkpoint m and checks it against m.
func (s *DirStore) ReadPart(m Manifest, name string) ([]byte, error) {
	p, ok := m.Part(name)
	if !ok {
		return nil, fmt.Errorf("checkpoint %d: %q: %w", m.ID, name, ErrNoPart)
	}
	data, err := os.ReadFile(filepath.Join(s.chkDir(m.ID), "part-"+name))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d: part %s: %w", m.ID, name, err)
	}
	if int64(len(data)) != p.Size {
		return nil, fmt.Errorf("checkpoint %d: part %s: %d bytes, manifest says %d: %w", m.ID, name, len(data), p.Size, ErrCorruptPart)
	}
	if crc := crc32.Checksum(data, castagnoli); crc != p.CRC {
		return nil, fmt.Errorf("checkpoint %d: part %s: checksum %08x, manifest says %08x: %w", m.ID, name, crc, p.CRC, ErrCorruptPart)
	}
	return data, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeFileSync writes data to path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
