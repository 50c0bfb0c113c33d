package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
)

// drainKeys prints every record of src, composite keys as tuples.
func drainKeys(src *pipeline.LineSource, tuple bool) {
	var b pipeline.Batch
	for {
		b.Reset()
		err := src.Fill(context.Background(), &b, 100)
		for i, r := range b.Records {
			k := string(b.Key(i))
			if tuple {
				k = pipeline.FormatTuple(b.Key(i))
			}
			if r.HasValue {
				fmt.Printf("%s value=%v\n", k, r.Value)
			} else {
				fmt.Println(k)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
	}
	fmt.Println("skipped", src.Skipped())
}

// JSON lines keyed by user.id, with ms as the value: strings are
// unescaped, numbers keyed by their text, invalid lines and lines without
// the key skipped and counted.
func ExampleJSONKey() {
	in := `{"user":{"id":"al\u0069ce"},"ms":12}
{"user":{"id":42},"ms":3.5}
{"user":{}}
not json
`
	key, err := pipeline.NewJSONKey("ms", "user.id")
	if err != nil {
		panic(err)
	}
	src, err := pipeline.NewLineSource(strings.NewReader(in), pipeline.LineConfig{Extract: key})
	if err != nil {
		panic(err)
	}
	drainKeys(src, false)
	// Output:
	// alice value=12
	// 42 value=3.5
	// skipped 2
}

// CSV with a header, keyed by two columns chosen by name (the second
// "name" column is name[2]); a quoted field may hold the delimiter,
// doubled quotes and newlines.
func ExampleCSVKey() {
	in := "id,name,name,ms\n" +
		"1,\"Smith, J\",\"said \"\"hi\"\"\",12\n" +
		"2,Doe,\"two\nlines\",7\n"
	header, err := pipeline.ReadCSVHeader(strings.NewReader(in), ',')
	if err != nil {
		panic(err)
	}
	first, _ := pipeline.CSVColumn(header, "name")
	second, _ := pipeline.CSVColumn(header, "name[2]")
	ms, _ := pipeline.CSVColumn(header, "ms")
	key, err := pipeline.NewCSVKey(',', true, ms, first, second)
	if err != nil {
		panic(err)
	}
	src, err := pipeline.NewLineSource(strings.NewReader(in), pipeline.LineConfig{Extract: key})
	if err != nil {
		panic(err)
	}
	drainKeys(src, true)
	// Output:
	// ("Smith, J", "said \"hi\"") value=12
	// (Doe, "two\nlines") value=7
	// skipped 0
}

// A key made of two whitespace-separated fields, user and page: the
// parts are joined so that no two different pairs make the same key, and
// FormatTuple shows them.
func ExampleFieldsKey() {
	in := "ann /home 12\nbob /home 7\nann /cart\nann\n"
	key, err := pipeline.NewFieldsKey(pipeline.Whitespace, 3, 1, 2)
	if err != nil {
		panic(err)
	}
	src, err := pipeline.NewLineSource(strings.NewReader(in), pipeline.LineConfig{Extract: key})
	if err != nil {
		panic(err)
	}
	drainKeys(src, true)
	// Output:
	// (ann, /home) value=12
	// (bob, /home) value=7
	// (ann, /cart)
	// skipped 1
}

func ExampleFormatTuple() {
	var key []byte
	key = pipeline.AppendTuplePart(key, []byte("a,b"))
	key = pipeline.AppendTuplePart(key, []byte("c"))
	parts, _ := pipeline.SplitTuple(key)
	fmt.Println(pipeline.FormatTuple(key), len(parts))
	// Output: ("a,b", c) 2
}
