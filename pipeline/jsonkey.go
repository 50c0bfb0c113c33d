package pipeline

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/streamstat/streamstat/sketch"
)

// JSON lines are read by a scanner of this package rather than by
// github.com/valyala/fastjson or github.com/buger/jsonparser, for three
// reasons. It validates the whole line in the one pass that finds the
// key, as fastjson does and jsonparser does not (jsonparser returns a key
// from a line that is not JSON at all, so an invalid line would be
// counted rather than skipped). It reads exactly as encoding/json does, the
// reference FuzzJSONKey holds it to: the last of duplicate names wins
// (fastjson and jsonparser return the first), invalid UTF-8 and lone
// surrogates in strings become U+FFFD, nesting deeper than 10000 is
// invalid. And it keeps no parsed tree: fastjson's Parser builds one per
// line in a cache that a Parser per goroutine must own, where this scanner
// needs only the caller's scratch bytes, so one JSONKey serves every
// parallel source. It makes one pass over the line, so its time is linear
// in the line's length whatever the line holds.

// maxJSONDepth is encoding/json's nesting limit: deeper is invalid.
const maxJSONDepth = 10000

// JSONPath names a value inside a JSON document: a sequence of object
// member names and array indexes. The zero value names the whole document.
// A JSONPath is immutable, safe to copy and to use from any goroutine.
type JSONPath struct {
	text string
	segs []jsonSeg
}

type jsonSeg struct {
	name  string
	index int  // the segment as an array index, or -1
	slow  bool // name holds U+FFFD (which invalid UTF-8 in a member name reads as) or is not UTF-8
}

// ParseJSONPath reads a path as a dotted path ("user.id", "tags.0": names
// separated by dots, a name of digits also indexing an array) or, if it
// starts with "/", as an RFC 6901 JSON pointer ("/user/id", "/a.b/0", with
// ~1 for "/" and ~0 for "~" in names). A dotted path has no empty name.
func ParseJSONPath(p string) (JSONPath, error) {
	bad := func(why string) (JSONPath, error) {
		return JSONPath{}, fmt.Errorf("pipeline: JSON path %q: %s; write names separated by dots (user.id, tags.0) or a JSON pointer (/user/id): %w", p, why, sketch.ErrInvalidParameter)
	}
	var names []string
	switch {
	case p == "":
		return bad("empty")
	case p[0] == '/':
		for _, raw := range strings.Split(p[1:], "/") {
			var b strings.Builder
			for i := 0; i < len(raw); i++ {
				if raw[i] != '~' {
					b.WriteByte(raw[i])
					continue
				}
				if i+1 == len(raw) || raw[i+1] != '0' && raw[i+1] != '1' {
					return bad("~ not followed by 0 or 1")
				}
				b.WriteByte("~/"[raw[i+1]-'0'])
				i++
			}
			names = append(names, b.String())
		}
	default:
		names = strings.Split(p, ".")
		for _, n := range names {
			if n == "" {
				return bad("empty name")
			}
		}
	}
	jp := JSONPath{text: p, segs: make([]jsonSeg, len(names))}
	for i, n := range names {
		jp.segs[i] = jsonSeg{name: n, index: arrayIndex(n), slow: strings.ContainsRune(n, utf8.RuneError) || !utf8.ValidString(n)}
	}
	return jp, nil
}

// arrayIndex returns n as an RFC 6901 array index (digits, no leading
// zero), or -1.
func arrayIndex(n string) int {
	if n == "" || len(n) > 1 && n[0] == '0' || len(n) > 9 {
		return -1
	}
	v := 0
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return -1
		}
		v = v*10 + int(n[i]-'0')
	}
	return v
}

// String returns the path as it was parsed.
func (p JSONPath) String() string { return p.text }

