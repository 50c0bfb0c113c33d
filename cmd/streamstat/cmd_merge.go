package main

import (
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

// readState reads and decodes one state file.
func readState(path string) (string, counts, aggregate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", counts{}, nil, cleanPathError(err)
	}
	cmd, c, body, err := decodeState(data)
	if err != nil {
		return "", c, nil, fmt.Errorf("%s: %w", path, err)
	}
	dec, ok := decoders[cmd]
	if !ok {
		return "", c, nil, fmt.Errorf("%s: state of unknown subcommand %q: %w", path, cmd, errNotState)
	}
	a, err := dec(body)
	if err != nil {
		return "", c, nil, fmt.Errorf("%s: %s state damaged: %w", path, cmd, err)
	}
	return cmd, c, a, nil
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
		cmd0 string
		acc  aggregate
		tot  counts
	)
	for i, f := range files {
		cmd, c, a, err := readState(f)
		if err != nil {
			return fail(e, fmt.Errorf("merge: %w", err))
		}
		if i == 0 {
			cmd0, acc = cmd, a
		} else if cmd != cmd0 {
			return fail(e, fmt.Errorf("merge: %s holds %s state, but %s holds %s state", f, cmd, files[0], cmd0))
		} else if err := acc.merge(a); err != nil {
			return fail(e, fmt.Errorf("merge: %s: %w", f, err))
		}
		tot.add(c)
	}
	if t, ok := acc.(*topAgg); ok && o.k > 0 {
		t.k = o.k
	}
	if err := newReporter(e, e.stdout, o.format, false).final(acc.result(tot), true); err != nil {
		return writeFailed(e, err)
	}
	if o.save != "" {
		if err := saveState(o.save, cmd0, tot, acc); err != nil {
			return fail(e, err)
		}
	}
	return exitOK
}
