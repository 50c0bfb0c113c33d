package pipeline

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestParseRFC3339MatchesTime: the allocation-free RFC 3339 reader gives
// time.Parse's answer on random times, zones and fractions, and refuses
// what time.Parse refuses among near misses.
func TestParseRFC3339MatchesTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ns := rng.Int64N(int64(200*365*24*time.Hour)) - int64(30*365*24*time.Hour)
		if ns == 0 {
			continue
		}
		off := (rng.IntN(28*4) - 14*4) * 15 * 60
		tm := time.Unix(0, ns).In(time.FixedZone("", off))
		layouts := []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05.000Z07:00", "2006-01-02 15:04:05.999999Z07:00"}
		s := tm.Format(layouts[rng.IntN(len(layouts))])
		want, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "T", 1))
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", s, err)
		}
		got, err := TimeFormat{}.Parse([]byte(s))
		if err != nil || got != want.UnixNano() {
			t.Fatalf("Parse(%q) = %d, %v; want %d", s, got, err, want.UnixNano())
		}
	}
	for _, bad := range []string{"", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T00:00:00+1:00", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zx",
		"1970-01-01T00:00:00Z", "2262-06-01T00:00:00Z", "x026-01-01T00:00:00Z"} {
		if _, err := (TimeFormat{}).Parse([]byte(bad)); !errors.Is(err, ErrBadTime) {
			t.Errorf("Parse(%q): err %v, want ErrBadTime", bad, err)
		}
	}
}

func TestTimeFormats(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		format, in string
		want       time.Time
		bad        bool
	}{
		{"unix", "1767268800", t0, false},
		{"unix", " 1767268800.25 ", t0.Add(250 * time.Millisecond), false},
		{"unix", "-1.5", time.Unix(0, -1.5e9), false},
		{"unix", "1767268800x", time.Time{}, true},
		{"unix", ".", time.Time{}, true},
		{"unix", "99999999999999999999", time.Time{}, true},
		{"unixms", "1767268800123", t0.Add(123 * time.Millisecond), false},
		{"unixms", "1767268800123.5", t0.Add(123*time.Millisecond + 500*time.Microsecond), false},
		{"unix", "1767268800.1234567891", t0.Add(123456789), false},
		{"unixms", "1767268800123.4567891", t0.Add(123*time.Millisecond + 456789), false},
		{"rfc3339", "2026-01-01T12:00:00.1234567891Z", t0.Add(123456789), false},
		{"rfc3339", "2026-01-01T13:00:00+01:00", t0, false},
		{"02/Jan/2006:15:04:05 -0700", "01/Jan/2026:12:00:00 +0000", t0, false},
		{"2006-01-02 15:04:05", "2026-01-01 12:00:00", t0, false},
		{"2006-01-02 15:04:05", "2026-01-01T12:00:00", time.Time{}, true},
	} {
		f, err := ParseTimeFormat(c.format)
		if err != nil {
			t.Fatalf("ParseTimeFormat(%q): %v", c.format, err)
		}
		got, err := f.Parse([]byte(c.in))
		if c.bad {
			if !errors.Is(err, ErrBadTime) {
				t.Errorf("format=%q,in=%q: err %v, want ErrBadTime", c.format, c.in, err)
			}
			continue
		}
		if err != nil || got != c.want.UnixNano() {
			t.Errorf("format=%q,in=%q: %v, %v; want %v", c.format, c.in, time.Unix(0, got).UTC(), err, c.want)
		}
	}
	// A layout without a day ("2006-01 15:04", "2006 15:04:05") is most
	// likely a mistake: every record of a day would fall on its first.
	for _, bad := range []string{"unixx", "rfc", "Jan 2", "2006-01 15:04", "2006 15:04:05", "01/2006 03:04 PM"} {
		if _, err := ParseTimeFormat(bad); !errors.Is(err, ErrBadTime) {
			t.Errorf("ParseTimeFormat(%q): %v, want ErrBadTime", bad, err)
		}
	}
}

