package pipeline

import "github.com/cespare/xxhash/v2"

// hashLinesSorted is hashLines as it was before it bucketed the keys by
// length, kept as BenchmarkHashLines' baseline. It sets the hash of records
// whose keys are at keyOff-base in data. Where key lengths vary it hashes them in order of length (a
// counting sort of up to 2048 records at a time), so that the branches of
// the hash on the length go the same way key after key: on keys of 5 to 11
// bytes in random order, xxhash.Sum64 mispredicted about one branch per key,
// which cost more than the sort. Counts are kept in 4 sets, record i in
// set i%4, so that runs of keys of one length do not make every count
// wait for the previous one's store. order is scratch space, kept by the
// caller so that it is not cleared for every call.
func hashLinesSorted(recs []Record, data []byte, base int, order *[hashChunk]uint16) {
	const lens = 33 // lengths 32 and up share the last count
	for len(recs) > 0 {
		c := recs[:min(len(recs), hashChunk)]
		recs = recs[len(c):]
		if len(c) < 16 {
			// Too few keys to pay for the sort.
			for i := range c {
				r := &c[i]
				ks := int(r.keyOff) - base
				r.Hash = xxhash.Sum64(data[ks : ks+int(r.keyLen)])
			}
			continue
		}
		var count [4][lens]uint16
		for i := range c {
			count[i&3][min(c[i].keyLen, lens-1)]++
		}
		if l := min(c[0].keyLen, lens-1); int(count[0][l]+count[1][l]+count[2][l]+count[3][l]) == len(c) {
			// One length: the branches go the same way without a sort.
			for i := range c {
				r := &c[i]
				ks := int(r.keyOff) - base
				r.Hash = xxhash.Sum64(data[ks : ks+int(r.keyLen)])
			}
			continue
		}
		// count becomes where the next index of each set and length goes.
		at := uint16(0)
		for l := range lens {
			for j := range count {
				at, count[j][l] = at+count[j][l], at
			}
		}
		for i := range c {
			l := min(c[i].keyLen, lens-1)
			order[count[i&3][l]] = uint16(i)
			count[i&3][l]++
		}
		for _, i := range order[:len(c)] {
			r := &c[i]
			ks := int(r.keyOff) - base
			r.Hash = xxhash.Sum64(data[ks : ks+int(r.keyLen)])
		}
	}
}
