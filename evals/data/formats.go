package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readSlack is how far a bounded reader may run ahead of the current record: the size of the
// reads it passes on, so that read-ahead never counts as part of a record.
const readSlack = 64 << 10

// boundedReader fails once more than maxRecordBytes (plus read-ahead) have been read past mark,
// the offset where the current record began; it passes on reads of at most readSlack bytes.
type boundedReader struct {
	r    io.Reader
	n    int64
	mark int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n-b.mark > int64(maxRecordBytes)+readSlack {
		return 0, errTooLong
	}
	if len(p) > readSlack {
		p = p[:readSlack]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

var bom = []byte("\xef\xbb\xbf")

// readLine reads one line (without its end) of at most maxRecordBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > maxRecordBytes+2 {
			return nil, errTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			err = nil
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

func readJSONL(r io.Reader, c *converter) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		where := fmt.Sprintf("line %d", lineNo)
		line, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, errTooLong) {
			return tooLong(c, where)
		}
		if err != nil {
			return c.errorf(where, "%v", err)
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := decodeObject(line)
		if err != nil {
			return c.errorf(where, "%v", err)
		}
		if err := c.add(newRecord(unwrapRow(m), nil), where); err != nil {
			return err
		}
	}
}

// decodeObject decodes one JSON object, numbers kept as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: data after the object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// unwrapRow unwraps the Hugging Face datasets-server form {"row_idx": 0, "row": {...}}.
func unwrapRow(m map[string]any) map[string]any {
	row, ok := m["row"].(map[string]any)
	if !ok {
		return m
	}
	for k := range m {
		if k != "row" && k != "row_idx" && k != "truncated_cells" {
			return m
		}
	}
	return row
}

// readJSON streams a JSON array of objects, or the "data", "rows" or "examples" array of a
// top-level object; records are named "element i" (0-based).
func readJSON(r io.Reader, c *converter) error {
	buf := bufio.NewReader(r)
	if b, _ := buf.Peek(len(bom)); bytes.Equal(b, bom) {
		buf.Discard(len(bom))
	}
	br := &boundedReader{r: buf}
	dec := json.NewDecoder(br)
	dec.UseNumber()
	fail := func(where string, err error) error {
		if errors.Is(err, errTooLong) {
			return tooLong(c, where)
		}
		return c.errorf(where, "invalid JSON: %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return fail("start", err)
	}
	switch tok {
	case json.Delim('['):
		return readJSONArray(dec, br, c, "element %d", fail)
	case json.Delim('{'):
	default:
		return c.errorf("start", "want a JSON array of objects or an object with a \"data\", \"rows\" or \"examples\" array")
	}
	found := false
	for dec.More() {
		br.mark = dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return fail("top-level object", err)
		}
		key, _ := tok.(string)
		if !found && (norm(key) == "data" || norm(key) == "rows" || norm(key) == "examples") {
			if tok, err := dec.Token(); err != nil {
				return fail(fmt.Sprintf("%q", key), err)
			} else if tok != json.Delim('[') {
				return c.errorf(fmt.Sprintf("%q", key), "not an array")
			}
			if err := readJSONArray(dec, br, c, key+"[%d]", fail); err != nil {
				return err
			}
			found = true
			continue
		}
		br.mark = dec.InputOffset()
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fail(fmt.Sprintf("%q", key), err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail("end", err)
	}
	if !found {
		return c.errorf("top-level object", "no \"data\", \"rows\" or \"examples\" array")
	}
	return nil
}

func readJSONArray(dec *json.Decoder, br *boundedReader, c *converter, whereFmt string, fail func(string, error) error) error {
	for i := 0; dec.More(); i++ {
		where := fmt.Sprintf(whereFmt, i)
		br.mark = dec.InputOffset()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fail(where, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return c.errorf(where, "not a JSON object")
		}
		if err := c.add(newRecord(unwrapRow(m), nil), where); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return fail("end of array", err)
	}
	return nil
}

// readCSV streams a CSV file with a header row; records are named by the line they start on.
func readCSV(r io.Reader, c *converter) error {
	br := &boundedReader{r: r}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return csvError(c, "header", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], string(bom))
	}
	last := 1 // the line the last record read started on
	for {
		br.mark = cr.InputOffset()
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(c, fmt.Sprintf("after line %d", last), err)
		}
		last, _ = cr.FieldPos(0)
		where := fmt.Sprintf("line %d", last)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(row) > len(header) {
			return c.errorf(where, "%d fields, the header has %d", len(row), len(header))
		}
		vals := make(map[string]any, len(header))
		keys := make([]string, 0, len(header))
		for i, h := range header {
			if _, dup := vals[h]; dup {
				continue
			}
			keys = append(keys, h)
			if i < len(row) {
				vals[h] = row[i]
			} else {
				vals[h] = nil
			}
		}
		if err := c.add(newRecord(vals, keys), where); err != nil {
			return err
		}
	}
}

func csvError(c *converter, where string, err error) error {
	if errors.Is(err, errTooLong) {
		return tooLong(c, where)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return c.errorf(fmt.Sprintf("line %d", pe.Line), "invalid CSV: %v", pe.Err)
	}
	return c.errorf(where, "%v", err)
}
