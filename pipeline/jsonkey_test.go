package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

func TestParseJSONPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		segs []jsonSeg
		bad  bool
	}{
		{in: "user.id", segs: []jsonSeg{{"user", -1, false}, {"id", -1, false}}},
		{in: "tags.0", segs: []jsonSeg{{"tags", -1, false}, {"0", 0, false}}},
		{in: "a.01", segs: []jsonSeg{{"a", -1, false}, {"01", -1, false}}},
		{in: "/user/id", segs: []jsonSeg{{"user", -1, false}, {"id", -1, false}}},
		{in: "/a.b/~1c~0/12", segs: []jsonSeg{{"a.b", -1, false}, {"/c~", -1, false}, {"12", 12, false}}},
		{in: "/", segs: []jsonSeg{{"", -1, false}}},
		{in: "", bad: true},
		{in: "a..b", bad: true},
		{in: ".a", bad: true},
		{in: "a.", bad: true},
		{in: "/a~2", bad: true},
		{in: "/a~", bad: true},
	} {
		p, err := ParseJSONPath(tc.in)
		if tc.bad {
			if !errors.Is(err, sketch.ErrInvalidParameter) {
				t.Errorf("path=%q: err %v, want ErrInvalidParameter", tc.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(p.segs, tc.segs) || p.String() != tc.in {
			t.Errorf("path=%q: got %+v, %v; want %+v", tc.in, p.segs, err, tc.segs)
		}
	}
}

func TestJSONLookup(t *testing.T) {
	for _, tc := range []struct {
		name, doc, path string
		want            string
		err             error
	}{
		{"string at a dotted path", `{"user":{"id":"u-1"},"x":2}`, "user.id", "u-1", nil},
		{"string at a pointer", `{"user":{"id":"u-1"}}`, "/user/id", "u-1", nil},
		{"number keyed by its text", `{"user":{"id":1.50e3}}`, "user.id", "1.50e3", nil},
		{"boolean", `{"ok":false}`, "ok", "false", nil},
		{"array index", `{"tags":["a","b"]}`, "tags.1", "b", nil},
		{"index past the end", `{"tags":["a","b"]}`, "tags.2", "", ErrMissingField},
		{"digits name an object member", `{"tags":{"1":"x"}}`, "tags.1", "x", nil},
		{"name with a dot by pointer", `{"a.b":"c"}`, "/a.b", "c", nil},
		{"escapes unescaped", `{"k":"a\"b\\c\u00e9\ud83d\ude00\n"}`, "k", "a\"b\\c\u00e9\U0001F600\n", nil},
		{"lone surrogate is U+FFFD", `{"k":"\ud800x"}`, "k", "\uFFFDx", nil},
		{"invalid UTF-8 is U+FFFD", "{\"k\":\"a\xffb\"}", "k", "a\uFFFDb", nil},
		{"invalid UTF-8 in a member name reads as U+FFFD", "{\"k\xff\":1}", "k\uFFFD", "1", nil},
		{"escaped member name", `{"\u0075ser":{"id":7}}`, "user.id", "7", nil},
		{"last duplicate wins", `{"a":1,"a":2}`, "a", "2", nil},
		{"later duplicate without the path", `{"a":{"b":1},"a":{"c":2}}`, "a.b", "", ErrMissingField},
		{"earlier duplicate without the path", `{"a":{"c":2},"a":{"b":1}}`, "a.b", "1", nil},
		{"object keyed by its text", `{"a": {"b" : [1, 2]} }`, "a", `{"b" : [1, 2]}`, nil},
		{"null is missing", `{"a":null}`, "a", "", ErrMissingField},
		{"missing member", `{"a":1}`, "b", "", ErrMissingField},
		{"path into a scalar", `{"a":1}`, "a.b", "", ErrMissingField},
		{"top level not an object", `[1,2]`, "a", "", ErrMissingField},
		{"blanks around", " \t{\"a\":1} \r", "a", "1", nil},
		{"truncated", `{"a":1`, "a", "", ErrBadJSON},
		{"trailing garbage", `{"a":1}x`, "a", "", ErrBadJSON},
		{"two values", `{"a":1} {"a":2}`, "a", "", ErrBadJSON},
		{"bad number", `{"a":01}`, "a", "", ErrBadJSON},
		{"bad escape", `{"a":"\x"}`, "a", "", ErrBadJSON},
		{"control character in a string", "{\"a\":\"x\ty\"}", "a", "", ErrBadJSON},
		{"bad elsewhere in the line", `{"a":1,"b":[1,}`, "a", "", ErrBadJSON},
		{"single quotes", `{'a':1}`, "a", "", ErrBadJSON},
		{"empty line", ``, "a", "", ErrBadJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseJSONPath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			var scratch []byte
			got, _, err := p.Lookup([]byte(tc.doc), &scratch)
			if !errors.Is(err, tc.err) || err == nil && string(got) != tc.want {
				t.Errorf("Lookup(%s, %q) = %q, %v; want %q, %v", tc.path, tc.doc, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestJSONDepth: nesting is invalid past encoding/json's limit, as there.
func TestJSONDepth(t *testing.T) {
	for _, d := range []int{maxJSONDepth, maxJSONDepth + 1} {
		doc := []byte(strings.Repeat("[", d) + strings.Repeat("]", d))
		var scratch []byte
		_, _, err := JSONPath{}.Lookup(doc, &scratch)
		if (err == nil) != json.Valid(doc) {
			t.Errorf("depth %d: Lookup err %v, json.Valid %v", d, err, json.Valid(doc))
		}
	}
}

// jsonRef is the reference extraction: encoding/json decodes the document
// into any and the path is walked there. ok false: skipped.
func jsonRef(t *testing.T, doc []byte, p JSONPath) (v any, ok bool) {
	if !json.Valid(doc) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("json.Valid(%q) but Decode: %v", doc, err)
	}
	for _, s := range p.segs {
		switch x := v.(type) {
		case map[string]any:
			if v, ok = x[s.name]; !ok {
				return nil, false
			}
		case []any:
			if s.index < 0 || s.index >= len(x) {
				return nil, false
			}
			v = x[s.index]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// FuzzJSONKey holds Lookup to encoding/json: the same key, or both skip.
func FuzzJSONKey(f *testing.F) {
	for _, s := range []struct{ doc, path string }{
		{`{"user":{"id":"u-1","tags":["a",2,true,null]}}`, "user.id"},
		{`{"user":{"id":"u-1","tags":["a",2,true,null]}}`, "user.tags.1"},
		{`{"a":{"b":1},"a":{"c":2}}`, "a.b"},
		{`{"\u0061":"\ud83d\ude00\ud800"}`, "/a"},
		{"{\"a\":\"\xff\"}", "a"},
		{`{"a":[{"b":-0.5e+3}]}`, "a.0.b"},
		{`{"a":{"x":[1,{"y":"z"}]}}`, "a"},
		{`[[[]]]`, "/0/0"},
		{`{"a":1,}`, "a"},
		{`"str"`, "/"},
	} {
		f.Add([]byte(s.doc), s.path)
	}
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		p, err := ParseJSONPath(path)
		if err != nil {
			return
		}
		var scratch []byte
		got, kind, err := p.Lookup(doc, &scratch)
		want, ok := jsonRef(t, doc, p)
		if ok != (err == nil) {
			t.Fatalf("Lookup(%q, %q) = %q, %v; encoding/json finds %#v (%v)", path, doc, got, err, want, ok)
		}
		if !ok {
			if !errors.Is(err, ErrBadJSON) && !errors.Is(err, ErrMissingField) {
				t.Fatalf("Lookup(%q, %q): error %v is not a sentinel", path, doc, err)
			}
			if errors.Is(err, ErrBadJSON) == json.Valid(doc) {
				t.Fatalf("Lookup(%q, %q): %v, but json.Valid says %v", path, doc, err, json.Valid(doc))
			}
			return
		}
		switch w := want.(type) {
		case string:
			if kind != '"' || string(got) != w {
				t.Fatalf("Lookup(%q, %q) = %q (%c), want string %q", path, doc, got, kind, w)
			}
		case json.Number:
			if kind != '0' || string(got) != string(w) {
				t.Fatalf("Lookup(%q, %q) = %q (%c), want number %q", path, doc, got, kind, w)
			}
		case bool:
			if kind != 't' || string(got) != map[bool]string{true: "true", false: "false"}[w] {
				t.Fatalf("Lookup(%q, %q) = %q (%c), want %v", path, doc, got, kind, w)
			}
		default:
			// An object or array is keyed by its text: the same value.
			dec := json.NewDecoder(bytes.NewReader(got))
			dec.UseNumber()
			var again any
			if err := dec.Decode(&again); err != nil || !reflect.DeepEqual(again, want) {
				t.Fatalf("Lookup(%q, %q) = %q, which decodes to %#v (%v), want %#v", path, doc, got, again, err, want)
			}
		}
	})
}

// TestJSONKeyExtract: single paths, composite keys and values.
func TestJSONKeyExtract(t *testing.T) {
	doc := []byte(`{"user":{"id":"u\"1","n":3},"page":"/a","ms":"12.5","bad":"x"}`)
	for _, tc := range []struct {
		name     string
		value    string
		paths    []string
		key      []byte
		val      float64
		hasValue bool
		err      error
	}{
		{"one path", "", []string{"user.id"}, []byte(`u"1`), 0, false, nil},
		{"composite", "", []string{"user.id", "/page"}, AppendTuplePart(AppendTuplePart(nil, []byte(`u"1`)), []byte("/a")), 0, false, nil},
		{"composite missing part", "", []string{"user.id", "nope"}, nil, 0, false, ErrMissingField},
		{"number value", "user.n", []string{"page"}, []byte("/a"), 3, true, nil},
		{"string value", "ms", []string{"page"}, []byte("/a"), 12.5, true, nil},
		{"bad value", "bad", []string{"page"}, []byte("/a"), 0, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewJSONKey(tc.value, tc.paths...)
			if err != nil {
				t.Fatal(err)
			}
			var sc Scratch
			x, err := k.Extract(doc, &sc)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(x.Key, tc.key) || x.HasValue != tc.hasValue || x.Value != tc.val || x.BadValue != (tc.value != "" && !tc.hasValue) {
				t.Errorf("got %+v, want key %q value %v %v", x, tc.key, tc.val, tc.hasValue)
			}
		})
	}
}

// TestJSONKeyAllocs: extraction allocates nothing once the scratch space
// has grown, escapes and composite keys included.
func TestJSONKeyAllocs(t *testing.T) {
	doc := []byte(`{"ts":"2024-06-01T12:00:00Z","user":{"id":"u-\u00e9\"12345","name":"x"},"tags":["a","b"],"ms":12.5,"page":"/index.html"}`)
	for _, paths := range [][]string{{"user.id"}, {"/user/id", "tags.1"}, {"page"}} {
		k, err := NewJSONKey("ms", paths...)
		if err != nil {
			t.Fatal(err)
		}
		var sc Scratch
		run := func() {
			if _, err := k.Extract(doc, &sc); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("paths %v: got %v allocation(s) (want zero)", paths, n)
		}
	}
}

// TestLineSourceJSON reads JSON lines through a LineSource: bad lines and
// missing keys skipped and reported, strict fails at the first with its
// number, and a warmed source allocates nothing per record.
func TestLineSourceJSON(t *testing.T) {
	data := "{\"u\":{\"id\":\"a\"},\"v\":1}\n{\"u\":{\"id\":2}}\r\nnot json\n{\"u\":null}\n{\"u\":{\"id\":\"a\\u0062\"},\"v\":\"2.5\"}"
	k, err := NewJSONKey("v", "u.id")
	if err != nil {
		t.Fatal(err)
	}
	var bad []BadLine
	s := mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k, OnBadLine: func(b BadLine) {
		b.Line = bytes.Clone(b.Line)
		bad = append(bad, b)
	}})
	recs := lsDrain(t, s, 2)
	want := []lsRec{{"a", 1, true}, {"2", 0, false}, {"ab", 2.5, true}}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records %+v, want %+v", recs, want)
	}
	if s.Skipped() != 2 || s.BadValues() != 1 || s.Lines() != 5 || s.Offset() != int64(len(data)) {
		t.Errorf("skipped %d bad values %d lines %d offset %d", s.Skipped(), s.BadValues(), s.Lines(), s.Offset())
	}
	if len(bad) != 3 || !errors.Is(bad[0].Err, ErrBadValue) || !errors.Is(bad[1].Err, ErrBadJSON) || bad[1].Number != 3 ||
		!errors.Is(bad[2].Err, ErrMissingField) || string(bad[2].Line) != `{"u":null}` {
		t.Errorf("bad lines %+v", bad)
	}

	s = mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k, Strict: true})
	_, err = lsDrainErr(s, 100)
	if !errors.Is(err, ErrBadJSON) || !strings.Contains(err.Error(), "record 3 ") {
		t.Errorf("strict: err %v, want ErrBadJSON at record 3", err)
	}

	line := []byte(`{"ts":"2024-06-01T12:00:00Z","user":{"id":"u-\u00e912345","name":"x"},"ms":12.5}` + "\n")
	if k, err = NewJSONKey("ms", "user.id"); err != nil {
		t.Fatal(err)
	}
	s = mustLineSource(t, &lsLoopReader{data: line}, LineConfig{Extract: k})
	var b Batch
	if n := fillAllocs(t, s, &b, 1024, 10); n != 0 {
		t.Errorf("got %v allocation(s) per Fill of 1024 records (want zero)", n)
	}
}

// jsonUnfused is a JSONKey seen only as an Extractor: a LineSource finds
// each line's end and then calls Extract, rather than JSONKey's one pass
// (extractFramed).
type jsonUnfused struct{ k *JSONKey }

func (u jsonUnfused) Framing() Framing { return FrameLines }
func (u jsonUnfused) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	return u.k.Extract(rec, sc)
}

