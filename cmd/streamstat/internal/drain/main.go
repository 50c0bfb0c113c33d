// Command drain reads its standard input to the end and discards it, the
// floor of any reader of a pipe: scripts/bench-speed.sh times `cat F |
// drain` beside `cat F | streamstat distinct`, so pipe/nv can be read
// against the least it could be on the machine. Like streamstat, it asks
// for a 1 MiB pipe buffer (Linux) and reads 1 MiB at a time; a plain
// `cat F | cat` is no floor, since its reader wakes the writer at every
// 64 KiB of the default buffer.
//
// With a file argument, it maps the file in 4 MiB windows as streamstat
// does and reads one word of every 64 bytes: the floor of any reader of
// the file through its map (the script's mfl column).
//
//	cat FILE | drain
//	drain FILE
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) == 2 {
		f, err := os.Open(os.Args[1])
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil {
				var sum uint64
				sum, err = touchMapped(f, fi.Size())
				fmt.Println(fi.Size(), sum%2)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "drain:", err)
			os.Exit(1)
		}
		return
	}
	growPipe(os.Stdin)
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := os.Stdin.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "drain:", err)
			os.Exit(1)
		}
	}
	fmt.Println(n)
}
