package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/sketch"
)

// winBloom is a membership operator over a Bloom filter, Mergeable by
// union: the window tests' third exact sketch.
type winBloom struct{ b *sketch.Bloom }

func newWinBloom() (Mergeable, error) {
	b, err := sketch.NewBloomMK(1<<14, 4)
	return &winBloom{b}, err
}

func (o *winBloom) Process(in, _ *Batch) error {
	for i := range in.Records {
		o.b.AddHash(in.Records[i].Hash)
	}
	return nil
}
func (o *winBloom) MarshalBinary() ([]byte, error)    { return o.b.MarshalBinary() }
func (o *winBloom) UnmarshalBinary(data []byte) error { return o.b.UnmarshalBinary(data) }
func (o *winBloom) MergeBinary(data []byte) error {
	var t sketch.Bloom
	if err := t.UnmarshalBinary(data); err != nil {
		return err
	}
	return o.b.Merge(&t)
}

// winKinds are the operators whose merge is exact, so that a window's
// answer equals a fresh one fed the window's records byte for byte.
var winKinds = []struct {
	name string
	mk   func() (Mergeable, error)
}{
	{"hll", func() (Mergeable, error) { h, err := sketch.NewHLL(10); return &Distinct{HLL: h}, err }},
	{"countmin-plain", func() (Mergeable, error) {
		c, err := sketch.NewCountMinWidthDepth(256, 4)
		if err == nil {
			c.SetConservative(false)
		}
		return &Frequency{CM: c}, err
	}},
	{"bloom", newWinBloom},
	{"group-distinct", func() (Mergeable, error) {
		g, err := sketch.NewGroupDistinct(64)
		return &GroupDistinct{Sketch: g}, err
	}},
}

// winRec is one test record: its key number and time.
type winRec struct {
	key int
	t   int64
}

// winStream returns n records over span from t0, keys Zipf-ish, times
// increasing with jitter up to disorder (shuffled within it).
func winStream(seed uint64, n int, t0, span, disorder int64) []winRec {
	rng := rand.New(rand.NewPCG(seed, 3))
	recs := make([]winRec, n)
	for i := range recs {
		t := t0 + span*int64(i)/int64(n)
		if disorder > 0 {
			t += rng.Int64N(disorder) - disorder/2
		}
		if t == 0 {
			t = 1 // Time 0 means no time
		}
		recs[i] = winRec{key: int(rng.ExpFloat64() * 300), t: t}
	}
	return recs
}

// winKey is the key of record key n: a (group, value) composite key, so
// that GroupDistinct sees pairs, and any other operator a key.
func winKey(n int) []byte {
	return groupKey(nil, "g"+strconv.Itoa(n%7), "k"+strconv.Itoa(n))
}

func winBatch(recs []winRec) *Batch {
	b := new(Batch)
	for _, r := range recs {
		b.Add(winKey(r.key)).Time = r.t
	}
	return b
}

