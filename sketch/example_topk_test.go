package sketch_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func ExampleTopK() {
	pages, err := sketch.NewTopK(50)
	if err != nil {
		panic(err)
	}
	// 10,000 page views: three popular pages among 7,400 others seen once.
	for i := range 10000 {
		page := "/item/" + strconv.Itoa(i)
		switch {
		case i%4 == 0:
			page = "/home"
		case i%10 == 1:
			page = "/search"
		case i%25 == 2:
			page = "/cart"
		}
		key := []byte(page)
		// Hash once at ingress; pass the hash to every sketch.
		pages.AddHash(sketch.Hash(key), key, 1)
	}
	for _, it := range pages.Top(3) {
		fmt.Printf("%-8s %5d views (at least %d), top-3 for certain: %v\n", it.Key, it.Count, it.Lower, it.Guaranteed)
	}
	fmt.Println("any other page has at most", pages.MinCount(), "views")

	// Sketches of other shards merge, with the same guarantees.
	shard, _ := sketch.NewTopK(50)
	for range 3000 {
		shard.AddString("/cart")
	}
	if err := pages.Merge(shard); err != nil {
		panic(err)
	}
	top := pages.Top(1)[0]
	fmt.Printf("after merge: %s with %d views in [%d, %d]\n", top.Key, top.Count, top.Lower, top.Upper)
	// Output:
	// /home     2500 views (at least 2500), top-3 for certain: true
	// /search   1000 views (at least 1000), top-3 for certain: true
	// /cart      300 views (at least 300), top-3 for certain: true
	// any other page has at most 131 views
	// after merge: /cart with 3300 views in [3300, 3300]
}
