package query

import (
	"sort"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

// Window functions materialize their input. For each function the rows
// are sorted by its partition and ordering (stably), partitions and peer
// groups (rows equal on the ordering) are found, and the function's value
// is computed per row: ranking functions from positions, aggregates over
// the row's frame (incrementally when the frame starts at the partition's
// start, else afresh per row). Rows are emitted in the first function's
// order.

func (r *runner) execWindow(n *planner.Window, emit emitFunc) error {
	width := len(n.Input.Schema())
	var rows []datum.Row
	err := r.exec(n.Input, func(row datum.Row) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return err
	}
	vals := make([][]datum.Datum, len(n.Funcs))
	var order []int
	for i, f := range n.Funcs {
		perm, v, err := r.windowValues(f, rows)
		if err != nil {
			return err
		}
		vals[i] = v
		if i == 0 {
			order = perm
		}
	}
	for _, ri := range order {
		if err := r.tick(); err != nil {
			return err
		}
		out := make(datum.Row, width+len(n.Funcs))
		copy(out, rows[ri][:width])
		for i := range n.Funcs {
			out[width+i] = vals[i][ri]
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

// windowValues computes f for every row; it returns the rows' order by
// f's partition and ordering, and the values by row index.
func (r *runner) windowValues(f *planner.WindowFunc, rows []datum.Row) ([]int, []datum.Datum, error) {
	np, no := len(f.PartitionBy), len(f.OrderBy)
	keyExprs := append([]expr.Expr(nil), f.PartitionBy...)
	keys := make([]plan.SortKey, 0, np+no)
	for i := 0; i < np; i++ {
		keys = append(keys, plan.SortKey{Col: i})
	}
	for i, o := range f.OrderBy {
		keyExprs = append(keyExprs, o.Expr)
		keys = append(keys, plan.SortKey{Col: np + i, Desc: o.Desc, NullsFirst: o.NullsFirst})
	}
	keyEvals, err := r.compileAll(keyExprs)
	if err != nil {
		return nil, nil, err
	}
	argEvals, err := r.compileAll(f.Args)
	if err != nil {
		return nil, nil, err
	}
	var aggArg evaluator
	if f.Agg != nil && f.Agg.Arg != nil {
		if aggArg, err = r.compile(f.Agg.Arg); err != nil {
			return nil, nil, err
		}
	}
	n := len(rows)
	keyRows := make([]datum.Row, n)
	args := make([][]datum.Datum, n)
	for i, row := range rows {
		if err := r.tick(); err != nil {
			return nil, nil, err
		}
		k := make(datum.Row, len(keyEvals))
		for j, ev := range keyEvals {
			if k[j], err = ev(row); err != nil {
				return nil, nil, err
			}
		}
		keyRows[i] = k
		a := make([]datum.Datum, len(argEvals), len(argEvals)+1)
		for j, ev := range argEvals {
			if a[j], err = ev(row); err != nil {
				return nil, nil, err
			}
		}
		if f.Agg != nil {
			v := countStarArg
			if aggArg != nil {
				if v, err = aggArg(row); err != nil {
					return nil, nil, err
				}
			}
			a = append(a, v)
		}
		args[i] = a
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool {
		return compareKeys(keyRows[perm[a]], keyRows[perm[b]], keys) < 0
	})
	out := make([]datum.Datum, n)
	w := &windowCalc{f: f, perm: perm, args: args, out: out}
	for ps := 0; ps < n; {
		pe := ps + 1
		for pe < n && compareKeys(keyRows[perm[ps]], keyRows[perm[pe]], keys[:np]) == 0 {
			pe++
		}
		// Peer groups: rows equal on the ordering.
		w.peerStart = w.peerStart[:0]
		w.peerEnd = w.peerEnd[:0]
		for p := ps; p < pe; {
			q := p + 1
			for q < pe && compareKeys(keyRows[perm[p]], keyRows[perm[q]], keys[np:]) == 0 {
				q++
			}
			for i := p; i < q; i++ {
				w.peerStart = append(w.peerStart, p)
				w.peerEnd = append(w.peerEnd, q)
			}
			p = q
		}
		if err := w.partition(ps, pe); err != nil {
			return nil, nil, err
		}
		ps = pe
	}
	return perm, out, nil
}

// windowCalc computes one function over one partition at a time.
type windowCalc struct {
	f    *planner.WindowFunc
	perm []int           // position -> row index
	args [][]datum.Datum // by row index: the function's arguments (and the aggregate's)
	out  []datum.Datum   // by row index
	// peerStart/peerEnd[p-ps]: the peer group of position p, [start, end).
	peerStart, peerEnd []int
}

func (w *windowCalc) arg(p, i int) datum.Datum { return w.args[w.perm[p]][i] }

func (w *windowCalc) set(p int, v datum.Datum) { w.out[w.perm[p]] = v }

// frame returns the frame of position p in partition [ps, pe).
func (w *windowCalc) frame(p, ps, pe int) (int, int) {
	fr := w.f.Frame
	var fs, fe int
	switch fr.Start.Kind {
	case planner.UnboundedPreceding:
		fs = ps
	case planner.OffsetPreceding:
		fs = max(ps, p-int(fr.Start.Offset))
	case planner.CurrentRow:
		fs = p
		if !fr.Rows {
			fs = w.peerStart[p-ps]
		}
	case planner.OffsetFollowing:
		fs = min(pe, p+int(fr.Start.Offset))
	}
	switch fr.End.Kind {
	case planner.UnboundedFollowing:
		fe = pe
	case planner.OffsetPreceding:
		fe = max(ps, p-int(fr.End.Offset)+1)
	case planner.CurrentRow:
		fe = p + 1
		if !fr.Rows {
			fe = w.peerEnd[p-ps]
		}
	case planner.OffsetFollowing:
		fe = min(pe, p+int(fr.End.Offset)+1)
	}
	return fs, max(fs, fe)
}

func (w *windowCalc) partition(ps, pe int) error {
	f := w.f
	size := pe - ps
	if f.Agg != nil {
		return w.aggregate(ps, pe)
	}
	switch f.Fn {
	case "row_number":
		for p := ps; p < pe; p++ {
			w.set(p, datum.NewInt(int64(p-ps+1)))
		}
	case "rank":
		for p := ps; p < pe; p++ {
			w.set(p, datum.NewInt(int64(w.peerStart[p-ps]-ps+1)))
		}
	case "dense_rank":
		rank := int64(0)
		for p := ps; p < pe; p++ {
			if w.peerStart[p-ps] == p {
				rank++
			}
			w.set(p, datum.NewInt(rank))
		}
	case "percent_rank":
		for p := ps; p < pe; p++ {
			v := 0.0
			if size > 1 {
				v = float64(w.peerStart[p-ps]-ps) / float64(size-1)
			}
			w.set(p, datum.NewFloat(v))
		}
	case "cume_dist":
		for p := ps; p < pe; p++ {
			w.set(p, datum.NewFloat(float64(w.peerEnd[p-ps]-ps)/float64(size)))
		}
	case "ntile":
		for p := ps; p < pe; p++ {
			k := w.arg(p, 0)
			if k.IsNull() {
				w.set(p, datum.Null)
				continue
			}
			if k.Int() <= 0 {
				return pgerr.New("22014", "argument of ntile must be greater than zero")
			}
			w.set(p, datum.NewInt(ntile(int64(p-ps), int64(size), k.Int())))
		}
	case "lag", "lead":
		for p := ps; p < pe; p++ {
			off := int64(1)
			if len(w.args[w.perm[p]]) > 1 {
				o := w.arg(p, 1)
				if o.IsNull() {
					w.set(p, datum.Null)
					continue
				}
				off = o.Int()
			}
			if f.Fn == "lag" {
				off = -off
			}
			q := int64(p) + off
			switch {
			case q >= int64(ps) && q < int64(pe):
				w.set(p, w.arg(int(q), 0))
			case len(w.args[w.perm[p]]) > 2:
				w.set(p, w.arg(p, 2))
			default:
				w.set(p, datum.Null)
			}
		}
	case "first_value", "last_value", "nth_value":
		for p := ps; p < pe; p++ {
			fs, fe := w.frame(p, ps, pe)
			q := -1
			switch f.Fn {
			case "first_value":
				q = fs
			case "last_value":
				q = fe - 1
			case "nth_value":
				nth := w.arg(p, 1)
				if nth.IsNull() {
					break
				}
				if nth.Int() <= 0 {
					return pgerr.New("22016", "argument of nth_value must be greater than zero")
				}
				if nth.Int() <= int64(fe-fs) {
					q = fs + int(nth.Int()) - 1
				}
			}
			if q >= fs && q < fe {
				w.set(p, w.arg(q, 0))
			} else {
				w.set(p, datum.Null)
			}
		}
	default:
		return internalf("unknown window function %s", f.Fn)
	}
	return nil
}

// ntile is the bucket (from 1) of row i of n split into k buckets whose
// sizes differ by at most one, the larger first.
func ntile(i, n, k int64) int64 {
	q, rem := n/k, n%k
	if big := rem * (q + 1); i < big {
		return i/(q+1) + 1
	} else if q > 0 {
		return (i-big)/q + rem + 1
	}
	return i + 1
}

// aggregate computes an aggregate over each row's frame.
func (w *windowCalc) aggregate(ps, pe int) error {
	ai := len(w.args[w.perm[ps]]) - 1 // the aggregate's argument is last
	if w.f.Frame.Start.Kind == planner.UnboundedPreceding {
		// Frames grow from the partition's start: accumulate once.
		acc := expr.NewAcc(w.f.Agg)
		added := ps
		for p := ps; p < pe; p++ {
			_, fe := w.frame(p, ps, pe)
			for ; added < fe; added++ {
				if err := acc.Add(w.arg(added, ai)); err != nil {
					return err
				}
			}
			w.set(p, acc.Result())
		}
		return nil
	}
	for p := ps; p < pe; p++ {
		fs, fe := w.frame(p, ps, pe)
		acc := expr.NewAcc(w.f.Agg)
		for q := fs; q < fe; q++ {
			if err := acc.Add(w.arg(q, ai)); err != nil {
				return err
			}
		}
		w.set(p, acc.Result())
	}
	return nil
}
