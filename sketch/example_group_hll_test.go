package sketch_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func ExampleGroupHLL() {
	// Distinct visitors of every page: small pages are counted exactly,
	// large ones by their own HLL.
	pages, err := sketch.NewGroupHLL(12)
	if err != nil {
		panic(err)
	}
	for p := 1; p <= 100; p++ {
		page := "/page/" + strconv.Itoa(p)
		for u := range 20000 / (p * p) {
			pages.AddString(page, "user-"+strconv.Itoa(u))
		}
	}
	for _, g := range pages.Top(0) {
		if e := g.Estimate; e.Exact && string(g.Key) != "/page/7" {
			continue
		}
		e := g.Estimate
		fmt.Printf("%s: %.0f in [%.0f, %.0f] exact %v\n", g.Key, e.Value, e.Lower, e.Upper, e.Exact)
	}
	fmt.Printf("%d groups, %d KiB\n", pages.Groups(), pages.Bytes()/1024)
	// Output:
	// /page/1: 19932 in [19371, 20514] exact false
	// /page/2: 5021 in [4900, 5145] exact false
	// /page/3: 2270 in [2218, 2323] exact false
	// /page/4: 1259 in [1231, 1288] exact false
	// /page/5: 786 in [768, 803] exact false
	// /page/6: 539 in [527, 551] exact false
	// /page/7: 408 in [408, 408] exact true
	// 100 groups, 67 KiB
}
