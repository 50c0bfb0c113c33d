package sampling

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Codec encodes the items of a Reservoir or WeightedReservoir, whose item
// type is the caller's. The sampler length-prefixes each item, so AppendItem
// need not delimit it and DecodeItem gets exactly the bytes AppendItem wrote.
//
// For encodings to stay canonical (equal state, equal bytes), DecodeItem must
// reject any input AppendItem would not have produced, and AppendItem must
// be deterministic. DecodeItem must not retain src: it aliases the input.
//
// BytesCodec, StringCodec, Int64Codec, Uint64Codec and Float64Codec cover the
// common item types and are used by default for them; other item types need
// SetCodec before MarshalBinary or UnmarshalBinary.
type Codec[T any] interface {
	AppendItem(dst []byte, v T) []byte
	DecodeItem(src []byte) (T, error)
}

// BytesCodec encodes []byte items as themselves. Decoded items are copies.
type BytesCodec struct{}

// AppendItem implements Codec.
func (BytesCodec) AppendItem(dst []byte, v []byte) []byte { return append(dst, v...) }

// DecodeItem implements Codec.
func (BytesCodec) DecodeItem(src []byte) ([]byte, error) {
	return append([]byte(nil), src...), nil
}

// StringCodec encodes string items as their bytes.
type StringCodec struct{}

// AppendItem implements Codec.
func (StringCodec) AppendItem(dst []byte, v string) []byte { return append(dst, v...) }

// DecodeItem implements Codec.
func (StringCodec) DecodeItem(src []byte) (string, error) { return string(src), nil }

// Int64Codec encodes int64 items as 8 little-endian bytes.
type Int64Codec struct{}

// AppendItem implements Codec.
func (Int64Codec) AppendItem(dst []byte, v int64) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(v))
}

// DecodeItem implements Codec.
func (Int64Codec) DecodeItem(src []byte) (int64, error) {
	u, err := fixed8(src)
	return int64(u), err
}

// Uint64Codec encodes uint64 items as 8 little-endian bytes.
type Uint64Codec struct{}

// AppendItem implements Codec.
func (Uint64Codec) AppendItem(dst []byte, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(dst, v)
}

// DecodeItem implements Codec.
func (Uint64Codec) DecodeItem(src []byte) (uint64, error) { return fixed8(src) }

// Float64Codec encodes float64 items as their IEEE 754 bits, little-endian,
// so every value including NaN payloads and -0 round-trips exactly.
type Float64Codec struct{}

// AppendItem implements Codec.
func (Float64Codec) AppendItem(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}

// DecodeItem implements Codec.
func (Float64Codec) DecodeItem(src []byte) (float64, error) {
	u, err := fixed8(src)
	return math.Float64frombits(u), err
}

func fixed8(src []byte) (uint64, error) {
	if len(src) != 8 {
		return 0, fmt.Errorf("item of %d bytes, want 8", len(src))
	}
	return binary.LittleEndian.Uint64(src), nil
}

// defaultCodec returns the ready-made codec for T, or nil if there is none.
func defaultCodec[T any]() Codec[T] {
	var c any
	switch any(*new(T)).(type) {
	case []byte:
		c = BytesCodec{}
	case string:
		c = StringCodec{}
	case int64:
		c = Int64Codec{}
	case uint64:
		c = Uint64Codec{}
	case float64:
		c = Float64Codec{}
	default:
		return nil
	}
	return c.(Codec[T])
}

// appendItems appends items, each as a uvarint length and the codec's bytes.
func appendItems[T any](dst []byte, c Codec[T], items []T) []byte {
	for _, v := range items {
		dst = appendItem(dst, c, v)
	}
	return dst
}

func appendItem[T any](dst []byte, c Codec[T], v T) []byte {
	// Reserve one length byte, the common case, and move the item if its
	// length needs more, instead of encoding every item twice.
	at := len(dst)
	dst = c.AppendItem(append(dst, 0), v)
	n := len(dst) - at - 1
	if n < 0x80 {
		dst[at] = byte(n)
		return dst
	}
	var lb [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(lb[:], uint64(n))
	dst = append(dst, lb[:l-1]...)
	copy(dst[at+l:], dst[at+1:at+1+n])
	copy(dst[at:], lb[:l])
	return dst
}

// codecFor returns c, or T's default codec, or an error naming T.
func codecFor[T any](c Codec[T], what string) (Codec[T], error) {
	if c == nil {
		c = defaultCodec[T]()
	}
	if c == nil {
		return nil, fmt.Errorf("sampling: %s[%T] has no Codec: call SetCodec first: %w", what, *new(T), ErrInvalidParameter)
	}
	return c, nil
}
