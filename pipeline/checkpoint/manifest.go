package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/streamstat/streamstat/internal/envelope"
)

// kindManifest is the envelope kind of a manifest.
const kindManifest envelope.Kind = 40

// maxParts bounds the parts of one checkpoint, and so what a crafted
// manifest can make a reader allocate.
const maxParts = 1 << 16

// Errors.
var (
	// ErrNoCheckpoint: the store holds no complete checkpoint.
	ErrNoCheckpoint = errors.New("checkpoint: no complete checkpoint")
	// ErrBadName: a part name outside [A-Za-z0-9._-], empty or too long.
	ErrBadName = errors.New("checkpoint: bad part name")
	// ErrCorruptPart: a part's size or checksum differs from its manifest.
	ErrCorruptPart = errors.New("checkpoint: part does not match its manifest")
	// ErrNoPart: the manifest names no such part.
	ErrNoPart = errors.New("checkpoint: no such part")
)

// Part describes one part of a checkpoint.
type Part struct {
	Name string
	Size int64
	CRC  uint32 // CRC-32C of the part's bytes
}

// Manifest names the parts of a complete checkpoint. The zero value is an
// empty manifest of checkpoint 0.
type Manifest struct {
	ID    uint64
	Time  time.Time // when the checkpoint was triggered
	Parts []Part    // sorted by name
}

// Part returns the part called name.
func (m Manifest) Part(name string) (Part, bool) {
	i, ok := slices.BinarySearchFunc(m.Parts, name, func(p Part, n string) int { return strings.Compare(p.Name, n) })
	if !ok {
		return Part{}, false
	}
	return m.Parts[i], true
}

// Size is the total size of the parts.
func (m Manifest) Size() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

func checkName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("%q: %w", name, ErrBadName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') || name == "." || name == ".." {
			return fmt.Errorf("%q: %w", name, ErrBadName)
		}
	}
	return nil
}

// MarshalBinary encodes m in the streamstat envelope (kind 40): the ID in
// the shape, then the time and the parts sorted by name.
func (m Manifest) MarshalBinary() ([]byte, error) {
	parts := slices.Clone(m.Parts)
	slices.SortFunc(parts, func(a, b Part) int { return strings.Compare(a.Name, b.Name) })
	b, start := envelope.Begin(nil, envelope.Header{Kind: kindManifest, HashID: envelope.HashXXH64, Shape: [4]uint64{m.ID, uint64(len(parts))}})
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Time.UnixNano()))
	for i, p := range parts {
		if err := checkName(p.Name); err != nil {
			return nil, err
		}
		if i > 0 && parts[i-1].Name == p.Name {
			return nil, fmt.Errorf("checkpoint: part %q twice: %w", p.Name, ErrBadName)
		}
		b = binary.AppendUvarint(b, uint64(len(p.Name)))
		b = append(b, p.Name...)
		b = binary.AppendUvarint(b, uint64(p.Size))
		b = binary.LittleEndian.AppendUint32(b, p.CRC)
	}
	return envelope.End(b, start), nil
}

// UnmarshalBinary decodes a manifest; errors wrap the envelope sentinels
// (checkpoint readers treat any of them as a corrupt manifest).
func (m *Manifest) UnmarshalBinary(data []byte) error {
	h, payload, err := envelope.Decode(data, kindManifest)
	if err != nil {
		return fmt.Errorf("checkpoint: manifest: %w", err)
	}
	n := h.Shape[1]
	// Each part takes at least 1+1+1+4 bytes: n is bounded by the input.
	if n > maxParts || n > uint64(len(payload))/7 || h.Shape[2] != 0 || h.Shape[3] != 0 {
		return fmt.Errorf("checkpoint: manifest of %d parts in %d bytes: %w", n, len(payload), envelope.ErrCorrupt)
	}
	r := envelope.NewReader(payload)
	out := Manifest{ID: h.Shape[0], Time: time.Unix(0, int64(r.U64())).UTC(), Parts: make([]Part, 0, n)}
	for range n {
		l := r.Uvarint()
		if l == 0 || l > 200 {
			return fmt.Errorf("checkpoint: manifest part name of %d bytes: %w", l, envelope.ErrCorrupt)
		}
		p := Part{Name: string(r.Bytes(int(l)))}
		size := r.Uvarint()
		p.CRC = r.U32()
		if r.Err != nil {
			break
		}
		if size > 1<<62 || checkName(p.Name) != nil || len(out.Parts) > 0 && out.Parts[len(out.Parts)-1].Name >= p.Name {
			return fmt.Errorf("checkpoint: manifest part %q: %w", p.Name, envelope.ErrCorrupt)
		}
		p.Size = int64(size)
		out.Parts = append(out.Parts, p)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("checkpoint: manifest: %w", err)
	}
	// Canonical: the time must round-trip, the varints be minimal.
	if again, _ := out.MarshalBinary(); string(again) != string(data) {
		return fmt.Errorf("checkpoint: manifest not in canonical form: %w", envelope.ErrCorrupt)
	}
	*m = out
	return nil
}
