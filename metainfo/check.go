package metainfo

import (
	"bytes"
	"fmt"
)

// Limits on the shape of a bencoded document. A torrent's deepest honest
// structure is info → files → list → path list → string (depth 5); hybrid
// torrents nest one "file tree" level per folder, so allow generous room.
const (
	maxDepth = 64
)

// SyntaxError reports malformed or dangerous bencode at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode at byte %d: %s", e.Offset, e.Msg)
}

// span is a half-open byte range [start, end) of a value inside a document.
type span struct{ start, end int }

// checker walks a bencoded document strictly: canonical integers, string
// lengths inside the data, bounded nesting, and no duplicate dictionary keys
// (two decoders could disagree on which duplicate counts, and so on what the
// torrent says). It records where the top-level "info" value sits so the
// info hash can be taken over its exact bytes.
type checker struct {
	data []byte
	info span
}

// checkDocument validates data as exactly one bencoded dictionary and returns
// the span of its top-level "info" value (zero if absent).
func checkDocument(data []byte) (span, error) {
	c := checker{data: data}
	if len(data) == 0 {
		return span{}, &SyntaxError{0, "empty input"}
	}
	if data[0] != 'd' {
		return span{}, &SyntaxError{0, "top level is not a dictionary"}
	}
	end, err := c.value(0, 0, true)
	if err != nil {
		return span{}, err
	}
	if end != len(data) {
		return span{}, &SyntaxError{end, fmt.Sprintf("%d trailing bytes after the dictionary", len(data)-end)}
	}
	return c.info, nil
}

// checkValue validates data as exactly one bencoded value of any type.
func checkValue(data []byte) error {
	c := checker{data: data}
	end, err := c.value(0, 0, false)
	if err != nil {
		return err
	}
	if end != len(data) {
		return &SyntaxError{end, fmt.Sprintf("%d trailing bytes after the value", len(data)-end)}
	}
	return nil
}

// value checks the value starting at i and returns the offset just past it.
// top is true only for the document's outermost dictionary.
func (c *checker) value(i, depth int, top bool) (int, error) {
	if i >= len(c.data) {
		return i, &SyntaxError{i, "unexpected end of data"}
	}
	switch b := c.data[i]; {
	case b == 'i':
		return c.integer(i)
	case b >= '0' && b <= '9':
		_, end, err := c.str(i)
		return end, err
	case b == 'l':
		if depth >= maxDepth {
			return i, &SyntaxError{i, fmt.Sprintf("nesting deeper than %d", maxDepth)}
		}
		i++
		for {
			if i >= len(c.data) {
				return i, &SyntaxError{i, "unterminated list"}
			}
			if c.data[i] == 'e' {
				return i + 1, nil
			}
			var err error
			if i, err = c.value(i, depth+1, false); err != nil {
				return i, err
			}
		}
	case b == 'd':
		if depth >= maxDepth {
			return i, &SyntaxError{i, fmt.Sprintf("nesting deeper than %d", maxDepth)}
		}
		return c.dict(i, depth, top)
	default:
		return i, &SyntaxError{i, fmt.Sprintf("unexpected byte %q", b)}
	}
}

func (c *checker) dict(i, depth int, top bool) (int, error) {
	i++
	// Keys should be sorted (BEP 3). Many real torrents are not, so accept
	// any order but refuse duplicates either way: while keys arrive sorted a
	// comparison with the previous key is enough; after the first one out of
	// order, every key goes through a set.
	var keys [][]byte
	var seen map[string]struct{}
	for {
		if i >= len(c.data) {
			return i, &SyntaxError{i, "unterminated dictionary"}
		}
		if c.data[i] == 'e' {
			return i + 1, nil
		}
		if c.data[i] < '0' || c.data[i] > '9' {
			return i, &SyntaxError{i, "dictionary key is not a string"}
		}
		keyAt := i
		key, next, err := c.str(i)
		if err != nil {
			return next, err
		}
		dup := false
		if seen == nil && len(keys) > 0 {
			switch cmp := bytes.Compare(keys[len(keys)-1], key); {
			case cmp == 0:
				dup = true
			case cmp > 0:
				seen = make(map[string]struct{}, len(keys)+1)
				for _, k := range keys {
					seen[string(k)] = struct{}{}
				}
			}
		}
		if seen != nil {
			_, dup = seen[string(key)]
			seen[string(key)] = struct{}{}
		}
		if dup {
			return keyAt, &SyntaxError{keyAt, fmt.Sprintf("duplicate dictionary key %q", key)}
		}
		keys = append(keys, key)
		end, err := c.value(next, depth+1, false)
		if err != nil {
			return end, err
		}
		if top && string(key) == "info" {
			c.info = span{next, end}
		}
		i = end
	}
}

// str checks a byte string at i and returns its contents and end offset.
func (c *checker) str(i int) ([]byte, int, error) {
	start := i
	n := 0
	for ; i < len(c.data) && c.data[i] != ':'; i++ {
		d := c.data[i]
		if d < '0' || d > '9' {
			return nil, i, &SyntaxError{i, fmt.Sprintf("bad string length byte %q", d)}
		}
		if i > start && c.data[start] == '0' {
			return nil, start, &SyntaxError{start, "string length has a leading zero"}
		}
		n = n*10 + int(d-'0')
		if n > len(c.data) {
			return nil, start, &SyntaxError{start, "string longer than the data"}
		}
	}
	if i >= len(c.data) {
		return nil, i, &SyntaxError{i, "unterminated string length"}
	}
	if i == start {
		return nil, i, &SyntaxError{i, "empty string length"}
	}
	i++ // ':'
	if n > len(c.data)-i {
		return nil, start, &SyntaxError{start, fmt.Sprintf("string of %d bytes runs past the end of the data", n)}
	}
	return c.data[i : i+n], i + n, nil
}

// integer checks a canonical integer "i<digits>e": no leading zeros, no
// "-0", and at most 18 digits so it fits in an int64.
func (c *checker) integer(i int) (int, error) {
	start := i
	i++
	if i < len(c.data) && c.data[i] == '-' {
		i++
	}
	digits := i
	for ; i < len(c.data) && c.data[i] >= '0' && c.data[i] <= '9'; i++ {
	}
	if i >= len(c.data) || c.data[i] != 'e' {
		return i, &SyntaxError{i, "malformed integer"}
	}
	nd := i - digits
	switch {
	case nd == 0:
		return start, &SyntaxError{start, "integer has no digits"}
	case nd > 18:
		return start, &SyntaxError{start, "integer out of range"}
	case nd > 1 && c.data[digits] == '0':
		return start, &SyntaxError{start, "integer has a leading zero"}
	case digits > start+1 && c.data[digits] == '0':
		return start, &SyntaxError{start, "negative zero"}
	}
	return i + 1, nil
}
