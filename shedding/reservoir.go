package shedding

import "github.com/streamstat/streamstat/sampling"

// AddSample offers v, from a record kept at keepP (Record.KeepP), to a
// weighted reservoir with weight 1/keepP, so that the sample stays a fair
// sample of the records offered before shedding.
//
// Why: a record kept at p stands for 1/p records. When p is constant every
// weight is equal and A-ExpJ reduces to uniform sampling of the kept
// records, themselves a Bernoulli sample of the stream, so the sample is
// exactly uniform. When p changes, the records of a heavily shed period
// are rarer among the kept ones, and weighting by 1/p restores their
// share: record i is in a one-item sample with probability
// p_i·(1/p_i)/W = 1/W, W the total weight, which concentrates at the
// number of records offered (Horvitz–Thompson). For a sample of k << n
// items the inclusion probabilities are then close to k/n; weighted
// sampling without replacement is not exactly proportional to weight
// when k is a large fraction of the stream (Efraimidis and Spirakis 2006,
// Sect. 2).
//
// Use it with Random shedding: under KeyHash shedding the kept records are
// whole keys, a cluster sample, and the reservoir is a sample of the kept
// keys' records.
func AddSample[T any](r *sampling.WeightedReservoir[T], v T, keepP float32) {
	r.Add(v, weight(keepP))
}
