package observe

import (
	"encoding/json"
	"testing"
	"time"
)

// TestWindowsOf: a windowed answer's windows become the snapshot's series,
// each window with its bands; other answers have none.
func TestWindowsOf(t *testing.T) {
	raw := json.RawMessage(`{"windows":[
		{"start":"2026-01-01T12:00:00.000Z","end":"2026-01-01T12:01:00.000Z","distinct":10,"lower":9,"upper":11,"complete":true},
		{"start":"2026-01-01T12:00:30.000Z","end":"2026-01-01T12:01:30.000Z","count":3,"mean":2,"mean_lower":1,"mean_upper":3,"complete":false},
		{"start":"bad"}]}`)
	got := windowsOf(raw)
	if len(got) != 2 {
		t.Fatalf("%d windows, want 2: %+v", len(got), got)
	}
	w0, w1 := got[0], got[1]
	if !w0.End.Equal(time.Date(2026, 1, 1, 12, 1, 0, 0, time.UTC)) || !w0.Complete || len(w0.Bands) != 1 ||
		w0.Bands[0] != (Band{Name: "distinct", Value: 10, Lower: 9, Upper: 11}) {
		t.Errorf("window 0: %+v", w0)
	}
	if w1.Complete || len(w1.Bands) != 1 || w1.Bands[0].Name != "mean" {
		t.Errorf("window 1: %+v", w1)
	}
	for _, other := range []string{`{"distinct":3,"lower":3,"upper":3}`, `[1]`, `{"windows":3}`, ``} {
		if w := windowsOf(json.RawMessage(other)); w != nil {
			t.Errorf("%s: windows %+v", other, w)
		}
	}
}
