// Package envelope implements the canonical, versioned, little-endian binary
// envelope that every streamstat sketch and sample is encoded in.
//
// # Layout
//
// All integers are little-endian.
//
//	offset size field
//	0      4    magic "SSTK"
//	4      1    format version (1)
//	5      1    kind (see Kind)
//	6      1    hash id (1 = xxhash64)
//	7      1    flags, must be 0
//	8      8    hash seed (0 for xxhash64.Sum64)
//	16     32   shape: four uint64, meaning fixed per kind, unused ones 0
//	48     8    payload length L
//	56     L    payload, layout fixed per kind
//	56+L   4    CRC-32C (Castagnoli) of bytes [0, 56+L)
//
// The checksum is verified before any payload is parsed, and the payload
// length must match the input exactly, so a decoder never sizes an allocation
// from a header alone: kinds check that their shape implies exactly L payload
// bytes before they allocate.
package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Version is the envelope format version this package writes and reads.
const Version = 1

// HeaderSize is the number of bytes before the payload; Overhead adds the
// trailing checksum.
const (
	HeaderSize = 56
	Overhead   = HeaderSize + 4
)

// HashXXH64 is the only hash id written today: github.com/cespare/xxhash/v2.
const HashXXH64 = 1

var magic = [4]byte{'S', 'S', 'T', 'K'}

// Kind names what an encoding holds.
type Kind uint8

// Kinds. Values are part of the format: never renumber.
const (
	KindHLL               Kind = 1
	KindCountMin          Kind = 2
	KindTopK              Kind = 3
	KindBloom             Kind = 4
	KindGroupDistinct     Kind = 5
	KindGroupHLL          Kind = 6
	KindReservoir         Kind = 16
	KindWeightedReservoir Kind = 17
	KindMoments           Kind = 18
	KindKLL               Kind = 19
	KindKeySampler        Kind = 20
	KindShedState         Kind = 32
	KindTheta             Kind = 33
)

