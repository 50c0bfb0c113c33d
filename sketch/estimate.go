package sketch

import "fmt"

// DefaultConfidence is the confidence of the bounds queries return unless
// asked for another.
const DefaultConfidence = 0.95

// Estimate is an answer with bounds: the truth lies in [Lower, Upper] with
// probability at least Confidence (over the randomness of the hash function),
// and Exact reports that Value is the truth (Lower == Value == Upper).
// The zero value is an exact estimate of 0.
type Estimate struct {
	Value      float64 `json:"value"`
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	Confidence float64 `json:"confidence"`
	Exact      bool    `json:"exact"`
}

// Contains reports whether x lies within the bounds.
func (e Estimate) Contains(x float64) bool { return e.Lower <= x && x <= e.Upper }

// String formats e as "value [lower, upper] @confidence".
func (e Estimate) String() string {
	if e.Exact {
		return fmt.Sprintf("%.0f (exact)", e.Value)
	}
	return fmt.Sprintf("%.0f [%.0f, %.0f] @%g", e.Value, e.Lower, e.Upper, e.Confidence)
}

// checkConfidence panics on a confidence outside (0, 1): a programming error,
// not bad input.
func checkConfidence(c float64) {
	if !(c > 0 && c < 1) {
		panic(fmt.Sprintf("sketch: confidence %v outside (0, 1)", c))
	}
}