// TestTimedKeyLineSource: a LineSource with a TimedKey gives each record
// its time; a record without one, or with one that does not parse, is
// skipped and counted, and an error with Strict.
func TestTimedKeyLineSource(t *testing.T) {
	in := "1767268800 alice\n1767268801.5 bob\nnoon carol\n1767268802\n1767268803 dave\n"
	key, _ := NewFieldsKey(Whitespace, 0, 2)
	tm, _ := NewFieldsKey(Whitespace, 0, 1)
	f, _ := ParseTimeFormat("unix")
	tk, err := NewTimedKey(key, tm, f)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewLineSource(strings.NewReader(in), LineConfig{Extract: tk})
	if err != nil {
		t.Fatal(err)
	}
	b := new(Batch)
	for {
		err := src.Fill(t.Context(), b, 100)
		if err != nil {
			break
		}
	}
	var got []string
	for i := range b.Records {
		got = append(got, fmt.Sprintf("%s@%d", b.Key(i), b.Records[i].Time))
	}
	want := "[alice@1767268800000000000 bob@1767268801500000000 dave@1767268803000000000]"
	if fmt.Sprint(got) != want || src.Skipped() != 2 {
		t.Fatalf("got %v, %d skipped; want %s, 2 skipped", got, src.Skipped(), want)
	}
	strict, err := NewLineSource(strings.NewReader(in), LineConfig{Extract: tk, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	for ferr == nil {
		ferr = strict.Fill(t.Context(), new(Batch), 100)
	}
	if !errors.Is(ferr, ErrBadTime) {
		t.Fatalf("strict: %v, want ErrBadTime", ferr)
	}
}

// TestTimedKeyAllocs: extracting a key and an RFC 3339 or Unix time
// allocates nothing, from JSON or from delimited fields in one pass.
func TestTimedKeyAllocs(t *testing.T) {
	key, _ := NewFieldsKey(Whitespace, 0, 2, 3)
	tm, _ := NewFieldsKey(Whitespace, 0, 1)
	f, _ := ParseTimeFormat("unix")
	tk, _ := NewTimedKey(key, tm, f)
	var sc Scratch
	rec := []byte("1767268800.25 /p/1 u5")
	tk.Extract(rec, &sc)
	if a := testing.AllocsPerRun(100, func() {
		if x, err := tk.Extract(rec, &sc); err != nil || x.Time == 0 {
			t.Fatal(x, err)
		}
	}); a != 0 {
		t.Errorf("fields: got %v allocation(s) (want zero)", a)
	}
	for _, c := range []struct{ format, rec string }{
		{"rfc3339", `{"ts":"2026-01-01T12:00:00.123Z","user":"a\u00e9"}`},
		{"unixms", `{"ts":1767268800123,"user":"bob"}`},
	} {
		key, _ := NewJSONKey("", "user")
		tm, _ := NewJSONKey("", "ts")
		f, _ := ParseTimeFormat(c.format)
		tk, _ := NewTimedKey(key, tm, f)
		var sc Scratch
		rec := []byte(c.rec)
		if _, err := tk.Extract(rec, &sc); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(100, func() {
			if x, err := tk.Extract(rec, &sc); err != nil || x.Time == 0 {
				t.Fatal(x, err)
			}
		}); a != 0 {
			t.Errorf("%s: got %v allocation(s) (want zero)", c.format, a)
		}
	}
}

// FuzzTimeParse: no input panics, every error is ErrBadTime, and what
// RFC 3339 accepts, time.Parse reads the same.
func FuzzTimeParse(f *testing.F) {
	for _, s := range []string{"2026-01-01T12:00:00Z", "2026-01-01 12:00:00.5+01:30", "1767268800.25", "-0", "9999999999999999999", "2026-02-30T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, name := range []string{"rfc3339", "unix", "unixms", "2006-01-02 15:04"} {
			tf, _ := ParseTimeFormat(name)
			v, err := tf.Parse([]byte(s))
			if err != nil && !errors.Is(err, ErrBadTime) {
				t.Fatalf("%s %q: %v", name, s, err)
			}
			if err == nil && name == "rfc3339" {
				if want, terr := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); terr == nil && want.UnixNano() != v {
					t.Fatalf("%q: %d, time.Parse %d", s, v, want.UnixNano())
				}
			}
		}
	})
}

// TestTimedFieldsOnePass: a TimedKey of delimited fields, found in one
// pass, answers as the two extractors one after the other do, on random
// lines (blanks, empty and missing fields, bad times), whitespace and a
// comma, one key field or several, with a value or not.
func TestTimedFieldsOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	tokens := []string{"1767268800", "17.5", "x", "", " ", "\t", ",", "-3", "1e3", "noon", "1767268801.25"}
	f, _ := ParseTimeFormat("unix")
	for _, d := range []Delimiter{Whitespace, {c: ',', single: true}} {
		for _, c := range []struct {
			time, value int
			key         []int
		}{{1, 0, []int{2}}, {3, 0, []int{1, 2}}, {2, 4, []int{4}}, {1, 3, []int{2, 5}}} {
			key, _ := NewFieldsKey(d, c.value, c.key...)
			tm, _ := NewFieldsKey(d, 0, c.time)
			fast, _ := NewTimedKey(key, tm, f)
			if fast.fields == nil {
				t.Fatalf("%+v: no one-pass form", c)
			}
			slow := &TimedKey{Key: key, Time: tm, Format: f}
			var sc1, sc2 Scratch
			for range 3000 {
				var b []byte
				for range rng.IntN(8) {
					b = append(b, tokens[rng.IntN(len(tokens))]...)
				}
				x1, e1 := fast.Extract(b, &sc1)
				x2, e2 := slow.Extract(b, &sc2)
				if e1 != e2 || string(x1.Key) != string(x2.Key) || x1.Time != x2.Time || x1.HasValue != x2.HasValue ||
					x1.BadValue != x2.BadValue || (x1.HasValue && x1.Value != x2.Value) {
					t.Fatalf("delimiter %v, %+v, line %q: one pass %+v %v, two %+v %v", d, c, b, x1, e1, x2, e2)
				}
			}
		}
	}
}