func (k Kind) String() string {
	switch k {
	case KindHLL:
		return "HLL"
	case KindCountMin:
		return "CountMin"
	case KindTopK:
		return "TopK"
	case KindBloom:
		return "Bloom"
	case KindGroupDistinct:
		return "GroupDistinct"
	case KindGroupHLL:
		return "GroupHLL"
	case KindReservoir:
		return "Reservoir"
	case KindWeightedReservoir:
		return "WeightedReservoir"
	case KindMoments:
		return "Moments"
	case KindKLL:
		return "KLL"
	case KindKeySampler:
		return "KeySampler"
	case KindShedState:
		return "ShedState"
	case KindTheta:
		return "Theta"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Errors returned (wrapped) by Decode and by the kinds' decoders. The sketch
// and sampling packages re-export them, so errors.Is works across packages.
var (
	// ErrTruncated means the input ends before the encoding does.
	ErrTruncated = errors.New("streamstat: encoding truncated")
	// ErrNotEncoding means the input does not start with the streamstat magic.
	ErrNotEncoding = errors.New("streamstat: not a streamstat encoding (bad magic)")
	// ErrVersion means the encoding has a format version this build cannot read.
	ErrVersion = errors.New("streamstat: unsupported encoding version")
	// ErrKind means the encoding holds another kind of sketch than asked for.
	ErrKind = errors.New("streamstat: encoding holds another kind")
	// ErrHash means the encoding was made with a hash function or seed this
	// build does not use.
	ErrHash = errors.New("streamstat: unsupported hash function or seed")
	// ErrChecksum means the bytes were altered after they were written.
	ErrChecksum = errors.New("streamstat: encoding checksum mismatch")
	// ErrCorrupt means the checksum holds but the content is inconsistent: a
	// shape out of range, a payload of the wrong size, an impossible value.
	ErrCorrupt = errors.New("streamstat: encoding corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the fixed part of an encoding.
type Header struct {
	Kind   Kind
	HashID uint8
	Seed   uint64
	Shape  [4]uint64
}

// Begin appends a header for h to dst with a placeholder payload length.
// Append the payload, then call End with the offset Begin returned.
func Begin(dst []byte, h Header) (out []byte, start int) {
	start = len(dst)
	dst = append(dst, magic[:]...)
	dst = append(dst, Version, byte(h.Kind), h.HashID, 0)
	dst = binary.LittleEndian.AppendUint64(dst, h.Seed)
	for _, s := range h.Shape {
		dst = binary.LittleEndian.AppendUint64(dst, s)
	}
	dst = binary.LittleEndian.AppendUint64(dst, 0)
	return dst, start
}

// End patches the payload length of the encoding that starts at start and
// appends its checksum.
func End(dst []byte, start int) []byte {
	binary.LittleEndian.PutUint64(dst[start+48:], uint64(len(dst)-start-HeaderSize))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// Decode checks the envelope of data, which must hold exactly one encoding of
// kind want, and returns its header and payload. The payload aliases data.
func Decode(data []byte, want Kind) (Header, []byte, error) {
	var h Header
	if len(data) < 4 {
		return h, nil, fmt.Errorf("%v: %d bytes, need at least %d: %w", want, len(data), Overhead, ErrTruncated)
	}
	if [4]byte(data[:4]) != magic {
		return h, nil, fmt.Errorf("%v: %w", want, ErrNotEncoding)
	}
	if len(data) < Overhead {
		return h, nil, fmt.Errorf("%v: %d bytes, need at least %d: %w", want, len(data), Overhead, ErrTruncated)
	}
	if data[4] != Version {
		return h, nil, fmt.Errorf("%v: version %d, this build reads %d: %w", want, data[4], Version, ErrVersion)
	}
	h.Kind, h.HashID = Kind(data[5]), data[6]
	if h.Kind != want {
		return h, nil, fmt.Errorf("encoding holds %v, want %v: %w", h.Kind, want, ErrKind)
	}
	n := binary.LittleEndian.Uint64(data[48:])
	if rest := uint64(len(data) - Overhead); n > rest {
		return h, nil, fmt.Errorf("%v: payload of %d bytes, %d present: %w", want, n, rest, ErrTruncated)
	} else if n < rest {
		return h, nil, fmt.Errorf("%v: %d bytes after the encoding: %w", want, rest-n, ErrCorrupt)
	}
	end := HeaderSize + int(n)
	if got, sum := crc32.Checksum(data[:end], castagnoli), binary.LittleEndian.Uint32(data[end:]); got != sum {
		return h, nil, fmt.Errorf("%v: checksum %08x, computed %08x: %w", want, sum, got, ErrChecksum)
	}
	if data[7] != 0 {
		return h, nil, fmt.Errorf("%v: flags %#x: %w", want, data[7], ErrCorrupt)
	}
	h.Seed = binary.LittleEndian.Uint64(data[8:])
	if h.HashID != HashXXH64 || h.Seed != 0 {
		return h, nil, fmt.Errorf("%v: hash id %d seed %d, this build uses xxhash64 (1) seed 0: %w", want, h.HashID, h.Seed, ErrHash)
	}
	for i := range h.Shape {
		h.Shape[i] = binary.LittleEndian.Uint64(data[16+8*i:])
	}
	return h, data[HeaderSize:end], nil
}

// Reader reads little-endian values from a payload. The first read past the
// end sets Err to ErrTruncated and every later read returns zero values.
type Reader struct {
	b   []byte
	Err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) take(n int) []byte {
	if r.Err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.Err = fmt.Errorf("payload needs %d more bytes, has %d: %w", n, len(r.b), ErrCorrupt)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// U64 reads a uint64.
func (r *Reader) U64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// Bytes returns the next n bytes, aliasing the payload.
func (r *Reader) Bytes(n int) []byte { return r.take(n) }

// LenBytes reads a length as a MinimalUvarint, then that many bytes,
// aliasing the payload: the reading side of
// append(binary.AppendUvarint(b, uint64(len(v))), v...).
func (r *Reader) LenBytes() []byte {
	// A length past the unread bytes fails in take, without overflowing int.
	return r.take(int(min(r.MinimalUvarint(), uint64(r.Len()+1))))
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Err = fmt.Errorf("bad varint: %w", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// MinimalUvarint reads an unsigned varint and refuses (ErrCorrupt) one
// longer than binary.AppendUvarint writes, so that a payload has one
// encoding.
func (r *Reader) MinimalUvarint() uint64 {
	n := r.Len()
	v := r.Uvarint()
	if r.Err == nil && n-r.Len() != len(binary.AppendUvarint(nil, v)) {
		r.Err = fmt.Errorf("non-minimal varint: %w", ErrCorrupt)
	}
	return v
}

// Done reports the first error, or ErrCorrupt if unread bytes remain.
func (r *Reader) Done() error {
	if r.Err == nil && len(r.b) != 0 {
		r.Err = fmt.Errorf("%d unread payload bytes: %w", len(r.b), ErrCorrupt)
	}
	return r.Err
}

// IsDecodeError reports whether err wraps one of the decoding sentinels
// above: the input was bad, as opposed to an I/O or programming error.
func IsDecodeError(err error) bool {
	for _, s := range []error{ErrTruncated, ErrNotEncoding, ErrVersion, ErrKind, ErrHash, ErrChecksum, ErrCorrupt} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Reseal recomputes, in place, the checksum of an encoding whose bytes were
// edited, and returns it: tests use it to reach the checks behind the
// checksum.
func Reseal(b []byte) []byte {
	end := len(b) - 4
	binary.LittleEndian.PutUint32(b[end:], crc32.Checksum(b[:end], castagnoli))
	return b
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Err = fmt.Errorf("bad varint: %w", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}
