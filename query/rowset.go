package query

import (
	"math"

	"github.com/weir-sql/weir/datum"
)

// Rows are grouped (GROUP BY, DISTINCT, set operations, join keys) by hash
// and then compared with datum.Compare, so that values PostgreSQL considers
// equal land together: NULL with NULL, 0.0 with -0.0, NaN with NaN, 1 month
// with 30 days.

// hashDatum hashes d consistently with datum.Compare equality.
func hashDatum(d datum.Datum) uint64 {
	switch d.Kind() {
	case datum.KindInterval:
		return datum.NewInt(int64(d.Months())*30*86400e6 + d.Micros()).Hash()
	case datum.KindFloat:
		if math.IsNaN(d.Float()) {
			return datum.NewFloat(math.NaN()).Hash()
		}
	}
	return d.Hash()
}

const hashMul = 0x9E3779B97F4A7C15

func mix(h, v uint64) uint64 {
	h ^= v + hashMul + (h << 6) + (h >> 2)
	return h
}

// hashRow hashes all of r.
func hashRow(r datum.Row) uint64 {
	h := uint64(len(r))
	for _, d := range r {
		h = mix(h, hashDatum(d))
	}
	return h
}

// sameRow reports whether a and b are equal column by column, NULLs equal.
func sameRow(a, b datum.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if datum.Compare(a[i], b[i]) != 0 {
			return false
		}
	}
	return true
}

// rowTable maps distinct rows (NULLs equal) to dense ids 0, 1, 2, ... in
// first-seen order.
type rowTable struct {
	heads map[uint64]int32 // hash -> first id with that hash
	next  []int32          // id -> next id with the same hash, or -1
	rows  []datum.Row      // id -> row
}

func newRowTable() *rowTable {
	return &rowTable{heads: make(map[uint64]int32)}
}

// find returns the id of row, or -1.
func (t *rowTable) find(row datum.Row, h uint64) int32 {
	id, ok := t.heads[h]
	if !ok {
		return -1
	}
	for ; id >= 0; id = t.next[id] {
		if sameRow(t.rows[id], row) {
			return id
		}
	}
	return -1
}

// insert returns the id of row, adding it (without copying) if it is new.
func (t *rowTable) insert(row datum.Row) (id int32, added bool) {
	h := hashRow(row)
	if id := t.find(row, h); id >= 0 {
		return id, false
	}
	return t.insertHashed(row, h), true
}

// insertHashed adds row, whose hash is h and which is not in t yet.
func (t *rowTable) insertHashed(row datum.Row, h uint64) int32 {
	id := int32(len(t.rows))
	t.rows = append(t.rows, row)
	head, ok := t.heads[h]
	if !ok {
		head = -1
	}
	t.next = append(t.next, head)
	t.heads[h] = id
	return id
}

// lookup returns the id of row, or -1.
func (t *rowTable) lookup(row datum.Row) int32 {
	return t.find(row, hashRow(row))
}

func (t *rowTable) len() int { return len(t.rows) }
