// Command keygen writes lines of keys for scripts/bench-speed.sh: keys of
// one length, keys of mixed lengths around a mean, or the tokens of the Go
// source tree. The output depends only on the flags (a fixed seed, the
// tree walked in lexical order).
//
//	keygen -n 20000000 -len 32          # 32-byte keys
//	keygen -n 20000000 -len 32 -mixed   # lengths uniform in [16, 48]
//	keygen -n 12000000 -gotokens        # tokens of $GOROOT/src, in order
//
// Fixed and mixed keys are drawn uniformly from -keys distinct keys
// (default n/2) over a 64-letter alphabet, so every byte position varies.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

// errEnough stops the walk of the source tree once n tokens are written.
var errEnough = errors.New("enough")

func main() {
	n := flag.Int64("n", 10_000_000, "number of lines")
	length := flag.Int("len", 16, "key length in bytes (the mean, with -mixed)")
	mixed := flag.Bool("mixed", false, "lengths uniform in [len/2, 3*len/2]")
	keys := flag.Uint64("keys", 0, "distinct keys to draw from (0: n/2)")
	goTokens := flag.Bool("gotokens", false, "the tokens of $GOROOT/src instead")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	var err error
	if *goTokens {
		err = tokens(w, *n)
	} else if *length < 1 || (*mixed && *length < 2) {
		err = fmt.Errorf("-len %d: too short", *length)
	} else {
		k := *keys
		if k == 0 {
			k = uint64(max(*n/2, 1))
		}
		err = fixed(w, *n, *length, *mixed, k)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

// fixed writes n keys drawn from k: key j's bytes come from a generator
// seeded with j, so equal draws give equal keys.
func fixed(w *bufio.Writer, n int64, length int, mixed bool, k uint64) error {
	draw := rand.New(rand.NewPCG(1, 2))
	line := make([]byte, 0, 2*length+1)
	for range n {
		j := draw.Uint64N(k)
		g := rand.New(rand.NewPCG(j, 0x9e3779b97f4a7c15))
		l := length
		if mixed {
			l = length/2 + int(g.Uint64N(uint64(length)+1))
		}
		line = line[:0]
		for len(line) < l {
			x := g.Uint64()
			for b := 0; b < 10 && len(line) < l; b++ {
				line = append(line, alphabet[x&63])
				x >>= 6
			}
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// tokens writes the tokens of the Go files under $GOROOT/src, comments
// and tokens spanning lines left out, walking the tree again until n are
// written.
func tokens(w io.Writer, n int64) error {
	root := filepath.Join(runtime.GOROOT(), "src")
	written := int64(0)
	for written < n {
		before := written
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fset := token.NewFileSet()
			var s scanner.Scanner
			s.Init(fset.AddFile(path, -1, len(src)), src, nil, 0)
			for {
				_, tok, lit := s.Scan()
				if tok == token.EOF {
					return nil
				}
				if lit == "" {
					lit = tok.String()
				}
				if lit == "\n" || strings.ContainsAny(lit, "\n\r") {
					continue // the newline of an automatic semicolon, a raw string
				}
				if _, err := io.WriteString(w, lit+"\n"); err != nil {
					return err
				}
				if written++; written == n {
					return errEnough
				}
			}
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
		if written == before {
			return fmt.Errorf("no tokens under %s", root)
		}
	}
	return nil
}
