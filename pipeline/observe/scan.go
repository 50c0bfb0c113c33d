package observe

import (
	"strconv"
)

// The history takes the bands of every answer, once a tick, from the
// answer's JSON: a shallow scan that reads the numbers of the top levels
// and skips the rest (a top-k's items) without decoding it, a few times
// faster than encoding/json on a 1000-entry answer.

// scanObject reads the JSON object at data[i:] (after spaces), calling num
// for each number and obj for each object among its values, and returns
// the index after it. ok is false if data is not an object there or is
// malformed.
func scanObject(data []byte, i int, num func(key string, v float64), obj func(key string, start, end int)) (int, bool) {
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != '{' {
		return i, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		i = skipSpace(data, i)
		ks := i
		ke, ok := skipString(data, i)
		if !ok {
			return i, false
		}
		key, err := strconv.Unquote(string(data[ks:ke]))
		if err != nil {
			return i, false
		}
		i = skipSpace(data, ke)
		if i >= len(data) || data[i] != ':' {
			return i, false
		}
		vs := skipSpace(data, i+1)
		ve, ok := skipValue(data, vs)
		if !ok {
			return vs, false
		}
		switch c := data[vs]; {
		case c == '{':
			obj(key, vs, ve)
		case c == '-' || c >= '0' && c <= '9':
			if f, err := strconv.ParseFloat(string(data[vs:ve]), 64); err == nil {
				num(key, f)
			}
		}
		i = skipSpace(data, ve)
		if i >= len(data) {
			return i, false
		}
		if data[i] == '}' {
			return i + 1, true
		}
		if data[i] != ',' {
			return i, false
		}
		i++
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string at data[i].
func skipString(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return i, false
	}
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return i, false
}

// skipValue returns the index after the value at data[i]: brackets are
// counted, strings skipped whole; scalars end at a delimiter.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return i, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				j, ok := skipString(data, i)
				if !ok {
					return j, false
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return i, false
	}
	j := i
	for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' && data[j] != ' ' && data[j] != '\n' && data[j] != '\t' && data[j] != '\r' {
		j++
	}
	return j, j > i
}
