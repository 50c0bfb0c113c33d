package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrBadTime: a record's time field does not parse in its TimeFormat, or
// lies outside what Unix nanoseconds in an int64 hold (years 1678 to
// 2262), or is the Unix epoch itself (Record.Time 0 means "no time"). A
// TimedKey rejects such a record as an Extractor rejects one without a
// key: the LineSource skips and counts it (or fails, with Strict).
var ErrBadTime = errors.New("pipeline: time field does not parse")

// TimeFormat says how a record's time is written. The zero value is RFC
// 3339 (2026-01-02T15:04:05Z, 2026-01-02T15:04:05.123+01:00; a space for
// the T is allowed). A TimeFormat is a plain value, safe for concurrent
// use.
type TimeFormat struct {
	kind   timeKind
	layout string
}

type timeKind uint8

const (
	timeRFC3339 timeKind = iota
	timeUnix             // seconds, a decimal fraction allowed
	timeUnixMs           // milliseconds, a decimal fraction allowed
	timeLayout           // a Go layout (time.Parse)
)

// ParseTimeFormat reads a time format as a command line gives it:
// "rfc3339" (or ""), "unix" (seconds since 1970, a fraction allowed:
// 1767225600.25), "unixms" (milliseconds), or any other text as a Go
// layout ("02/Jan/2006:15:04:05 -0700", read in UTC unless it holds a
// zone). A layout must hold at least a year, a day and an hour (2006, 02
// or 2, 15 or 03): anything else is most likely a misspelt name.
func ParseTimeFormat(s string) (TimeFormat, error) {
	switch strings.ToLower(s) {
	case "", "rfc3339":
		return TimeFormat{}, nil
	case "unix", "unixs", "s":
		return TimeFormat{kind: timeUnix}, nil
	case "unixms", "ms":
		return TimeFormat{kind: timeUnixMs}, nil
	}
	// A day is a 2 once the year is out (2, _2, 02, 002): no other element
	// of a layout holds one.
	day := strings.Contains(strings.ReplaceAll(s, "2006", ""), "2")
	if !strings.Contains(s, "2006") || !day || !(strings.Contains(s, "15") || strings.Contains(s, "03")) {
		return TimeFormat{}, fmt.Errorf("pipeline: time format %q: use rfc3339, unix, unixms, or a Go layout such as 2006-01-02 15:04:05: %w", s, ErrBadTime)
	}
	return TimeFormat{kind: timeLayout, layout: s}, nil
}

// String returns the format as ParseTimeFormat reads it.
func (f TimeFormat) String() string {
	switch f.kind {
	case timeUnix:
		return "unix"
	case timeUnixMs:
		return "unixms"
	case timeLayout:
		return f.layout
	}
	return "rfc3339"
}

// Parse returns the time b holds, in Unix nanoseconds, or an error
// wrapping ErrBadTime. Blanks around it are ignored. RFC 3339 and the
// Unix forms allocate nothing; a Go layout goes through time.Parse.
func (f TimeFormat) Parse(b []byte) (int64, error) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	var (
		t  int64
		ok bool
	)
	switch f.kind {
	case timeRFC3339:
		t, ok = parseRFC3339(b)
	case timeUnix:
		t, ok = parseUnix(b, 9)
	case timeUnixMs:
		t, ok = parseUnix(b, 6)
	case timeLayout:
		tm, err := time.Parse(f.layout, string(b))
		if err == nil && tm.Year() > 1677 && tm.Year() < 2262 {
			t, ok = tm.UnixNano(), true
		}
	}
	if !ok || t == 0 {
		return 0, ErrBadTime
	}
	return t, nil
}

// pow10 are the powers of ten up to a second in nanoseconds.
var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// parseUnix reads a decimal number of units of 10^digits nanoseconds:
// digits, an optional sign, an optional fraction (its digits past
// nanoseconds dropped), without a division per digit.
func parseUnix(b []byte, digits int) (int64, bool) {
	unit := pow10[digits]
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var whole int64
	i, seen := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if whole > (math.MaxInt64-9)/10 {
			return 0, false
		}
		whole = whole*10 + int64(b[i]-'0')
		seen++
	}
	var frac int64
	if i < len(b) && b[i] == '.' {
		i++
		nd := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if nd < digits {
				frac = frac*10 + int64(b[i]-'0')
				nd++
			}
			seen++
		}
		frac *= pow10[digits-nd]
	}
	if i != len(b) || seen == 0 || whole > math.MaxInt64/unit-1 {
		return 0, false
	}
	t := whole*unit + frac
	if neg {
		t = -t
	}
	return t, true
}

