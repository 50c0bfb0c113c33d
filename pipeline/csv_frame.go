package pipeline

import (
	"math/bits"
	"unsafe"
)

// csvMasksGo is csvMasks a byte at a time: the reference the assembly is
// tested against, and csvMasks where there is none.
func csvMasksGo(dst []uint64, src []byte, comma byte) {
	for b := 0; b+4 <= len(dst); b += 4 {
		var q, c, n, r uint64
		for j, x := range src[64*(b/4) : 64*(b/4)+64] {
			switch x {
			case '"':
				q |= 1 << j
			case comma:
				c |= 1 << j
			case '\n':
				n |= 1 << j
			case '\r':
				r |= 1 << j
			}
		}
		dst[b], dst[b+1], dst[b+2], dst[b+3] = q, c, n, r
	}
}

// prefixXor64 returns x with each bit j the XOR of x's bits 0 to j.
func prefixXor64(x uint64) uint64 {
	x ^= x << 1
	x ^= x << 2
	x ^= x << 4
	x ^= x << 8
	x ^= x << 16
	x ^= x << 32
	return x
}

// The ring of blocks csvFrame keeps, and how many it makes at a time (a
// call of csvMasks for several blocks costs less than one per block): a
// record it reads spans at most csvRing-csvChunk blocks, so that all of
// them are still in the ring when its last is made.
const (
	csvRing  = 16
	csvChunk = 8
)

// csvBlock is what csvFrame knows of a 64-byte block of the data, bit j
// for its byte j, with the quotes' parity carried from the blocks before.
type csvBlock struct {
	sep uint64 // delimiters outside quotes: field separators
	end uint64 // newlines outside quotes: record ends
	bad uint64 // quotes where RFC 4180 allows none
	qn  uint64 // quotes and newlines: a quoted field without one inside reads as it stands
}

// csvFrame is CSVKey's fast path for reading the records of one buffer of
// data in turn (LineSource.takeExtract calls extractFramed at each
// record's start; Scratch.newData says the buffer changed). From bitmaps
// of the quotes, delimiters, newlines and CRs of each 64-byte block
// (csvMasks: AVX-512 or SSE2 on amd64), made once per block, not once per
// record, it derives without a branch per byte the quotes' parity by
// prefix XOR, the record ends (newlines outside quotes), the field
// separators (delimiters outside quotes) and the quotes RFC 4180 does not
// allow: an opening quote (one that leaves the parity odd) must start a
// field (follow a separator, a closing quote, a record end, or be the
// first byte), and a closing one must precede a separator, a quote (a
// doubled quote), a record end or a CR before one. So a record is framed
// and checked by a few mask operations per block, and its fields are the
// separators' bits: a record of up to 128 bytes through view (three
// blocks as two words from its start), a longer one through long.
// Records it does not read (ending more than 8 blocks on, not ended
// within the data, or with a quote out of place) go to frameCSV, which
// reports the error.
//
// A csvFrame is a LineSource's (in its Scratch): not safe for concurrent
// use. The zero value is ready, with no data.
//
// Parity is counted from origin, a record start: every record start the
// source reaches after it lies at even parity, as quote-parity framing
// makes them; a record start that does not follow a record end in the
// bitmaps (a new buffer, a jump past a long record) starts over there.
type csvFrame struct {
	data   []byte // the data the blocks describe; calls pass data[r:]
	origin int    // offset in data of block 0
	next   int    // blocks made: 0 to next-1, the last csvRing in ring
	inq    uint64 // all ones if block next starts inside quotes
	carry  uint64 // 1 if block next starts a field (see prev in chunk)
	ring   [csvRing]csvBlock
	raw    [4 * (csvChunk + 1)]uint64
	tail   [64]byte
}

// newData tells the extractors' state that the data of the next
// extractFramed calls is new: bytes seen before may have changed.
func (sc *Scratch) newData() {
	if sc.csv != nil {
		sc.csv.data = nil
	}
}

// locate returns the offset of d in f.data, d being f.data[r:] for
// some r past the origin; otherwise it makes d the data, with its first
// byte a record start, and returns 0.
func (f *csvFrame) locate(d []byte) int {
	if f.data != nil {
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(d))) - uintptr(unsafe.Pointer(unsafe.SliceData(f.data))))
		if off >= f.origin && off <= len(f.data) && len(f.data)-off == len(d) {
			return off
		}
	}
	f.data = d
	f.restart(0)
	return 0
}

// restart makes the record start at offset r of the data block 0's start.
func (f *csvFrame) restart(r int) {
	f.origin, f.next, f.inq, f.carry = r, 0, 0, 1
}

