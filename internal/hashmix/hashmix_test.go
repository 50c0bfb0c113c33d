package hashmix

import "testing"

// Reference values from the published algorithms (SplitMix64 seeded at 0
// gives 0xe220a8397b1dcdaf first; fmix64 of 1 as in MurmurHash3).
func TestMixers(t *testing.T) {
	if got := SplitMix64(0); got != 0xe220a8397b1dcdaf {
		t.Errorf("SplitMix64(0) = %#x", got)
	}
	if got := Fmix64(0); got != 0 {
		t.Errorf("Fmix64(0) = %#x, want 0 (a bijection fixing 0)", got)
	}
	if Fmix64(1) == Fmix64(2) {
		t.Error("Fmix64 is not injective on 1, 2")
	}
}