// parseRFC3339 reads YYYY-MM-DD[T ]hh:mm:ss[.frac](Z|±hh:mm) without
// allocating, checking the ranges as time.Parse does (no leap second,
// :60; no day past its month's end).
func parseRFC3339(b []byte) (int64, bool) {
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 || year < 1678 || year > 2261 {
		return 0, false
	}
	rest := b[19:]
	var nsec int64
	if rest[0] == '.' {
		i, nd := 1, 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if nd < 9 {
				nsec = nsec*10 + int64(rest[i]-'0')
				nd++
			}
		}
		if i == 1 {
			return 0, false
		}
		nsec *= pow10[9-nd]
		rest = rest[i:]
	}
	var offset int64
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(rest[1:3])
		om, ok2 := num(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	days := daysSinceEpoch(year, month, day)
	secs := days*86400 + int64(hour*3600+minute*60+sec) - offset
	return secs*1e9 + nsec, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch is the number of days from 1970-01-01 to the date in the
// proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// TimedKey is an Extractor that gives each record a time as well as a key:
// Time selects the field that holds the time (its key is the time's text:
// a one-field FieldsKey, a one-column CSVKey, a one-path JSONKey), Format
// reads it into Extraction.Time, and Key finds the key and value as it
// would alone. A record whose time is missing (ErrMissingField) or does
// not parse (ErrBadTime) has no key: the LineSource skips and counts it,
// or fails with LineConfig.Strict. Event-time windows (Window.EventTime)
// read the time so set.
//
// Key and Time must frame records alike. A TimedKey is not changed by
// Extract: one serves any number of goroutines. The zero value is not
// usable: set Key and Time.
type TimedKey struct {
	Key, Time Extractor
	Format    TimeFormat

	fields *timedFields // set by NewTimedKey for delimited fields
}

// NewTimedKey checks that key and tm frame records alike and returns a
// TimedKey.
func NewTimedKey(key, tm Extractor, f TimeFormat) (*TimedKey, error) {
	if key == nil || tm == nil || key.Framing() != tm.Framing() {
		return nil, fmt.Errorf("pipeline: timed key: the key's and the time's extractors must both be set and frame records alike: %w", ErrInvalidGraph)
	}
	k := &TimedKey{Key: key, Time: tm, Format: f}
	k.fields = newTimedFields(key, tm)
	return k, nil
}

// timedFields is a TimedKey of delimited fields found in one pass over
// the line, instead of one from its start per field: the time's field,
// the key's and the value's, all at most maxTimedField.
type timedFields struct {
	d     Delimiter
	time  int
	key   []int
	value int
	last  int // the largest field wanted
}

const maxTimedField = 16

// newTimedFields returns the one-pass form of a TimedKey of two
// FieldsKeys with one delimiter, or nil.
func newTimedFields(key, tm Extractor) *timedFields {
	kf, ok1 := key.(*FieldsKey)
	tf, ok2 := tm.(*FieldsKey)
	if !ok1 || !ok2 || kf.Delimiter != tf.Delimiter || len(tf.Fields) != 1 || len(kf.Fields) == 0 || tf.ValueField != 0 {
		return nil
	}
	f := &timedFields{d: kf.Delimiter, time: tf.Fields[0], key: kf.Fields, value: kf.ValueField}
	if f.value < 0 || f.value > maxTimedField {
		return nil
	}
	f.last = f.value
	for _, n := range append([]int{f.time}, f.key...) {
		if n < 1 || n > maxTimedField {
			return nil
		}
		f.last = max(f.last, n)
	}
	return f
}

// extract is TimedKey.Extract for f: the same answers as FieldsKey's.
func (f *timedFields) extract(rec []byte, format TimeFormat, sc *Scratch) (Extraction, error) {
	var spans [maxTimedField + 1][2]int
	found := 0
	if f.d.single {
		i := 0
		for found < f.last {
			found++
			j := bytes.IndexByte(rec[i:], f.d.c)
			if j < 0 {
				spans[found] = [2]int{i, len(rec)}
				break
			}
			spans[found] = [2]int{i, i + j}
			i += j + 1
		}
	} else {
		for i := 0; found < f.last; {
			for i < len(rec) && asciiSpace[rec[i]] {
				i++
			}
			if i == len(rec) {
				break
			}
			j := i + 1
			for j < len(rec) && !asciiSpace[rec[j]] {
				j++
			}
			found++
			spans[found] = [2]int{i, j}
			i = j
		}
	}
	field := func(n int) []byte { return rec[spans[n][0]:spans[n][1]] }
	if f.time > found {
		return Extraction{}, ErrMissingField
	}
	t, err := format.Parse(field(f.time))
	if err != nil {
		return Extraction{}, err
	}
	x := Extraction{Time: t}
	if len(f.key) == 1 {
		if f.key[0] > found {
			return Extraction{}, ErrMissingField
		}
		x.Key = field(f.key[0])
	} else {
		key := sc.Key[:0]
		for _, n := range f.key {
			if n > found {
				return Extraction{}, ErrMissingField
			}
			key = AppendTuplePart(key, field(n))
		}
		sc.Key, x.Key = key, key
	}
	if f.value != 0 {
		if f.value <= found {
			x.Value, x.HasValue = parseValue(field(f.value))
		}
		x.BadValue = !x.HasValue
	}
	return x, nil
}

// Framing is the key extractor's.
func (k *TimedKey) Framing() Framing { return k.Key.Framing() }

// Extract implements Extractor. The time is read first: its text may live
// in the Scratch, which the key's extraction then reuses.
func (k *TimedKey) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	if k.fields != nil {
		return k.fields.extract(rec, k.Format, sc)
	}
	tx, err := k.Time.Extract(rec, sc)
	if err != nil {
		return Extraction{}, err
	}
	t, err := k.Format.Parse(tx.Key)
	if err != nil {
		return Extraction{}, err
	}
	x, err := k.Key.Extract(rec, sc)
	if err != nil {
		return Extraction{}, err
	}
	x.Time = t
	return x, nil
}
