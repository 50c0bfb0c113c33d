package promexport

import (
	"bytes"
	"encoding/json"
	"slices"
)

// estimate is a distinct count with bounds found in an answer.
type estimate struct {
	Name                string
	Value, Lower, Upper float64
}

// distinctEstimates finds the distinct counts in an answer (a
// Snapshot.Answer: a json.RawMessage from an Observer, any other value
// from observe.Take, marshaled first). A distinct count is an object with
// numbers "distinct", "lower" and "upper", as the CLI's distinct and dedup
// print it, at the answer's top level (named "distinct") or one object
// down (named "users.distinct" under the key "users"): the bands the page
// draws under the same names.
func distinctEstimates(answer any) []estimate {
	var raw json.RawMessage
	switch a := answer.(type) {
	case nil:
		return nil
	case json.RawMessage:
		raw = a
	case []byte:
		raw = a
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil
		}
		raw = b
	}
	obj, ok := object(raw)
	if !ok {
		return nil
	}
	var out []estimate
	if e, ok := distinctIn(obj); ok {
		e.Name = "distinct"
		out = append(out, e)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if sub, ok := object(obj[k]); ok {
			if e, ok := distinctIn(sub); ok {
				e.Name = k + ".distinct"
				out = append(out, e)
			}
		}
	}
	return out
}

// object decodes raw if it is a JSON object.
func object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	return obj, true
}

// distinctIn reads {distinct, lower, upper} from obj.
func distinctIn(obj map[string]json.RawMessage) (estimate, bool) {
	var e estimate
	for _, f := range []struct {
		key string
		dst *float64
	}{{"distinct", &e.Value}, {"lower", &e.Lower}, {"upper", &e.Upper}} {
		v, ok := obj[f.key]
		if !ok || json.Unmarshal(v, f.dst) != nil {
			return estimate{}, false
		}
	}
	return e, true
}