// winRun feeds recs in batches of bs to w and returns each window's
// bounds and answer bytes.
func winRun(t testing.TB, w *Window, recs []winRec, bs int) []string {
	t.Helper()
	var got []string
	w.OnWindow = func(a WindowAnswer) error {
		st, err := a.Op.MarshalBinary()
		got = append(got, fmt.Sprintf("[%d, %d) %d %x", a.Start.UnixNano(), a.End.UnixNano(), a.Records, st))
		return err
	}
	out := new(Batch)
	for i := 0; i < len(recs); i += bs {
		if err := w.Process(winBatch(recs[i:min(i+bs, len(recs))]), out); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// winExpect returns what winRun should: for each window that closed, a
// fresh operator fed exactly the records with time in [start, end) that
// were not late.
func winExpect(t testing.TB, mk func() (Mergeable, error), recs []winRec, late []bool, windows []string, size int64) []string {
	t.Helper()
	var want []string
	for _, g := range windows {
		var start, end int64
		if _, err := fmt.Sscanf(g, "[%d, %d)", &start, &end); err != nil {
			t.Fatal(err)
		}
		op, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		var in []winRec
		for i, r := range recs {
			if r.t >= start && r.t < end && !late[i] {
				in = append(in, r)
			}
		}
		if len(in) > 0 {
			if err := op.Process(winBatch(in), new(Batch)); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := op.MarshalBinary()
		if end-start != size {
			t.Fatalf("window [%d, %d) is not %d long", start, end, size)
		}
		want = append(want, fmt.Sprintf("[%d, %d) %d %x", start, end, len(in), st))
	}
	return want
}

// winLate marks the records an event-time window with this slide and
// lateness must count late: older than the slot of the watermark (largest
// time so far, itself included, minus lateness).
func winLate(recs []winRec, slide, lateness int64) ([]bool, uint64) {
	late := make([]bool, len(recs))
	var n uint64
	maxT := recs[0].t
	for i, r := range recs {
		maxT = max(maxT, r.t)
		if floorDiv(r.t, slide) < floorDiv(maxT-lateness, slide) {
			late[i] = true
			n++
		}
	}
	return late, n
}

// TestWindowEqualsFresh: every window's HLL, plain CountMin and Bloom
// equal, byte for byte, a fresh one fed only that window's records, in
// tumbling and sliding windows, event time (in order, and out of order
// within and beyond the lateness) and processing time.
func TestWindowEqualsFresh(t *testing.T) {
	sec := int64(time.Second)
	for _, kind := range winKinds {
		for _, tc := range []struct {
			name                  string
			size, slide, lateness time.Duration
			disorder              int64
			wantLate              bool
		}{
			{"tumbling", time.Minute, 0, 0, 0, false},
			{"sliding", time.Minute, 10 * time.Second, 0, 0, false},
			{"sliding-disorder-within-lateness", time.Minute, 10 * time.Second, 5 * time.Second, 4 * sec, false},
			{"tumbling-disorder-beyond-lateness", 30 * time.Second, 0, 2 * time.Second, 20 * sec, true},
			{"sliding-late", 40 * time.Second, 20 * time.Second, time.Second, 30 * sec, true},
		} {
			t.Run(kind.name+"/event-"+tc.name, func(t *testing.T) {
				// Times start before 1970 too: slots round down.
				recs := winStream(1, 20000, -90*sec, 10*60*sec, tc.disorder)
				w := &Window{New: kind.mk, Size: tc.size, Slide: tc.slide, EventTime: true, Lateness: tc.lateness}
				got := winRun(t, w, recs, 97)
				slide := int64(tc.slide)
				if slide == 0 {
					slide = int64(tc.size)
				}
				late, nLate := winLate(recs, slide, int64(tc.lateness))
				if w.Late() != nLate || (nLate > 0) != tc.wantLate {
					t.Fatalf("late %d, want %d (some: %v)", w.Late(), nLate, tc.wantLate)
				}
				if min := 10*60*sec/slide - int64(tc.size)/slide; int64(len(got)) < min {
					t.Fatalf("%d windows, want at least %d", len(got), min)
				}
				want := winExpect(t, kind.mk, recs, late, got, int64(tc.size))
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("window %d differs from a fresh sketch of its records:\n got %.80s\nwant %.80s", i, got[i], want[i])
					}
				}
			})
		}
		t.Run(kind.name+"/processing-sliding", func(t *testing.T) {
			// The clock moves 700 ms per batch; each batch's records take
			// its time.
			now := time.Unix(1000, 0)
			w := &Window{New: kind.mk, Size: time.Minute, Slide: 10 * time.Second, Clock: func() time.Time { return now }}
			recs := winStream(2, 30000, 0, 0, 0)
			var got []string
			w.OnWindow = func(a WindowAnswer) error {
				st, err := a.Op.MarshalBinary()
				got = append(got, fmt.Sprintf("[%d, %d) %d %x", a.Start.UnixNano(), a.End.UnixNano(), a.Records, st))
				return err
			}
			for i := 0; i < len(recs); i += 50 {
				for j := i; j < i+50; j++ {
					recs[j].t = now.UnixNano()
				}
				if err := w.Process(winBatch(recs[i:i+50]), new(Batch)); err != nil {
					t.Fatal(err)
				}
				now = now.Add(700 * time.Millisecond)
			}
			if len(got) < 30 {
				t.Fatalf("%d windows", len(got))
			}
			want := winExpect(t, kind.mk, recs, make([]bool, len(recs)), got, int64(time.Minute))
			if !slices.Equal(got, want) {
				t.Fatal("a window differs from a fresh sketch of its records")
			}
		})
	}
}

// TestWindowLateCounted: a record older than the closed slots is counted
// late and left out of every window; one without time is Untimed.
func TestWindowLateCounted(t *testing.T) {
	s := int64(time.Second)
	var answers []WindowAnswer
	w := &Window{Size: 10 * time.Second, EventTime: true, OnWindow: func(a WindowAnswer) error {
		answers = append(answers, a)
		return nil
	}}
	recs := []winRec{{1, 1 * s}, {2, 15 * s}, {3, 3 * s}, {4, 12 * s}, {5, 25 * s}, {6, 9 * s}}
	b := winBatch(recs)
	b.Add([]byte("untimed"))
	if err := w.Process(b, new(Batch)); err != nil {
		t.Fatal(err)
	}
	if w.Late() != 2 || w.Untimed() != 1 {
		t.Fatalf("late %d untimed %d, want 2 and 1", w.Late(), w.Untimed())
	}
	var got []string
	for _, a := range answers {
		got = append(got, fmt.Sprintf("[%v, %v) %d late %d", a.Start.Unix(), a.End.Unix(), a.Records, a.Late))
	}
	want := []string{"[0, 10) 1 late 0", "[10, 20) 2 late 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("windows %q, want %q", got, want)
	}
	last, ok := w.Last()
	if !ok || last.End.Unix() != 20 {
		t.Fatalf("Last %v %v", last, ok)
	}
	if e := last.Op.(*Distinct).HLL.Estimate(); math.Round(e.Value) != 2 || !e.Contains(2) {
		t.Fatalf("window [10, 20) counts %v distinct, want 2", e)
	}
}

// TestWindowDayKeepsSlots: a simulated day of processing time (a batch a
// second, 1-minute windows sliding by 10 s) makes Size/Slide + 1 slot
// operators and one scratch, no more, and answers every slide.
func TestWindowDayKeepsSlots(t *testing.T) {
	made := 0
	now := time.Unix(1_700_000_000, 0)
	windows := 0
	w := &Window{
		New:  func() (Mergeable, error) { made++; return new(Distinct), nil },
		Size: time.Minute, Slide: 10 * time.Second,
		Clock: func() time.Time { return now },
		OnWindow: func(a WindowAnswer) error {
			windows++
			if a.Records != 60 && windows > 6 {
				return fmt.Errorf("window %d [%v, %v) has %d records, want 60", windows, a.Start, a.End, a.Records)
			}
			return nil
		},
	}
	b := new(Batch)
	out := new(Batch)
	hours := simulatedHours()
	for i := range hours * 3600 {
		b.Reset()
		b.Add([]byte(strconv.Itoa(i % 1000)))
		if err := w.Process(b, out); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
		if w.Slots() != 7 {
			t.Fatalf("%d slots at second %d, want 7", w.Slots(), i)
		}
	}
	// Distinct's slots are distinctSlots: New makes the scratch and the
	// first slot's probe (TestWindowDayKeepsSlotsOtherOps: 6 + 1 slots
	// and a scratch).
	if made != 2 {
		t.Fatalf("New called %d times over a day, want 2", made)
	}
	if windows != hours*360-1 {
		t.Fatalf("%d windows, want %d", windows, hours*360-1)
	}
}

// simulatedHours is how long the day-long window tests simulate: a day,
// or two hours with -short (the -race pass), where a day of merging
// count-min slots takes minutes.
func simulatedHours() int {
	if testing.Short() {
		return 2
	}
	return 24
}

// TestWindowDayKeepsSlotsOtherOps: an operator that is not a Distinct
// runs in New's own slots, made once: 6 + 1 slots and a scratch over a
// simulated day.
func TestWindowDayKeepsSlotsOtherOps(t *testing.T) {
	made := 0
	now := time.Unix(1_700_000_000, 0)
	w := &Window{
		New:  func() (Mergeable, error) { made++; return new(Frequency), nil },
		Size: time.Minute, Slide: 10 * time.Second,
		Clock: func() time.Time { return now },
	}
	b, out := new(Batch), new(Batch)
	for i := range simulatedHours() * 3600 {
		b.Reset()
		b.Add([]byte(strconv.Itoa(i % 1000)))
		if err := w.Process(b, out); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if made != 8 || w.Slots() != 7 {
		t.Fatalf("New called %d times over a day, %d slots; want 8 (6 + 1 slots and a scratch) and 7", made, w.Slots())
	}
}

// TestWindowCheckpoint: a window restored from a checkpoint taken midway
// gives the same windows after it as the uninterrupted run, for event
// time with lateness and late records, and for processing time.
func TestWindowCheckpoint(t *testing.T) {
	sec := int64(time.Second)
	for _, kind := range winKinds {
		t.Run(kind.name, func(t *testing.T) {
			recs := winStream(4, 20000, 0, 600*sec, 30*sec)
			mk := func() *Window {
				return &Window{New: kind.mk, Size: time.Minute, Slide: 20 * time.Second, EventTime: true, Lateness: 5 * time.Second}
			}
			whole := winRun(t, mk(), recs, 100)
			for _, cut := range []int{100, 7300, 15000} {
				a := mk()
				before := winRun(t, a, recs[:cut], 100)
				st, err := a.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				b := mk()
				if err := b.UnmarshalBinary(st); err != nil {
					t.Fatal(err)
				}
				st2, _ := b.MarshalBinary()
				if !bytes.Equal(st, st2) {
					t.Fatal("state does not round-trip")
				}
				after := winRun(t, b, recs[cut:], 100)
				if got := append(before, after...); !slices.Equal(got, whole) {
					t.Fatalf("cut at %d: %d+%d windows differ from the %d of the whole run", cut, len(before), len(after), len(whole))
				}
				if b.Late() != mk().Late()+func() uint64 { _, n := winLate(recs, 20*sec, 5*sec); return n }() {
					t.Fatalf("late %d after restore", b.Late())
				}
			}
		})
	}
	t.Run("processing-time", func(t *testing.T) {
		now := time.Unix(500, 0)
		clock := func() time.Time { return now }
		mk := func() *Window { return &Window{Size: 30 * time.Second, Slide: 10 * time.Second, Clock: clock} }
		recs := winStream(5, 4000, 0, 0, 0)
		run := func(w *Window, from, to int) []string {
			var got []string
			w.OnWindow = func(a WindowAnswer) error {
				st, _ := a.Op.MarshalBinary()
				got = append(got, fmt.Sprintf("%v %x", a.End, st))
				return nil
			}
			for i := from; i < to; i += 40 {
				now = time.Unix(500, 0).Add(time.Duration(i/40) * 3 * time.Second)
				if err := w.Process(winBatch(recs[i:i+40]), new(Batch)); err != nil {
					t.Fatal(err)
				}
			}
			return got
		}
		whole := run(mk(), 0, len(recs))
		a := mk()
		got := run(a, 0, 2000)
		st, _ := a.MarshalBinary()
		b := mk()
		if err := b.UnmarshalBinary(st); err != nil {
			t.Fatal(err)
		}
		if got = append(got, run(b, 2000, len(recs))...); !slices.Equal(got, whole) {
			t.Fatal("restored processing-time windows differ")
		}
	})
}

func TestWindowErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    *Window
	}{
		{"slide does not divide", &Window{Size: time.Minute, Slide: 7 * time.Second}},
		{"negative lateness", &Window{EventTime: true, Lateness: -time.Second}},
		{"lateness without event time", &Window{Lateness: time.Second}},
		{"too many slots", &Window{Size: time.Hour, Slide: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.w.Process(new(Batch), new(Batch)); !errors.Is(err, ErrWindow) {
				t.Fatalf("got %v, want ErrWindow", err)
			}
		})
	}
	a := &Window{Size: time.Minute, EventTime: true}
	if err := a.Process(winBatch(winStream(1, 100, 0, 200*int64(time.Second), 0)), new(Batch)); err != nil {
		t.Fatal(err)
	}
	st, _ := a.MarshalBinary()
	if err := (&Window{Size: 2 * time.Minute, EventTime: true}).UnmarshalBinary(st); !errors.Is(err, ErrWindow) {
		t.Fatalf("other size: %v, want ErrWindow", err)
	}
	// Every truncation and every flipped byte is an error or a state that
	// re-encodes; never a panic.
	for i := range st {
		b := &Window{Size: time.Minute, EventTime: true}
		_ = b.UnmarshalBinary(st[:i])
		c := &Window{Size: time.Minute, EventTime: true}
		_ = c.UnmarshalBinary(append(slices.Clone(st[:i]), st[i]^0x55))
	}
}