// chunk makes the blocks next to next+csvChunk-1 (past the data's end,
// empty), or returns false if block next starts 128 bytes or more past
// the data's end.
func (f *csvFrame) chunk(comma byte) bool {
	base := f.origin + 64*f.next
	rest := len(f.data) - base
	if rest <= -128 {
		return false // view needs no block so far past the data
	}
	// The bitmaps of csvChunk blocks and one more, looked ahead to: a
	// closing quote at a block's last byte is checked against the next.
	raw := f.raw[:]
	full := max(0, min(csvChunk+1, rest/64))
	if full > 0 {
		csvMasks(raw[:4*full], f.data[base:base+64*full], comma)
	}
	if i := full; i < csvChunk+1 {
		if r := rest - 64*i; r > 0 {
			f.tail = [64]byte{}
			copy(f.tail[:], f.data[base+64*i:])
			csvMasks(raw[4*i:4*i+4], f.tail[:], comma)
			i++
		}
		clear(raw[4*i:])
	}
	inq, carry := f.inq, f.carry
	q, c, n, cr := raw[0], raw[1], raw[2], raw[3]
	p := prefixXor64(q) ^ inq // inside quotes, the opening quote included
	s, e := c&^p, n&^p
	for b := range csvChunk {
		w := raw[4*b+4 : 4*b+8]
		q2, c2, n2, cr2 := w[0], w[1], w[2], w[3]
		inq = -(p >> 63)
		p2 := prefixXor64(q2) ^ inq
		s2, e2 := c2&^p2, n2&^p2
		o, x := q&p, q&^p // opening and closing quotes
		// prev: the byte before starts a field's text (is a separator, a
		// closing quote or a record end); next: the byte after ends it.
		a := s | x | e
		prev := a<<1 | carry
		carry = a >> 63
		z := s | q | e | cr&(e>>1|e2<<63)
		z2 := s2 | q2 | e2 | cr2&(e2>>1)
		next := z>>1 | z2<<63
		f.ring[uint(f.next+b)%csvRing] = csvBlock{sep: s, end: e, bad: o&^prev | x&^next, qn: q | n}
		q, n, cr, p, s, e = q2, n2, cr2, p2, s2, e2
	}
	f.inq, f.carry = inq, carry
	f.next += csvChunk
	return true
}

// csvView is a record as csvFrame sees it, its bytes 0 to 63 in word 0
// of each pair of bitmaps and bytes 64 to 127 in word 1.
type csvView struct {
	s0, s1   uint64 // field separators before the record's end
	qn0, qn1 uint64 // quotes and newlines
	end, fin int    // the newline ending the record; the last field's end (before a CR)
}

// view sets *v to the record at the start of d, d being f.data[r:] if the
// record is the next one (see locate), if it ends with a newline within
// 128 bytes and every quote in it is in place; otherwise it returns false,
// leaving the record to frameCSV. (A pointer, not a result: the copy of
// the result stalled on its stores, 40% of the call.)
func (f *csvFrame) view(d []byte, comma byte, v *csvView) bool {
	rel, ok := f.start(d, comma)
	if !ok {
		return false
	}
	bi, sh := rel>>6, uint(rel&63)
	b0, b1, b2 := &f.ring[uint(bi)%csvRing], &f.ring[uint(bi+1)%csvRing], &f.ring[uint(bi+2)%csvRing]
	// The record's bits: x>>sh of one block, y<<1<<(63-sh) of the next
	// (a shift by 64 - sh, written so that no count can reach 64).
	hi := 63 - sh
	e0, e1 := b0.end>>sh|b1.end<<1<<hi, b1.end>>sh|b2.end<<1<<hi
	var k0, k1 uint64 // the bytes before the end
	switch {
	case e0 != 0:
		v.end = bits.TrailingZeros64(e0)
		k0 = 1<<v.end - 1
	case e1 != 0:
		v.end = 64 + bits.TrailingZeros64(e1)
		k0, k1 = ^uint64(0), 1<<(v.end-64)-1
	default:
		return false
	}
	if (b0.bad>>sh|b1.bad<<1<<hi)&k0|(b1.bad>>sh|b2.bad<<1<<hi)&k1 != 0 {
		return false
	}
	v.s0, v.s1 = (b0.sep>>sh|b1.sep<<1<<hi)&k0, (b1.sep>>sh|b2.sep<<1<<hi)&k1
	v.qn0, v.qn1 = b0.qn>>sh|b1.qn<<1<<hi, b1.qn>>sh|b2.qn<<1<<hi
	v.fin = v.end
	if v.end > 0 && d[v.end-1] == '\r' {
		v.fin--
	}
	return true
}

// start returns the offset from the origin of the record at the start of
// d, with its first three blocks made; false if d runs past the data.
func (f *csvFrame) start(d []byte, comma byte) (int, bool) {
	r := f.locate(d)
	rel := r - f.origin
	if rel > 0 {
		// A record start follows a record end, unless the source went
		// past records this frame did not read.
		pb := (rel - 1) >> 6
		if pb >= f.next || pb < f.next-csvRing || f.ring[uint(pb)%csvRing].end>>((rel-1)&63)&1 == 0 {
			f.restart(r)
			rel = 0
		}
	}
	for rel>>6+2 >= f.next {
		if !f.chunk(comma) {
			return 0, false
		}
	}
	return rel, true
}