// FuzzJSONLines: on any input, JSONKey's one pass over each line
// (lookupLine, which finds the line's end as it reads the document) gives
// the keys, skips and bad-line reports that finding each newline and then
// Extract give, at any buffer size.
func FuzzJSONLines(f *testing.F) {
	for _, s := range []string{
		"{\"u\":{\"id\":1}}\n{\"u\":{\"id\":\"a\\nb\"}}\r\n{\"u\":\n{\"id\":2}}\n\n[1]\n",
		"{\"u\":{\"id\":3}} \t\r\n{\"u\":{\"id\":4}}x\n{\"u\":{\"id\":5}}",
		"{\"u\":{\"id\":\"\n\"}}\n  {\"u\" : {\"id\" : true}}  \n{\"u\":{\"id\":null}}\n",
	} {
		f.Add([]byte(s), "u.id", uint8(7))
		f.Add([]byte(strings.Repeat(s, 8)), "u.id", uint8(200))
	}
	f.Fuzz(func(t *testing.T, data []byte, path string, buf uint8) {
		k, err := NewJSONKey("", path)
		if err != nil {
			return
		}
		read := func(ex Extractor) ([]string, int64, []BadLine) {
			var bad []BadLine
			size := 1 + int(buf%64)
			if buf >= 192 {
				size = 0 // the default: room for the fast path's 256 bytes
			}
			s := mustLineSource(t, bytes.NewReader(data), LineConfig{Extract: ex, BufferSize: size, OnBadLine: func(b BadLine) {
				b.Line = bytes.Clone(b.Line)
				bad = append(bad, b)
			}})
			return lsKeys(lsDrain(t, s, 5)), s.Skipped(), bad
		}
		got, skipped, gotBad := read(k)
		ref, refSkipped, refBad := read(jsonUnfused{k})
		if !lsEqual(got, ref) || skipped != refSkipped || !reflect.DeepEqual(gotBad, refBad) {
			t.Fatalf("input %q, path %q: one pass %q (%d skipped, %v), line then Extract %q (%d skipped, %v)", data, path, got, skipped, gotBad, ref, refSkipped, refBad)
		}
	})
}