func FuzzWindowState(f *testing.F) {
	a := &Window{Size: time.Minute, Slide: 20 * time.Second, EventTime: true, Lateness: time.Second}
	if err := a.Process(winBatch(winStream(1, 500, 0, 200*int64(time.Second), 0)), new(Batch)); err != nil {
		f.Fatal(err)
	}
	st, _ := a.MarshalBinary()
	f.Add(st)
	f.Add(st[:len(st)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &Window{Size: time.Minute, Slide: 20 * time.Second, EventTime: true, Lateness: time.Second}
		if err := w.UnmarshalBinary(data); err != nil {
			return
		}
		// A state that decodes goes on without panicking.
		if err := w.Process(winBatch(winStream(2, 50, 0, 100*int64(time.Second), 0)), new(Batch)); err != nil && !errors.Is(err, ErrWindow) {
			t.Logf("process after restore: %v", err)
		}
	})
}

// TestWindowProcessAllocs: records within a slot allocate nothing.
func TestWindowProcessAllocs(t *testing.T) {
	for _, event := range []bool{false, true} {
		now := time.Unix(100, 0)
		w := &Window{Size: time.Minute, Slide: 10 * time.Second, EventTime: event, Clock: func() time.Time { return now }}
		recs := winStream(3, 1000, now.UnixNano(), int64(time.Second), 0)
		b := winBatch(recs)
		out := new(Batch)
		if err := w.Process(b, out); err != nil {
			t.Fatal(err)
		}
		many := new(Batch)
		for i := range 20000 {
			many.Add([]byte(strconv.Itoa(i)))
		}
		if err := w.ring[w.slot(w.next)].Process(many, out); err != nil { // dense, as in steady state
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := w.Process(b, out); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("event time %v: got %v allocation(s) per batch (want zero)", event, allocs)
		}
	}
}

