package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
)

// A LineSource keyed by the second whitespace-separated field of an access
// log, with the fourth field as the value. Lines without a path are
// skipped and counted; a missing value is counted and the record kept.
func ExampleLineSource() {
	log := "GET /a 200 0.12\n" +
		"GET /b 404 0.50\r\n" +
		"\n" +
		"POST /a 201\n" +
		"garbage"
	src, err := pipeline.NewLineSource(strings.NewReader(log), pipeline.LineConfig{
		Field: 2, ValueField: 4,
		OnBadLine: func(l pipeline.BadLine) {
			fmt.Printf("line %d %q: %v\n", l.Number, l.Line, l.Err)
		},
	})
	if err != nil {
		panic(err)
	}
	var b pipeline.Batch
	for {
		b.Reset()
		err := src.Fill(context.Background(), &b, 2)
		for i, r := range b.Records {
			fmt.Printf("%s value=%v (%v)\n", b.Key(i), r.Value, r.HasValue)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
	}
	fmt.Printf("lines=%d skipped=%d bad values=%d offset=%d\n",
		src.Lines(), src.Skipped(), src.BadValues(), src.Offset())
	// Output:
	// /a value=0.12 (true)
	// /b value=0.5 (true)
	// line 3 "": pipeline: line has no such field
	// line 4 "POST /a 201": pipeline: value field is not a finite number
	// /a value=0 (false)
	// line 5 "garbage": pipeline: line has no such field
	// lines=5 skipped=2 bad values=1 offset=53
}
