package observe

import (
	"encoding/json"
	"time"
)

// WindowPoint is one window of a windowed answer, as a point of the
// series the page draws over the windows: its bounds, whether it is
// complete, and the estimates with bounds its answer holds (as History's
// bands are found). A windowed answer is an object whose "windows" member
// lists the windows' answers, oldest first, each an answer object with
// "start" and "end" (RFC 3339) and "complete": what streamstat --window
// serves. It is a plain value.
type WindowPoint struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Complete bool      `json:"complete"`
	Bands    []Band    `json:"bands,omitempty"`
}

// windowsOf returns the windows of a windowed answer, or nil for any
// other answer.
func windowsOf(answer json.RawMessage) []WindowPoint {
	var a struct {
		Windows []json.RawMessage `json:"windows"`
	}
	if len(answer) == 0 || answer[0] != '{' || json.Unmarshal(answer, &a) != nil {
		return nil
	}
	var out []WindowPoint
	for _, w := range a.Windows {
		var p WindowPoint
		if json.Unmarshal(w, &p) != nil || p.Start.IsZero() || !p.End.After(p.Start) {
			continue
		}
		p.Bands = bands(w, "", 2, nil)
		out = append(out, p)
	}
	return out
}