// Lookup finds the value at p in doc, one JSON value. It returns the
// value's key form, aliasing doc or appended to scratch[:0] (a string
// unescaped as encoding/json decodes it; a number, true or false as its
// JSON text; an object or array as its JSON text), its kind ('"' string,
// '0' number, 't' boolean, '{' object, '[' array), and an error wrapping
// ErrBadJSON if doc is not valid JSON or ErrMissingField if it has no
// value at p or null there. It reads all of doc, in one pass.
func (p JSONPath) Lookup(doc []byte, scratch *[]byte) (val []byte, kind byte, err error) {
	sc := jsonScanner{data: doc, path: p.segs, scratch: scratch}
	i, ok := sc.value(jsonWS(doc, 0), 0, 0)
	if !ok || jsonWS(doc, i) != len(doc) {
		return nil, 0, ErrBadJSON
	}
	return sc.result(scratch)
}

// lookupLine is Lookup of the JSON document on the line at the start of
// data, whose end it finds on the way: it returns the index of the
// newline ending the line (len(data) if atEOF and the data ends it), or
// -1 if the data holds no whole line. A document is read up to its end
// and the blanks after it, which must end the line; a newline elsewhere
// (between tokens: inside a string it is invalid anyway) ends the line
// with the document incomplete, so the line is invalid, as Lookup on the
// line alone finds it. Only when the document is invalid is the newline
// looked for on its own.
func (p JSONPath) lookupLine(data []byte, atEOF bool, scratch *[]byte) (end int, val []byte, kind byte, err error) {
	sc := jsonScanner{data: data, path: p.segs, scratch: scratch, line: true}
	sc.fast = jsonQuotes(&sc.qm, data)
	i, ok := sc.value(sc.ws(0), 0, 0)
	if ok {
		switch i = sc.ws(i); {
		case i < len(data) && data[i] == '\n':
			val, kind, err = sc.result(scratch)
			return i, val, kind, err
		case i == len(data) && atEOF:
			val, kind, err = sc.result(scratch)
			return i, val, kind, err
		}
	}
	switch end = indexNewline(data); {
	case end >= 0:
		return end, nil, 0, ErrBadJSON
	case atEOF:
		return len(data), nil, 0, ErrBadJSON
	}
	return -1, nil, 0, nil
}

// result is Lookup's answer once the document is known to be valid.
func (sc *jsonScanner) result(scratch *[]byte) ([]byte, byte, error) {
	if !sc.found || sc.kind == 'n' {
		return nil, 0, ErrMissingField
	}
	raw := sc.data[sc.fs:sc.fe]
	if sc.kind != '"' {
		return raw, sc.kind, nil
	}
	raw = raw[1 : len(raw)-1]
	if !sc.fesc && utf8.Valid(raw) {
		return raw, '"', nil
	}
	*scratch = unquoteJSON((*scratch)[:0], raw)
	return *scratch, '"', nil
}

// jsonScanner validates a JSON document as encoding/json's scanner does
// and notes where the value at path is. Its methods take the index to
// read at and return the index past what they read (kept in a register,
// not in the struct).
type jsonScanner struct {
	data    []byte
	path    []jsonSeg
	scratch *[]byte
	line    bool // a newline is not a blank: it ends the line (lookupLine)
	// fast: qm holds the line's quote bitmap (jsonQuotes), and a string
	// ends at the next quote it marks.
	fast   bool
	qm     [jsonFastBlocks]uint64
	found  bool
	fesc   bool // the found string holds an escape
	fs, fe int
	kind   byte
}