// long is view for a record of more than 128 bytes, ending within the
// blocks the ring holds (at least 449 bytes from its start): it notes the
// fields up to the last-th in *spans, as frameCSV does, and returns the
// record's end; or false, leaving the record to frameCSV.
func (f *csvFrame) long(d []byte, comma byte, last int, spans *[]csvSpan) (int, bool) {
	rel, ok := f.start(d, comma)
	if !ok {
		return 0, false
	}
	bi, sh := rel>>6, uint(rel&63)
	from := ^uint64(0) << sh // the record's bits of block bi
	blk := &f.ring[uint(bi)%csvRing]
	m, jbad := blk.end&from, blk.bad&from
	bad := uint64(0) // of the blocks before j
	j := bi
	for m == 0 {
		// Blocks bi to j stay in the ring: chunk makes csvChunk at a
		// time, and j-bi < csvRing-csvChunk.
		if j++; j-bi >= csvRing-csvChunk || j >= f.next && !f.chunk(comma) {
			return 0, false
		}
		b := &f.ring[uint(j)%csvRing]
		bad |= jbad
		m, jbad = b.end, b.bad
	}
	eb := uint(bits.TrailingZeros64(m))
	upto := uint64(1)<<eb - 1 // the record's bits of block j, before its end
	if bad|jbad&upto != 0 {
		return 0, false
	}
	end := 64*j + int(eb) - rel
	fin := end
	if end > 0 && d[end-1] == '\r' {
		fin = end - 1
	}
	// The fields, up to the last-th: between separators.
	sp := (*spans)[:0]
	start := 0
	b := bi
	sm := blk.sep & from
	if j == bi {
		sm &= upto
	}
	for fl := 1; fl <= last; fl++ {
		for sm == 0 && b < j {
			b++
			sm = f.ring[uint(b)%csvRing].sep
			if b == j {
				sm &= upto
			}
		}
		e := fin
		if sm != 0 {
			e = 64*b + bits.TrailingZeros64(sm) - rel
			sm &= sm - 1
		}
		span := csvSpan{start: start, end: e}
		if start < e && d[start] == '"' {
			// Checked: the field ends with its closing quote.
			span = csvSpan{start: start + 1, end: e - 1, quoted: true}
		}
		sp = append(sp, span)
		if e == fin {
			break
		}
		start = e + 1
	}
	*spans = sp
	return end, true
}

// field returns the bounds of the record's c-th field (c >= 1) as a
// span of d, or false if the record has fewer fields. A quoted field
// without a quote or newline inside (no doubled quote, no CRLF) is clean:
// its text needs no rewriting.
func (v *csvView) field(d []byte, c int) (sp csvSpan, clean, ok bool) {
	s0, s1 := v.s0, v.s1
	start := 0
	for range c - 1 {
		switch {
		case s0 != 0:
			start = bits.TrailingZeros64(s0) + 1
			s0 &= s0 - 1
		case s1 != 0:
			start = 64 + bits.TrailingZeros64(s1) + 1
			s1 &= s1 - 1
		default:
			return sp, false, false
		}
	}
	e := v.fin
	switch {
	case s0 != 0:
		e = bits.TrailingZeros64(s0)
	case s1 != 0:
		e = 64 + bits.TrailingZeros64(s1)
	}
	if start >= e || d[start] != '"' {
		return csvSpan{start: start, end: e}, true, true
	}
	// Checked: the field ends with its closing quote.
	sp = csvSpan{start: start + 1, end: e - 1, quoted: true}
	var w uint64 // the bits from the field's text on
	if sp.start < 64 {
		w = v.qn0>>uint(sp.start) | v.qn1<<uint(64-sp.start)
	} else {
		w = v.qn1 >> uint(sp.start-64)
	}
	n := sp.end - sp.start
	return sp, n < 64 && w&(1<<n-1) == 0, true
}

// spans notes the record's fields up to the last-th in *spans, as
// frameCSV does.
func (v *csvView) spans(d []byte, last int, spans *[]csvSpan) {
	s0, s1 := v.s0, v.s1
	sp := (*spans)[:0]
	start := 0
	for f := 1; f <= last; f++ {
		e := v.fin
		switch {
		case s0 != 0:
			e = bits.TrailingZeros64(s0)
			s0 &= s0 - 1
		case s1 != 0:
			e = 64 + bits.TrailingZeros64(s1)
			s1 &= s1 - 1
		}
		span := csvSpan{start: start, end: e}
		if start < e && d[start] == '"' {
			// Checked: the field ends with its closing quote. Whether it
			// holds a doubled quote is left to csvField (a key field).
			span = csvSpan{start: start + 1, end: e - 1, quoted: true}
		}
		sp = append(sp, span)
		if e == v.fin {
			break
		}
		start = e + 1
	}
	*spans = sp
}