// TestWindowAdvanceQuiet: Advance closes windows on a quiet source; the
// empty windows after the records are not answered, and Last keeps the
// latest answer that had records.
func TestWindowAdvanceQuiet(t *testing.T) {
	now := time.Unix(0, 1)
	var ends []int64
	w := &Window{Size: 20 * time.Second, Slide: 10 * time.Second, Clock: func() time.Time { return now },
		OnWindow: func(a WindowAnswer) error { ends = append(ends, a.End.Unix()); return nil }}
	b := winBatch([]winRec{{1, 0}, {2, 0}, {3, 0}})
	if err := w.Process(b, new(Batch)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []int64{5, 15, 25, 35, 3600} {
		if err := w.Advance(time.Unix(s, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.Watermark().Unix(); got != 3600 {
		t.Fatalf("watermark %d, want 3600", got)
	}
	if !slices.Equal(ends, []int64{10, 20}) {
		t.Fatalf("windows ending at %v, want [10 20]", ends)
	}
	last, ok := w.Last()
	if !ok || last.End.Unix() != 20 || last.Records != 3 {
		t.Fatalf("Last: %+v", last)
	}
	if e := last.Op.(*Distinct).HLL.Estimate(); !e.Contains(3) {
		t.Fatalf("Last's answer %v, want 3 distinct", e)
	}
}

// TestWindowInPipeline: a Window runs as a stage (two instances, its
// clock ticking a second per batch), and its windows, closed at the end
// through Query, count every record once.
func TestWindowInPipeline(t *testing.T) {
	g, err := NewGenerator(GeneratorConfig{Seed: 1, Keys: 1000, Count: 50000})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	total := uint64(0)
	p, err := New([]Source{g}, []Stage{{
		Name: "window", Input: RoundRobin, Parallelism: 2,
		New: func(int) (Operator, error) {
			now := time.Unix(0, 1)
			return &Window{Size: 5 * time.Second,
				Clock: func() time.Time { now = now.Add(time.Second); return now },
				OnWindow: func(a WindowAnswer) error {
					mu.Lock()
					total += a.Records
					mu.Unlock()
					return nil
				}}, nil
		},
	}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = QueryAs(p, 0, func(_ int, w *Window) error { return w.Advance(time.Unix(1e6, 0)) })
	if err != nil {
		t.Fatal(err)
	}
	if total != 50000 {
		t.Fatalf("windows counted %d records, want 50000", total)
	}
}

// TestWindowTopKBounds: a TopK's merge is not exact, but each window's
// merged TopK bounds every key's count in that window's records (its
// bounds are certain).
func TestWindowTopKBounds(t *testing.T) {
	sec := int64(time.Second)
	recs := winStream(6, 30000, 1, 300*sec, 0)
	w := &Window{
		New: func() (Mergeable, error) {
			k, err := sketch.NewTopK(32)
			return &HeavyHitters{TopK: k}, err
		},
		Size: 30 * time.Second, Slide: 10 * time.Second, EventTime: true,
	}
	checked := 0
	w.OnWindow = func(a WindowAnswer) error {
		exact := map[string]uint64{}
		for _, r := range recs {
			if r.t >= a.Start.UnixNano() && r.t < a.End.UnixNano() {
				exact[string(winKey(r.key))]++
			}
		}
		top := a.Op.(*HeavyHitters).TopK
		for key, n := range exact {
			if e := top.Estimate([]byte(key)); !e.Contains(float64(n)) {
				return fmt.Errorf("window [%v, %v): %s counted %d, bounds %v", a.Start, a.End, key, n, e)
			}
		}
		checked++
		return nil
	}
	out := new(Batch)
	for i := 0; i < len(recs); i += 100 {
		if err := w.Process(winBatch(recs[i:i+100]), out); err != nil {
			t.Fatal(err)
		}
	}
	if checked < 25 {
		t.Fatalf("%d windows checked", checked)
	}
}
