package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// A TimedKey gives each record the time its line holds, so a Window
// counts it in the window of that time, whatever the order the lines
// come in; a line whose time does not parse is skipped and counted.
func ExampleTimedKey() {
	in := `{"ts":"2026-01-01T12:00:05Z","user":"ann"}
{"ts":"2026-01-01T12:00:40Z","user":"bob"}
{"ts":"2026-01-01T12:00:20Z","user":"ann"}
{"ts":"yesterday","user":"cy"}
{"ts":"2026-01-01T12:01:10Z","user":"dee"}
`
	user, _ := pipeline.NewJSONKey("", "user")
	ts, _ := pipeline.NewJSONKey("", "ts")
	key, err := pipeline.NewTimedKey(user, ts, pipeline.TimeFormat{}) // RFC 3339
	if err != nil {
		panic(err)
	}
	src, err := pipeline.NewLineSource(strings.NewReader(in), pipeline.LineConfig{Extract: key})
	if err != nil {
		panic(err)
	}
	w := &pipeline.Window{
		Size: time.Minute, EventTime: true, Lateness: 30 * time.Second,
		OnWindow: func(a pipeline.WindowAnswer) error {
			fmt.Printf("[%s, %s) %d records, %.0f users\n", a.Start.UTC().Format("15:04"), a.End.UTC().Format("15:04"),
				a.Records, a.Op.(*pipeline.Distinct).HLL.Estimate().Value)
			return nil
		},
	}
	b := new(pipeline.Batch)
	for src.Fill(context.Background(), b, 100) == nil {
	}
	if err := w.Process(b, new(pipeline.Batch)); err != nil {
		panic(err)
	}
	// The input ends: time moves past every window.
	if err := w.Advance(time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)); err != nil {
		panic(err)
	}
	fmt.Println("skipped:", src.Skipped())
	// Output:
	// [12:00, 12:01) 3 records, 2 users
	// [12:01, 12:02) 1 records, 1 users
	// skipped: 1
}
