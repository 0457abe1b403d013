package data

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// parquetColumn is one leaf column: the name records know it by and whether it repeats.
type parquetColumn struct {
	name     string
	repeated bool
}

// readParquet reads every row of a Parquet file as a record; rows are named "row i" (0-based).
// Leaf columns are named by their top-level field (joined path where a group has several
// leaves); repeated leaves (lists) become arrays; nulls are absent values.
func readParquet(ra io.ReaderAt, size int64, c *converter) error {
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return fmt.Errorf("data: %s: not a Parquet file: %w", c.name, err)
	}
	schema := f.Schema()
	paths := schema.Columns()
	top := map[string]int{}
	for _, p := range paths {
		top[p[0]]++
	}
	cols := make(map[int]parquetColumn, len(paths))
	var keys []string
	for _, p := range paths {
		leaf, ok := schema.Lookup(p...)
		if !ok {
			continue
		}
		name := p[0]
		if top[name] > 1 {
			name = strings.Join(p, ".")
		}
		cols[leaf.ColumnIndex] = parquetColumn{name: name, repeated: leaf.MaxRepetitionLevel > 0}
		keys = append(keys, name)
	}
	r := parquet.NewReader(f)
	defer r.Close()
	buf := make([]parquet.Row, 64)
	index := 0
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			where := fmt.Sprintf("row %d", index)
			index++
			vals := make(map[string]any, len(keys))
			size := 0
			for _, v := range row {
				col, ok := cols[v.Column()]
				if !ok {
					continue
				}
				var x any
				if !v.IsNull() {
					x = parquetValue(v)
					if s, ok := x.(string); ok {
						size += len(s)
					}
				}
				if col.repeated {
					arr, _ := vals[col.name].([]any)
					if arr == nil {
						arr = []any{}
					}
					if x != nil {
						arr = append(arr, x)
					}
					vals[col.name] = arr
				} else {
					vals[col.name] = x
				}
			}
			if size > maxRecordBytes {
				return tooLong(c, where)
			}
			if err := c.add(newRecord(vals, keys), where); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("data: %s: row %d: %w", c.name, index, err)
		}
		if n == 0 {
			return nil
		}
	}
}

func parquetValue(v parquet.Value) any {
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return v.Int32()
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return v.Float()
	case parquet.Double:
		return v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	default:
		return v.String()
	}
}
