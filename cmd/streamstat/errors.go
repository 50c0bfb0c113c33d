package main

import "github.com/streamstat/streamstat/internal/errmsg"

// The command words its errors as pipeline/job does (internal/errmsg):
// paths as other tools print them, without the library's "pipeline: "
// prefixes, still unwrapping to the original error.
var (
	cleanPathError = errmsg.CleanPath
	unwrapPath     = errmsg.UnwrapPath
	trimPipeline   = errmsg.TrimPipeline
)