// jsonPlain marks the bytes a string holds without a second look: not a
// quote, a backslash or a control character.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonWS returns the index of the first byte at or after i that is not a
// JSON blank (space, tab, CR, LF).
func jsonWS(d []byte, i int) int {
	for i < len(d) && d[i] <= ' ' {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// ws is jsonWS, but with sc.line a newline is not a blank.
func (sc *jsonScanner) ws(i int) int {
	d := sc.data
	for i < len(d) && d[i] <= ' ' {
		switch d[i] {
		case ' ', '\t', '\r':
			i++
		case '\n':
			if sc.line {
				return i
			}
			i++
		default:
			return i
		}
	}
	return i
}

// value reads one value at i. level is the number of path segments
// matched to reach it, or -1 off the path; depth is the nesting depth of
// the containers around it.
func (sc *jsonScanner) value(i, level, depth int) (int, bool) {
	d := sc.data
	if i >= len(d) {
		return i, false
	}
	start := i
	target := level == len(sc.path)
	if target {
		level = -1
	}
	var kind byte
	esc := false
	ok := false
	switch c := d[i]; {
	case c == '"':
		kind = '"'
		i, esc, ok = sc.str(i)
	case c == '{':
		kind = '{'
		i, ok = sc.object(i, level, depth+1)
	case c == '[':
		kind = '['
		i, ok = sc.array(i, level, depth+1)
	case c == 't':
		kind = 't'
		i, ok = jsonLiteral(d, i, "true")
	case c == 'f':
		kind = 't'
		i, ok = jsonLiteral(d, i, "false")
	case c == 'n':
		kind = 'n'
		i, ok = jsonLiteral(d, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		kind = '0'
		i, ok = jsonNumber(d, i)
	}
	if ok && target {
		sc.found, sc.fesc, sc.fs, sc.fe, sc.kind = true, esc, start, i, kind
	}
	return i, ok
}

func jsonLiteral(d []byte, i int, w string) (int, bool) {
	if len(d)-i < len(w) || string(d[i:i+len(w)]) != w {
		return i, false
	}
	return i + len(w), true
}

// jsonNumber reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func jsonNumber(d []byte, i int) (int, bool) {
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			return i, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			return i, false
		}
	}
	return i, true
}

// jsonFastBlocks is how many 64-byte blocks of a line jsonQuotes reads:
// lines up to 256 bytes take the fast path.
const jsonFastBlocks = 4

// jsonQuotes sets qm to the quote bitmap of the line at the start of data
// (bit j of qm[k] for byte 64k+j, none past the line's newline) and
// reports whether the line's strings can be read from it alone: data
// holds 64*jsonFastBlocks bytes, the line ends within them, and holds no
// backslash (so every quote opens or closes a string) and no control
// byte inside a string (which would be invalid). One pass of SSE2 on
// amd64 (jsonMasks), so that a string's end is found by the next bit of
// qm, not a loop over its bytes ending with a mispredicted branch.
func jsonQuotes(qm *[jsonFastBlocks]uint64, data []byte) bool {
	if len(data) < 64*jsonFastBlocks {
		return false
	}
	var m [4 * jsonFastBlocks]uint64
	jsonMasks(m[:], data[:64*jsonFastBlocks])
	var carry uint64 // all ones after an odd number of quotes
	for k := range jsonFastBlocks {
		q, bs, nl, ctl := m[4*k], m[4*k+1], m[4*k+2], m[4*k+3]
		keep := ^uint64(0)
		if nl != 0 {
			keep = nl&-nl - 1 // the bytes before the newline
		}
		q, bs, ctl = q&keep, bs&keep, ctl&keep
		inside := (prefixXor64(q) ^ carry) &^ q // inside strings, not the quotes
		if bs != 0 || ctl&inside != 0 {
			return false
		}
		qm[k] = q
		if nl != 0 {
			return true
		}
		carry ^= -(uint64(bits.OnesCount64(q)) & 1)
	}
	return false
}

// str reads the string at i (its opening quote), as jsonStr does: from
// the quote bitmap if there is one (the next quote closes it, and no
// string of the line holds an escape or control byte).
func (sc *jsonScanner) str(i int) (int, bool, bool) {
	if !sc.fast {
		return jsonStr(sc.data, i)
	}
	j := i + 1
	for k := j >> 6; k < jsonFastBlocks; k++ {
		m := sc.qm[k]
		if k == j>>6 {
			m &= ^uint64(0) << (j & 63)
		}
		if m != 0 {
			return k<<6 + bits.TrailingZeros64(m) + 1, false, true
		}
	}
	return len(sc.data), false, false // unterminated on its line
}