// TestJSONMasks: the assembly's bitmaps (where there is assembly) are the
// byte loop's.
func TestJSONMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 15))
	for trial := range 500 {
		src := make([]byte, 64*(trial%5))
		for i := range src {
			src[i] = "\"\\\n\x00\x1f\x20\x7f\x80\xffa{"[r.IntN(11)]
		}
		got, want := make([]uint64, 4*(trial%5)+trial%4), make([]uint64, 4*(trial%5)+trial%4)
		jsonMasks(got, src)
		jsonMasksGo(want, src)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %x, want %x", src, got, want)
		}
	}
}

// TestLookupLineMatchesLookup: on lines of up to 300 bytes (many read
// from their quote bitmap, jsonQuotes) with quotes, backslashes, control
// bytes and newlines put anywhere, lookupLine finds the line's end and
// what Lookup finds on the line alone.
func TestLookupLineMatchesLookup(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 15))
	base := `{"ts":"2024-06-01T12:00:01.123Z","method":"GET","user":{"id":"u-123456","plan":"pro","country":"DE"},"page":"/catalog/item/4711","status":200,"ms":123.45,"tags":["a",1,null,{"id":"x"}],"agent":"Mozilla/5.0 (X11; Linux x86_64)"}`
	paths := []string{"user.id", "tags.3.id", "ms", "tags", "user", "nope"}
	fast := 0
	for trial := range 20000 {
		doc := []byte(base)
		if trial%4 != 0 {
			for range 1 + r.IntN(3) {
				i := r.IntN(len(doc))
				c := "\"\\\n\t\x01 \xff{}[]:,u0"[r.IntN(15)]
				switch r.IntN(3) {
				case 0:
					doc[i] = c
				case 1:
					doc = append(doc[:i], append([]byte{c}, doc[i:]...)...)
				default:
					doc = append(doc[:i], doc[i+1:]...)
				}
			}
		}
		doc = doc[:min(len(doc), 40+r.IntN(300))]
		data := append(append(bytes.Clone(doc), "\n"...), bytes.Repeat([]byte(`{"more":1}`+"\n"), 30)...)
		var qm [jsonFastBlocks]uint64
		if jsonQuotes(&qm, data) {
			fast++
		}
		p, _ := ParseJSONPath(paths[trial%len(paths)])
		var s1, s2 []byte
		end, val, kind, err := p.lookupLine(data, false, &s1)
		wantEnd := bytes.IndexByte(data, '\n')
		wantVal, wantKind, wantErr := p.Lookup(data[:wantEnd], &s2)
		if end != wantEnd || string(val) != string(wantVal) || kind != wantKind || err != wantErr {
			t.Fatalf("%q at %s: lookupLine %d %q %c %v; want %d %q %c %v", doc, p, end, val, kind, err, wantEnd, wantVal, wantKind, wantErr)
		}
	}
	if fast < 1000 {
		t.Errorf("only %d of 20000 lines took the fast path", fast)
	}
}

// TestJSONKeyOnePassAllocs: a warmed source reading lines in one pass
// (one key path, lines short enough for the quote bitmap) allocates
// nothing per record.
func TestJSONKeyOnePassAllocs(t *testing.T) {
	line := []byte(`{"ts":"2024-06-01T12:00:01.123Z","method":"GET","user":{"id":"u-123456","plan":"pro"},"page":"/catalog/item/4711","status":200}` + "\n")
	var qm [jsonFastBlocks]uint64
	if data := bytes.Repeat(line, 4); !jsonQuotes(&qm, data) {
		t.Fatalf("the line does not take the fast path")
	}
	k, err := NewJSONKey("", "user.id")
	if err != nil {
		t.Fatal(err)
	}
	s := mustLineSource(t, &lsLoopReader{data: line}, LineConfig{Extract: k})
	var b Batch
	if n := fillAllocs(t, s, &b, 1024, 10); n != 0 {
		t.Errorf("got %v allocation(s) per Fill of 1024 records (want zero)", n)
	}
	if got := string(b.Key(0)); got != "u-123456" || s.Skipped() != 0 {
		t.Errorf("key %q, skipped %d", got, s.Skipped())
	}
}
