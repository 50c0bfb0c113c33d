package pipeline

import (
	"encoding/binary"

	"github.com/streamstat/streamstat/sketch"
)

// Capped keys (LineConfig.MaxKeyLen).
const (
	// CappedKeySuffix is the number of bytes a capped key adds to the
	// MaxKeyLen bytes it keeps: the whole key's length and XXH64.
	CappedKeySuffix = 16
	// MaxCappedKeyLen bounds LineConfig.MaxKeyLen.
	MaxCappedKeyLen = 1 << 30
)

// AppendCappedKey appends the capped form of key to dst: key itself if it
// has at most max bytes; otherwise its first max bytes, then its length
// and its XXH64 (sketch.Hash), 8 bytes each, big-endian. Every key longer
// than max has a form of exactly max+CappedKeySuffix bytes, and no key of
// at most max bytes does, so the form of a long key is never a short key;
// two long keys share a form only if they share their first max bytes,
// their length and their 64-bit hash.
func AppendCappedKey(dst, key []byte, max int) []byte {
	if len(key) <= max {
		return append(dst, key...)
	}
	dst = append(dst, key[:max]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(key)))
	return binary.BigEndian.AppendUint64(dst, sketch.Hash(key))
}

// ParseCappedKey reports whether form is the capped form of a key longer
// than max (AppendCappedKey), and returns the bytes it keeps, the whole
// key's length and its hash.
func ParseCappedKey(form []byte, max int) (prefix []byte, length int64, hash uint64, ok bool) {
	if max < 1 || len(form) != max+CappedKeySuffix {
		return nil, 0, 0, false
	}
	n := binary.BigEndian.Uint64(form[max:])
	if n <= uint64(max) || n > 1<<62 {
		return nil, 0, 0, false
	}
	return form[:max], int64(n), binary.BigEndian.Uint64(form[max+8:]), true
}

// takeCapped makes the record of one line whose key may be over the cap
// (the line, with its newline if it has one, is the next bytes of the
// buffer), adding its capped key to b on its own, and consumes the line.
// It reports the records made: 1, or 0 if the line lacks the key field.
func (s *LineSource) takeCapped(b *Batch, raw []byte) int {
	line := raw
	if k := len(line) - 1; k >= 0 && line[k] == '\n' {
		line = line[:k]
	}
	if k := len(line) - 1; k >= 0 && line[k] == '\r' {
		line = line[:k]
	}
	s.lines++
	off := s.off
	defer s.consume(len(raw), false)
	ks, ke, ok := 0, len(line), true
	if s.cfg.Field != 0 {
		ks, ke, ok = fieldSpan(line, s.cfg.Field, s.cfg.Delimiter)
	}
	if !ok {
		s.skipped++
		s.report(line, off, ErrMissingField)
		return 0
	}
	s.capped = AppendCappedKey(s.capped[:0], line[ks:ke], s.maxKey)
	key := s.capped
	if s.cfg.HashOnly {
		key = nil
	}
	r := b.AddHashed(key, sketch.Hash(s.capped))
	if vf := s.cfg.ValueField; vf != 0 {
		vs, ve, ok := fieldSpan(line, vf, s.cfg.Delimiter)
		if ok {
			r.Value, ok = parseValue(line[vs:ve])
		}
		if r.HasValue = ok; !ok {
			s.bad++
			s.report(line, off, ErrBadValue)
		}
	}
	return 1
}
