package job_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/sketch"
)

// Count the distinct lines of two files with two workers, each counting
// into its own HLL, and merge them.
func Example() {
	dir, _ := os.MkdirTemp("", "job-example")
	defer os.RemoveAll(dir)
	var paths []string
	for i, n := range []int{3000, 5000} {
		var b strings.Builder
		for k := range n {
			fmt.Fprintf(&b, "user%d\n", (k*7+i)%1000)
		}
		path := filepath.Join(dir, fmt.Sprint("day", i))
		os.WriteFile(path, []byte(b.String()), 0o644)
		paths = append(paths, path)
	}

	j, err := job.New(job.Config{
		Inputs:    paths,
		Workers:   2,
		Unordered: true, // HLL merges do not care who saw what
		NewOperator: func(int) (pipeline.Operator, error) {
			return &pipeline.Distinct{HLL: new(sketch.HLL)}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	if err := j.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	total := new(sketch.HLL)
	j.Query(func(_ int, op pipeline.Operator) error {
		return total.Merge(op.(*pipeline.Distinct).HLL)
	})
	fmt.Printf("%d lines, about %.0f distinct\n", j.Counts().Records, math.Round(total.Estimate().Value))
	// Output: 8000 lines, about 1000 distinct
}
