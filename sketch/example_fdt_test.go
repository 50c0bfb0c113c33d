package sketch_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func ExampleGroupDistinct() {
	// Which pages have the most distinct visitors? Page p has about
	// 20000/p visitors, each visiting a few times.
	pages, err := sketch.NewGroupDistinct(4096)
	if err != nil {
		panic(err)
	}
	for p := 1; p <= 200; p++ {
		page := "/page/" + strconv.Itoa(p)
		for u := range 20000 / p {
			user := "user-" + strconv.Itoa(u)
			for range 3 {
				pages.AddString(page, user)
			}
		}
	}
	for _, g := range pages.Top(3) {
		e := g.Estimate
		fmt.Printf("%s: about %.0fk distinct visitors, bounds hold the truth: %v\n",
			g.Key, e.Value/1000, e.Contains(float64(20000/pageNumber(g.Key))))
	}
	fmt.Println("pairs held:", pages.Retained(), "exact:", pages.Exact())
	// Output:
	// /page/1: about 21k distinct visitors, bounds hold the truth: true
	// /page/2: about 11k distinct visitors, bounds hold the truth: true
	// /page/3: about 7k distinct visitors, bounds hold the truth: true
	// pairs held: 4096 exact: false
}

func pageNumber(key []byte) int {
	n, _ := strconv.Atoi(string(key[len("/page/"):]))
	return n
}
