package query

import (
	"container/heap"
	"errors"
	"math"
	"slices"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

// SQLSTATEs of bad LIMIT/OFFSET values (PostgreSQL's
// invalid_row_count_in_limit_clause and
// invalid_row_count_in_result_offset_clause).
const (
	codeInvalidLimit  = "2201W"
	codeInvalidOffset = "2201X"
)

// compareKeys orders rows a and b by keys: NULLs first or last as each key
// says, whatever its direction. Ties are 0.
func compareKeys(a, b datum.Row, keys []plan.SortKey) int {
	for _, k := range keys {
		if c := compareKey(a[k.Col], b[k.Col], k); c != 0 {
			return c
		}
	}
	return 0
}

// compareKey orders two values of one sort key.
func compareKey(x, y datum.Datum, k plan.SortKey) int {
	var c int
	if x.Kind() == datum.KindInt && y.Kind() == datum.KindInt {
		c = cmpInt64(x.Int(), y.Int())
	} else {
		xn, yn := x.IsNull(), y.IsNull()
		switch {
		case xn && yn:
			return 0
		case xn:
			if k.NullsFirst {
				return -1
			}
			return 1
		case yn:
			if k.NullsFirst {
				return 1
			}
			return -1
		}
		c = datum.Compare(x, y)
	}
	if k.Desc {
		return -c
	}
	return c
}

func checkSortKeys(keys []plan.SortKey, width int) error {
	for _, k := range keys {
		if k.Col < 0 || k.Col >= width {
			return internalf("sort key column %d of %d", k.Col, width)
		}
	}
	return nil
}

// execSort sorts the input, stably (rows with equal keys keep their input
// order).
func (r *runner) execSort(n *planner.Sort, emit emitFunc) error {
	if err := checkSortKeys(n.Keys, len(n.Input.Schema())); err != nil {
		return err
	}
	var rows []seqRow
	err := r.exec(n.Input, func(row datum.Row) error {
		rows = append(rows, newSeqRow(row, int64(len(rows)), n.Keys))
		return nil
	})
	if err != nil {
		return err
	}
	// pdqsort with the input position as the last key: stable, and much
	// faster than a merge-based stable sort.
	slices.SortFunc(rows, func(a, b seqRow) int { return compareSeq(a, b, n.Keys) })
	if err := r.checkCtx(); err != nil {
		return err
	}
	for _, e := range rows {
		if err := emit(e.row); err != nil {
			return err
		}
	}
	return nil
}

// compareSeq orders by keys, then by input position.
func compareSeq(a, b seqRow, keys []plan.SortKey) int {
	if len(keys) > 0 {
		if c := compareKey(a.k0, b.k0, keys[0]); c != 0 {
			return c
		}
		if c := compareKeys(a.row, b.row, keys[1:]); c != 0 {
			return c
		}
	}
	return cmpInt64(a.seq, b.seq)
}

// errStop is returned by a Limit's receiver once it has all its rows; the
// Limit that returned it swallows it. Each Limit uses its own value.
type errStop struct{}

func (*errStop) Error() string { return "query: limit reached" }

// topKMax bounds the LIMIT+OFFSET for which a Sort below a Limit keeps only
// the first rows in a heap instead of sorting everything.
const topKMax = 1 << 16

func (r *runner) execLimit(n *planner.Limit, emit emitFunc) error {
	count, offset, err := r.limitValues(n)
	if err != nil {
		return err
	}
	if count == 0 {
		return nil
	}
	if s, ok := n.Input.(*planner.Sort); ok && count > 0 && count <= topKMax && offset <= topKMax {
		return r.execTopK(s, int(count+offset), offset, emit)
	}
	stop := &errStop{}
	var seen int64
	err = r.exec(n.Input, func(row datum.Row) error {
		seen++
		if seen <= offset {
			return nil
		}
		if err := emit(row); err != nil {
			return err
		}
		if count >= 0 && seen-offset >= count {
			return stop
		}
		return nil
	})
	var es *errStop
	if errors.As(err, &es) && es == stop {
		return nil
	}
	return err
}

// limitValues evaluates LIMIT and OFFSET: count -1 means no limit. NULL
// means no limit and no offset, as in PostgreSQL.
func (r *runner) limitValues(n *planner.Limit) (count, offset int64, err error) {
	count = -1
	if n.Count != nil {
		v, null, err := r.constInt(n.Count)
		if err != nil {
			return 0, 0, err
		}
		if !null {
			if v < 0 {
				return 0, 0, pgerr.New(codeInvalidLimit, "LIMIT must not be negative")
			}
			count = v
		}
	}
	if n.Offset != nil {
		v, null, err := r.constInt(n.Offset)
		if err != nil {
			return 0, 0, err
		}
		if !null {
			if v < 0 {
				return 0, 0, pgerr.New(codeInvalidOffset, "OFFSET must not be negative")
			}
			offset = v
		}
	}
	return count, offset, nil
}

// constInt evaluates a row-independent integer expression (LIMIT, OFFSET).
func (r *runner) constInt(e expr.Expr) (int64, bool, error) {
	ev, err := r.compile(e)
	if err != nil {
		return 0, false, err
	}
	d, err := ev(nil)
	if err != nil {
		return 0, false, err
	}
	switch d.Kind() {
	case datum.KindNull:
		return 0, true, nil
	case datum.KindInt:
		return d.Int(), false, nil
	case datum.KindFloat:
		f := math.Round(d.Float())
		if math.IsNaN(f) || f >= 1<<63 || f < -(1<<63) {
			return 0, false, pgerr.New(pgerr.NumericValueOutOfRange, "bigint out of range")
		}
		return int64(f), false, nil
	case datum.KindString:
		v, err := datum.Parse(datum.TypeInt8, d.Str())
		if err != nil {
			return 0, false, err
		}
		if v.IsNull() {
			return 0, true, nil
		}
		return v.Int(), false, nil
	}
	return 0, false, pgerr.New(pgerr.DatatypeMismatch, "argument of LIMIT must be type bigint, not %s", d.Kind())
}

// execTopK sorts s's input keeping only its first k rows (a bounded heap),
// then emits them from the offset-th on. Ties keep input order, as in
// execSort.
func (r *runner) execTopK(s *planner.Sort, k int, offset int64, emit emitFunc) error {
	if err := checkSortKeys(s.Keys, len(s.Input.Schema())); err != nil {
		return err
	}
	h := &topHeap{keys: s.Keys}
	var seq int64
	err := r.exec(s.Input, func(row datum.Row) error {
		e := newSeqRow(row, seq, s.Keys)
		seq++
		if len(h.rows) < k {
			heap.Push(h, e)
			return nil
		}
		if h.less(e, h.rows[0]) {
			h.rows[0] = e
			heap.Fix(h, 0)
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := h.rows
	slices.SortFunc(out, func(a, b seqRow) int { return compareSeq(a, b, s.Keys) })
	if offset >= int64(len(out)) {
		return nil
	}
	for _, e := range out[offset:] {
		if err := emit(e.row); err != nil {
			return err
		}
	}
	return nil
}

// seqRow is a row being sorted: its input position breaks ties, and its
// first key is kept inline so that most comparisons do not chase the row
// pointer.
type seqRow struct {
	row datum.Row
	seq int64
	k0  datum.Datum
}

func newSeqRow(row datum.Row, seq int64, keys []plan.SortKey) seqRow {
	e := seqRow{row: row, seq: seq}
	if len(keys) > 0 {
		e.k0 = row[keys[0].Col]
	}
	return e
}

// topHeap is a max-heap (the row that sorts last on top) of at most k rows.
type topHeap struct {
	keys []plan.SortKey
	rows []seqRow
}

func (h *topHeap) less(a, b seqRow) bool { return compareSeq(a, b, h.keys) < 0 }

func (h *topHeap) Len() int           { return len(h.rows) }
func (h *topHeap) Less(i, j int) bool { return h.less(h.rows[j], h.rows[i]) }
func (h *topHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *topHeap) Push(x any)         { h.rows = append(h.rows, x.(seqRow)) }
func (h *topHeap) Pop() any {
	x := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return x
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