// jsonStr reads the string at i (its opening quote), returning the index
// past its closing quote and whether it holds an escape.
func jsonStr(d []byte, i int) (int, bool, bool) {
	i++
	esc := false
	for {
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character (the bit tricks of Anderson's "Bit Twiddling
		// Hacks", "determine if a word has a byte less than n").
		// A borrow marks only bytes after the first one found, so the
		// lowest mark is the first quote, backslash or control byte.
		for i+8 <= len(d) {
			w := binary.LittleEndian.Uint64(d[i:])
			q, bs := w^(0x22*lo8), w^(0x5c*lo8)
			if m := ((q-lo8)&^q | (bs-lo8)&^bs | (w-0x20*lo8)&^w) & hi8; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(d) && jsonPlain[d[i]] {
			i++
		}
	special:
		if i >= len(d) {
			return i, false, false
		}
		switch d[i] {
		case '"':
			return i + 1, esc, true
		case '\\':
			esc = true
			if i+1 >= len(d) {
				return i, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return i, false, false
				}
				for _, h := range d[i+2 : i+6] {
					if !isHex(h) {
						return i, false, false
					}
				}
				i += 6
			default:
				return i, false, false
			}
		default: // a control character
			return i, false, false
		}
	}
}

const lo8, hi8 = 0x0101010101010101, 0x8080808080808080

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (sc *jsonScanner) object(i, level, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return i, false
	}
	d := sc.data
	i = sc.ws(i + 1) // past '{'
	if i < len(d) && d[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, false
		}
		ks := i
		var esc, ok bool
		if i, esc, ok = sc.str(i); !ok {
			return i, false
		}
		name := d[ks+1 : i-1]
		if i < len(d) && d[i] == ':' {
			i++ // the usual "name":value, without a call
		} else if i = sc.ws(i); i < len(d) && d[i] == ':' {
			i++
		} else {
			return i, false
		}
		if i < len(d) && d[i] <= ' ' {
			i = sc.ws(i)
		}
		child := -1
		if level >= 0 && sc.nameIs(name, esc, &sc.path[level]) {
			// A later duplicate name replaces an earlier one, as in
			// encoding/json's map: forget what the earlier one held.
			child, sc.found = level+1, false
		}
		if child < 0 && i < len(d) && d[i] == '"' {
			// A string off the path, the most common member: skip the
			// dispatch in value.
			if i, _, ok = sc.str(i); !ok {
				return i, false
			}
		} else if i, ok = sc.value(i, child, depth); !ok {
			return i, false
		}
		if i < len(d) && d[i] <= ' ' {
			i = sc.ws(i)
		}
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ',':
			i++
			if i < len(d) && d[i] <= ' ' {
				i = sc.ws(i)
			}
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// nameIs reports whether the raw (still escaped) member name reads as
// seg's name.
func (sc *jsonScanner) nameIs(raw []byte, esc bool, seg *jsonSeg) bool {
	if !esc && !seg.slow {
		// Unescaped, raw reads as itself but for invalid UTF-8, which
		// reads as U+FFFD, not in the name: equal bytes or no match.
		return string(raw) == seg.name
	}
	*sc.scratch = unquoteJSON((*sc.scratch)[:0], raw)
	return string(*sc.scratch) == seg.name
}

func (sc *jsonScanner) array(i, level, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return i, false
	}
	d := sc.data
	i = sc.ws(i + 1) // past '['
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for k := 0; ; k++ {
		child := -1
		if level >= 0 && sc.path[level].index == k {
			child = level + 1
		}
		var ok bool
		if i, ok = sc.value(i, child, depth); !ok {
			return i, false
		}
		i = sc.ws(i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ',':
			i = sc.ws(i + 1)
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// jsonMasksGo is jsonMasks a byte at a time: the reference the assembly
// is tested against, and jsonMasks where there is none.
func jsonMasksGo(dst []uint64, src []byte) {
	for b := 0; b+4 <= len(dst); b += 4 {
		var q, bs, nl, ctl uint64
		for j, x := range src[64*(b/4) : 64*(b/4)+64] {
			switch {
			case x == '"':
				q |= 1 << j
			case x == '\\':
				bs |= 1 << j
			}
			if x == '\n' {
				nl |= 1 << j
			}
			if x < 0x20 {
				ctl |= 1 << j
			}
		}
		dst[b], dst[b+1], dst[b+2], dst[b+3] = q, bs, nl, ctl
	}
}

// unquoteJSON appends the string whose validated contents (between the
// quotes) are s, decoded as encoding/json decodes it: escapes resolved, a
// surrogate pair joined, a lone surrogate and each byte of invalid UTF-8
// replaced by U+FFFD.
func unquoteJSON(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			e := s[i+1]
			i += 2
			switch e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := rune(hex4(s[i:]))
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = rune(hex4(s[i+2:]))
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						i += 6
						r = d
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // " \ /
				dst = append(dst, e)
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			i += n
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

func hex4(h []byte) uint32 {
	var v uint32
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		v = v<<4 | uint32(c)
	}
	return v
}

// JSONKey is an Extractor for JSON lines: the key is the value at one path
// (see JSONPath.Lookup for its form), or, with several paths, the values
// joined into a composite key (AppendTupleKey); Value, if set, selects the
// record's value, a JSON number or a string holding a decimal number.
// A line that is not valid JSON (ErrBadJSON), or has null or nothing at a
// key path (ErrMissingField), has no key.
//
// The zero value has no path: every valid line is its own key. A JSONKey
// is not changed by Extract: one serves any number of goroutines.
type JSONKey struct {
	// Paths select the key's parts.
	Paths []JSONPath
	// Value, if it has segments or ValueSet is true, selects the value.
	Value    JSONPath
	ValueSet bool
}

// NewJSONKey parses the key paths and, if valuePath is not "", the value
// path (see ParseJSONPath).
func NewJSONKey(valuePath string, paths ...string) (*JSONKey, error) {
	k := &JSONKey{}
	for _, p := range paths {
		jp, err := ParseJSONPath(p)
		if err != nil {
			return nil, err
		}
		k.Paths = append(k.Paths, jp)
	}
	if valuePath != "" {
		jp, err := ParseJSONPath(valuePath)
		if err != nil {
			return nil, err
		}
		k.Value, k.ValueSet = jp, true
	}
	return k, nil
}

// Framing is FrameLines: a JSON document per line.
func (k *JSONKey) Framing() Framing { return FrameLines }

// Extract implements Extractor.
func (k *JSONKey) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	var x Extraction
	err := k.extract(rec, sc, &x)
	return x, err
}

// extractFramed implements framedExtractor: with one key path and no
// value, the scan of the line's JSON finds the line's end too
// (JSONPath.lookupLine), rather than a search for the newline first.
func (k *JSONKey) extractFramed(data []byte, atEOF bool, sc *Scratch, x *Extraction) (int, error) {
	if len(k.Paths) == 1 && !k.ValueSet {
		end, v, _, err := k.Paths[0].lookupLine(data, atEOF, &sc.Key)
		x.Key = v
		return end, err
	}
	end := indexNewline(data)
	if end < 0 {
		if !atEOF {
			return -1, nil
		}
		end = len(data)
	}
	rec := data[:end]
	if n := len(rec) - 1; n >= 0 && rec[n] == '\r' {
		rec = rec[:n]
	}
	return end, k.extract(rec, sc, x)
}

// extract sets *x (zero on entry) to rec's key and value.
func (k *JSONKey) extract(rec []byte, sc *Scratch, x *Extraction) error {
	switch len(k.Paths) {
	case 0:
		v, _, err := JSONPath{}.Lookup(rec, &sc.Key)
		if err != nil {
			return err
		}
		x.Key = v
	case 1:
		v, _, err := k.Paths[0].Lookup(rec, &sc.Key)
		if err != nil {
			return err
		}
		x.Key = v
	default:
		key := sc.Key[:0]
		for _, p := range k.Paths {
			v, _, err := p.Lookup(rec, &sc.Tmp)
			if err != nil {
				sc.Key = key
				return err
			}
			key = AppendTuplePart(key, v)
		}
		sc.Key = key
		x.Key = key
	}
	if k.ValueSet {
		v, kind, err := k.Value.Lookup(rec, &sc.Tmp)
		if err == nil && (kind == '0' || kind == '"') {
			x.Value, x.HasValue = parseValue(v)
		}
		x.BadValue = !x.HasValue
	}
	return nil
}
