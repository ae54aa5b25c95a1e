package query

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/planner"
)

// execDistinct emits the first occurrence of each distinct row, streaming.
func (r *runner) execDistinct(n *planner.Distinct, emit emitFunc) error {
	seen := newRowTable()
	return r.exec(n.Input, func(row datum.Row) error {
		if _, added := seen.insert(row); added {
			return emit(row)
		}
		return nil
	})
}

// execSetOp runs UNION, INTERSECT and EXCEPT with PostgreSQL's semantics:
// rows are compared with NULLs equal; without ALL the result has no
// duplicates; with ALL a row occurring l times on the left and r times on
// the right occurs l+r (UNION), min(l, r) (INTERSECT) or max(l-r, 0)
// (EXCEPT) times.
func (r *runner) execSetOp(n *planner.SetOp, emit emitFunc) error {
	width := len(n.Cols)
	fit := func(row datum.Row) datum.Row {
		if len(row) > width {
			return row[:width:width]
		}
		return row
	}
	switch strings.ToUpper(n.Op) {
	case "UNION":
		if n.All {
			f := func(row datum.Row) error { return emit(fit(row)) }
			if err := r.exec(n.Left, f); err != nil {
				return err
			}
			return r.exec(n.Right, f)
		}
		seen := newRowTable()
		f := func(row datum.Row) error {
			row = fit(row)
			if _, added := seen.insert(row); added {
				return emit(row)
			}
			return nil
		}
		if err := r.exec(n.Left, f); err != nil {
			return err
		}
		return r.exec(n.Right, f)
	case "INTERSECT", "EXCEPT":
	default:
		return internalf("unknown set operation %q", n.Op)
	}
	intersect := strings.EqualFold(n.Op, "INTERSECT")
	// Count the right side's rows.
	right := newRowTable()
	var counts []int64
	err := r.exec(n.Right, func(row datum.Row) error {
		id, added := right.insert(fit(row))
		if added {
			counts = append(counts, 0)
		}
		counts[id]++
		return nil
	})
	if err != nil {
		return err
	}
	var emitted *rowTable // distinct: left rows already emitted
	if !n.All {
		emitted = newRowTable()
	}
	return r.exec(n.Left, func(row datum.Row) error {
		row = fit(row)
		id := right.lookup(row)
		inRight := id >= 0 && counts[id] > 0
		if n.All {
			if inRight {
				counts[id]--
			}
			if inRight == intersect {
				return emit(row)
			}
			return nil
		}
		if inRight != intersect {
			return nil
		}
		if _, added := emitted.insert(row); added {
			return emit(row)
		}
		return nil
	})
}
