package pipeline

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestCSVMasks: each implementation's bitmaps (assembly, where there is
// some) are the byte loop's, for every delimiter and block count.
func TestCSVMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 14))
	for name, masks := range csvMasksVariants() {
		for trial := range 500 {
			src := make([]byte, 64*(trial%4))
			for i := range src {
				src[i] = "\"\n,;\t\r ax\x00\xff"[r.IntN(11)]
			}
			comma := ",;\t|"[trial%4]
			got, want := make([]uint64, 4*(trial%4)+trial%3), make([]uint64, 4*(trial%4)+trial%3)
			masks(got, src, comma)
			csvMasksGo(want, src, comma)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: comma %q, %q: %x, want %x", name, comma, src, got, want)
			}
		}
	}
}

// TestCSVFrame: reading a buffer's records in turn as a LineSource does,
// where the bitmap fast path reads a record it finds frameCSV's end and
// fields; it reads every valid record short enough for its ring; and a
// record it leaves is one frameCSV finds invalid, longer, or not ended
// within the data. Buffers of valid CSV, of any bytes, and of both.
func TestCSVFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 14))
	read, readLong, left := 0, 0, 0
	var f csvFrame
	for trial := range 3000 {
		comma := ",;\t|"[trial%4]
		var data []byte
		for len(data) < 64+r.IntN(1500) {
			if r.IntN(3) == 0 {
				// Any bytes: quotes out of place, CRs, long records.
				for range r.IntN(200) {
					c := "\"\n\r ab"[r.IntN(6)]
					if r.IntN(8) == 0 {
						c = comma
					}
					data = append(data, c)
				}
			} else if r.IntN(3) == 0 {
				// A long record: the fields of several records.
				for k := range 2 + r.IntN(40) {
					if k > 0 {
						data = append(data, comma)
					}
					rec := bytes.TrimLeft(csvGen(r, comma, 1), "\n")
					rec = bytes.TrimSuffix(bytes.TrimSuffix(rec, []byte("\n")), []byte("\r"))
					data = append(data, rec...)
				}
				data = append(data, '\n')
			} else {
				data = append(data, csvGen(r, comma, 1+r.IntN(4))...)
			}
		}
		last := r.IntN(5)
		if r.IntN(4) == 0 {
			last = 100
		}
		f.data = nil // Scratch.newData
		for p := 0; p < len(data); {
			var fast, slow []csvSpan
			d := data[p:]
			var v csvView
			ok := f.view(d, comma, &v)
			end := v.end
			short := ok
			if ok {
				v.spans(d, last, &fast)
			} else {
				end, ok = f.long(d, comma, last, &fast)
			}
			wantEnd, err := frameCSV(d, comma, csvMore, last, &slow)
			if ok {
				read++
				same := len(fast) == len(slow)
				for i := 0; same && i < len(fast); i++ {
					var b1, b2 []byte
					same = fast[i].start == slow[i].start && fast[i].end == slow[i].end && fast[i].quoted == slow[i].quoted &&
						string(csvField(d, fast[i], &b1)) == string(csvField(d, slow[i], &b2))
				}
				if err != nil || end != wantEnd || !same {
					t.Fatalf("%q at %d, comma %q, last %d: fast path end %d %v, frameCSV end %d %v (%v)", data, p, comma, last, end, fast, wantEnd, slow, err)
				}
				if !short {
					readLong++
				} else {
					csvFrameField(t, data, p, comma, &v, r.IntN(5)+1)
				}
			} else {
				left++
				// A record ending within 8 blocks, wherever it starts in
				// the first, is read (up to 449 bytes).
				if err == nil && wantEnd >= 0 && wantEnd < 449 {
					t.Fatalf("%q at %d, comma %q, last %d: fast path left a valid record ending at %d", data, p, comma, last, wantEnd)
				}
			}
			if wantEnd < 0 {
				break
			}
			p += wantEnd + 1
		}
	}
	if read == 0 || left == 0 || readLong == 0 {
		t.Errorf("fast path read %d records (%d long) and left %d: the test misses a case", read, readLong, left)
	}
}

// csvFrameField: a view's c-th field, found without spans, is frameCSV's,
// and one it says is clean needs no rewriting.
func csvFrameField(t *testing.T, data []byte, p int, comma byte, v *csvView, c int) {
	t.Helper()
	d := data[p:]
	var slow []csvSpan
	frameCSV(d, comma, csvMore, c, &slow)
	sp, clean, has := v.field(d, c)
	var b1, b2 []byte
	switch {
	case has != (c <= len(slow)):
		t.Fatalf("%q at %d, comma %q: field %d found %v, frameCSV has %d fields", data, p, comma, c, has, len(slow))
	case !has:
	case string(csvField(d, sp, &b1)) != string(csvField(d, slow[c-1], &b2)) || clean && string(d[sp.start:sp.end]) != string(csvField(d, slow[c-1], &b2)):
		t.Fatalf("%q at %d, comma %q: field %d %v (clean %v), frameCSV's %v", data, p, comma, c, sp, clean, slow[c-1])
	}
}

// TestCSVFrameNewData: after Scratch.newData, the fast path reads the
// bytes as they are now, not the bitmaps of what stood there before (a
// LineSource refills its buffer in place).
func TestCSVFrameNewData(t *testing.T) {
	k := &CSVKey{Columns: []int{2}}
	var sc Scratch
	buf := []byte("a,x1\nb,x2\nc,x3\n")
	for round, want := range []string{"x1", "y1"} {
		if round == 1 {
			copy(buf, "a,\"y1\"\n,\"\n\"\n")
			sc.newData()
		}
		var x Extraction
		end, err := k.extractFramed(buf, false, &sc, &x)
		if err != nil || string(x.Key) != want {
			t.Fatalf("round %d: key %q (%v), want %q", round, x.Key, err, want)
		}
		x = Extraction{}
		if _, err := k.extractFramed(buf[end+1:], false, &sc, &x); err != nil || string(x.Key) != []string{"x2", "\n"}[round] {
			t.Fatalf("round %d: second key %q (%v)", round, x.Key, err)
		}
	}
}
