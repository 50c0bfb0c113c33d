package main

import (
	"bytes"
	"fmt"
	"os"
)

// decoders read the state of each subcommand that has one.
var decoders = map[string]func([]byte) (aggregate, error){
	"distinct": decodeDistinct,
	"top":      decodeTop,
	"freq":     decodeFreq,
	"sample":   decodeSample,
	"stats":    decodeStats,
	"dedup":    decodeDedup,
}

// statePart is one state file given to merge.
type statePart struct {
	path string
	fi   os.FileInfo
	data []byte
	h    stateHeader
	c    counts
	a    aggregate
}

// readState reads and decodes one state file.
func readState(path string) (*statePart, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cleanPathError(err)
	}
	defer f.Close()
	p := &statePart{path: path}
	if p.fi, err = f.Stat(); err != nil {
		return nil, cleanPathError(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	p.data = buf.Bytes()
	h, c, body, err := decodeState(p.data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec, ok := decoders[h.cmd]
	if !ok {
		return nil, fmt.Errorf("%s: state of unknown subcommand %q: %w", path, h.cmd, errNotState)
	}
	a, err := dec(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %s state damaged: %w", path, h.cmd, err)
	}
	p.h, p.c, p.a = h, c, a
	return p, nil
}

// compatible says why part p cannot be merged into the parts before it
// (first is the first of them), or returns nil.
func compatible(first *statePart, before []*statePart, p *statePart) error {
	if p.h.cmd != first.h.cmd {
		return fmt.Errorf("%s holds %s state, but %s holds %s state", p.path, p.h.cmd, first.path, first.h.cmd)
	}
	for _, q := range before {
		if os.SameFile(q.fi, p.fi) {
			return fmt.Errorf("%s and %s are the same file: its counts would count twice", q.path, p.path)
		}
		if bytes.Equal(q.data, p.data) {
			return fmt.Errorf("%s and %s hold the same state (a copy?): its counts would count twice", q.path, p.path)
		}
	}
	if first.h.version >= 2 && p.h.version >= 2 {
		if p.h.field != first.h.field || (p.h.field > 0 && p.h.delim != first.h.delim) || p.h.keyDesc != first.h.keyDesc {
			return fmt.Errorf("%s was made with keys of %s, %s with keys of %s: they count different things", p.path, p.h.key(), first.path, first.h.key())
		}
	}
	if s, s0 := shape(p.a), shape(first.a); s != s0 {
		return fmt.Errorf("%s has a sketch of %s, %s of %s: incompatible states (save both with the same --precision or -k)", p.path, s, first.path, s0)
	}
	return nil
}

// runMerge merges the state files in argument order and writes the answer
// the subcommand that saved them would have written for all their inputs.
func runMerge(e *env, o *options, files []string) int {
	if len(files) == 0 {
		return usage(e, "merge", usagef("merge needs at least one state FILE"))
	}
	if o.save != "" {
		if err := checkSavePath(o.save); err != nil {
			return fail(e, err)
		}
	}
	var (
		parts []*statePart
		tot   counts
		h     stateHeader
	)
	for i, f := range files {
		p, err := readState(f)
		if err != nil {
			return fail(e, fmt.Errorf("merge: %w", err))
		}
		if i == 0 {
			h = p.h
			h.sources = append([]uint64(nil), p.h.sources...)
		} else {
			if err := compatible(parts[0], parts, p); err != nil {
				return fail(e, fmt.Errorf("merge: %w", err))
			}
			if h.version >= 2 && p.h.version >= 2 {
				var ok bool
				if h.sources, ok = mergeSources(h.sources, p.h.sources); !ok {
					return fail(e, fmt.Errorf("merge: %s holds a run already merged in (from %s, or a merge of it): its counts would count twice", p.path, mergedWith(parts, p)))
				}
			}
			if err := parts[0].a.merge(p.a); err != nil {
				return fail(e, fmt.Errorf("merge: %s: %w", f, err))
			}
		}
		if p.h.version < 2 {
			h.version = 1 // the merge is no better described than its parts
			fmt.Fprintf(e.stderr, "streamstat: warning: merge: %s was written by an older streamstat, which did not record its key field, delimiter and runs: merge cannot check that they match\n", f)
		}
		h.complete = h.complete && p.h.complete
		tot.add(p.c)
		parts = append(parts, p)
	}
	acc := parts[0].a
	markTuple(acc, h.parts > 1)
	if t, ok := acc.(*topAgg); ok && o.k > 0 {
		t.k = o.k
	} else if g, ok := acc.(interface{ setK(int) }); ok && o.k > 0 {
		g.setK(o.k) // grouped answers (group*.go): groups shown
	}
	if err := newReporter(e, e.stdout, o.format, false).final(acc.result(tot), h.complete); err != nil {
		return writeFailed(e, err)
	}
	if !h.complete {
		fmt.Fprintln(e.stderr, "streamstat: warning: merge: a state was saved by an interrupted run: the answer is partial")
	}
	if o.save != "" {
		if err := saveState(o.save, h, tot, acc); err != nil {
			return fail(e, err)
		}
	}
	return exitOK
}

// mergedWith names the earlier parts that share a run with p.
func mergedWith(parts []*statePart, p *statePart) string {
	for _, q := range parts {
		if _, ok := mergeSources(q.h.sources, p.h.sources); !ok {
			return q.path
		}
	}
	return "an earlier file"
}
