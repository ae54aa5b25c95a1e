package table

import (
	"encoding/binary"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/state"
)

const (
	prefixByte  = 't'
	keyedTag    = 0x01
	appendedTag = 0x02
)

// Prefix returns the key prefix of every row of table id.
func Prefix(id uint64) []byte {
	b := make([]byte, 0, 9)
	b = append(b, prefixByte)
	return binary.BigEndian.AppendUint64(b, id)
}

// KeyOf returns the key of the row of keyed table id whose primary key
// columns (pkCols, indexes into row) hold the values in row.
func KeyOf(id uint64, pkCols []int, row datum.Row) []byte {
	b := append(Prefix(id), keyedTag)
	for _, c := range pkCols {
		b = datum.AppendKey(b, row[c])
	}
	return b
}

// AppendKey returns the key of an appended row.
func AppendKey(id, writer, seq uint64) []byte {
	b := append(Prefix(id), appendedTag)
	b = binary.BigEndian.AppendUint64(b, writer)
	return binary.BigEndian.AppendUint64(b, seq)
}

// Upsert writes row under its primary key into b.
func Upsert(b *state.Batch, id uint64, pkCols []int, row datum.Row) {
	b.Set(KeyOf(id, pkCols, row), datum.AppendRow(nil, row))
}

// Append writes row as the seq'th row of writer into b.
func Append(b *state.Batch, id, writer, seq uint64, row datum.Row) {
	b.Set(AppendKey(id, writer, seq), datum.AppendRow(nil, row))
}

// Delete removes the row stored at key.
func Delete(b *state.Batch, key []byte) { b.Delete(key) }

// Truncate removes every row of table id.
func Truncate(b *state.Batch, id uint64) {
	p := Prefix(id)
	b.DeleteRange(p, state.PrefixEnd(p))
}

// Scan calls fn for every row of table id in key order. The row is freshly
// decoded (fn may keep it); key is only valid during the call.
func Scan(st *state.Store, id uint64, fn func(key []byte, row datum.Row) error) error {
	p := Prefix(id)
	return st.Scan(p, state.PrefixEnd(p), func(k, v []byte) error {
		row, _, err := datum.DecodeRow(v)
		if err != nil {
			return err
		}
		return fn(k, row)
	})
}

// Get returns the row of keyed table id with the given primary key values.
func Get(st *state.Store, id uint64, pk datum.Row) (datum.Row, bool, error) {
	k := append(Prefix(id), keyedTag)
	k = datum.AppendKeyRow(k, pk)
	v, ok, err := st.Get(k)
	if err != nil || !ok {
		return nil, false, err
	}
	row, _, err := datum.DecodeRow(v)
	return row, err == nil, err
}
