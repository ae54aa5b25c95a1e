package query

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

// The randomized tests run hand-built plans over random tables (small
// domains, many NULLs and duplicates) and compare with brute-force
// reference implementations written here.

const randRounds = 150

// twoTables makes l(a, b, s) and r(x, y, s) with random rows.
func twoTables(rng *rand.Rand) (*db, *planner.Scan, *planner.Scan) {
	d := newDB()
	l := d.table("l", "a bigint", "b bigint", "s text")
	r := d.table("r", "x bigint", "y bigint", "s text")
	domain := 1 + rng.IntN(6)
	d.rows["l"] = randRows(rng, rng.IntN(25), domain)
	d.rows["r"] = randRows(rng, rng.IntN(25), domain)
	return d, scanOf(l), scanOf(r)
}

// joinCond is an ON condition over (a, b, s, x, y, s2) with its reference.
type joinCond struct {
	name string
	on   func(s plan.Schema) expr.Expr
	ref  func(l, r datum.Row) tri
}

var joinConds = []joinCond{
	{"a=x", func(s plan.Schema) expr.Expr { return cmp("=", col(s, 0), col(s, 3)) },
		func(l, r datum.Row) tri { return triCmp("=", l[0], r[0]) }},
	{"x=a", func(s plan.Schema) expr.Expr { return cmp("=", col(s, 3), col(s, 0)) },
		func(l, r datum.Row) tri { return triCmp("=", l[0], r[0]) }},
	{"a=x and b<y", func(s plan.Schema) expr.Expr {
		return and(cmp("=", col(s, 0), col(s, 3)), cmp("<", col(s, 1), col(s, 4)))
	}, func(l, r datum.Row) tri { return triAnd(triCmp("=", l[0], r[0]), triCmp("<", l[1], r[1])) }},
	{"b<y", func(s plan.Schema) expr.Expr { return cmp("<", col(s, 1), col(s, 4)) },
		func(l, r datum.Row) tri { return triCmp("<", l[1], r[1]) }},
	{"a=x and s=s", func(s plan.Schema) expr.Expr {
		return and(cmp("=", col(s, 0), col(s, 3)), cmp("=", col(s, 2), col(s, 5)))
	}, func(l, r datum.Row) tri { return triAnd(triCmp("=", l[0], r[0]), triCmp("=", l[2], r[2])) }},
	{"a=x and b=y", func(s plan.Schema) expr.Expr {
		return and(cmp("=", col(s, 0), col(s, 3)), cmp("=", col(s, 1), col(s, 4)))
	}, func(l, r datum.Row) tri { return triAnd(triCmp("=", l[0], r[0]), triCmp("=", l[1], r[1])) }},
	{"a=x and a>1", func(s plan.Schema) expr.Expr {
		return and(cmp("=", col(s, 0), col(s, 3)), cmp(">", col(s, 0), intc(1)))
	}, func(l, r datum.Row) tri { return triAnd(triCmp("=", l[0], r[0]), triCmp(">", l[0], i64(1))) }},
	{"a=x and y>2", func(s plan.Schema) expr.Expr {
		return and(cmp("=", col(s, 0), col(s, 3)), cmp(">", col(s, 4), intc(2)))
	}, func(l, r datum.Row) tri { return triAnd(triCmp("=", l[0], r[0]), triCmp(">", r[1], i64(2))) }},
	{"b>=1 and y<=3", func(s plan.Schema) expr.Expr {
		return and(cmp(">=", col(s, 1), intc(1)), cmp("<=", col(s, 4), intc(3)))
	}, func(l, r datum.Row) tri { return triAnd(triCmp(">=", l[1], i64(1)), triCmp("<=", r[1], i64(3))) }},
	{"a+1=x", func(s plan.Schema) expr.Expr {
		return cmp("=", call("+", datum.TypeInt8, col(s, 0), intc(1)), col(s, 3))
	}, func(l, r datum.Row) tri {
		if l[0].IsNull() {
			return triNull
		}
		return triCmp("=", i64(l[0].Int()+1), r[0])
	}},
	{"a=x or b=y", func(s plan.Schema) expr.Expr {
		return or(cmp("=", col(s, 0), col(s, 3)), cmp("=", col(s, 1), col(s, 4)))
	}, func(l, r datum.Row) tri { return triOr(triCmp("=", l[0], r[0]), triCmp("=", l[1], r[1])) }},
	{"true", func(plan.Schema) expr.Expr { return boolc(true) },
		func(l, r datum.Row) tri { return triTrue }},
	{"false", func(plan.Schema) expr.Expr { return boolc(false) },
		func(l, r datum.Row) tri { return triFalse }},
	{"null", func(plan.Schema) expr.Expr { return nullc(datum.TypeBool) },
		func(l, r datum.Row) tri { return triNull }},
	{"a=x and true", func(s plan.Schema) expr.Expr { return and(cmp("=", col(s, 0), col(s, 3)), boolc(true)) },
		func(l, r datum.Row) tri { return triCmp("=", l[0], r[0]) }},
}

// refJoin is a nested-loop join with SQL semantics.
func refJoin(kind plan.JoinKind, left, right []datum.Row, nl, nr int, on func(l, r datum.Row) tri) []datum.Row {
	var out []datum.Row
	rmatched := make([]bool, len(right))
	for _, l := range left {
		found := false
		for j, r := range right {
			if on == nil || on(l, r) == triTrue {
				found = true
				rmatched[j] = true
				out = append(out, append(slices.Clone(l), r...))
			}
		}
		if !found && (kind == plan.LeftJoin || kind == plan.FullJoin) {
			out = append(out, append(slices.Clone(l), make(datum.Row, nr)...))
		}
	}
	if kind == plan.RightJoin || kind == plan.FullJoin {
		for j, r := range right {
			if !rmatched[j] {
				out = append(out, append(make(datum.Row, nl), r...))
			}
		}
	}
	return out
}

func TestRandomJoins(t *testing.T) {
	rng := newRand(t)
	kinds := []plan.JoinKind{plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin}
	for round := 0; round < randRounds; round++ {
		d, ls, rs := twoTables(rng)
		env := d.env()
		cols := concat(ls.Cols, rs.Cols)
		for _, kind := range kinds {
			for _, c := range joinConds {
				j := &planner.Join{Kind: kind, Left: ls, Right: rs, On: c.on(cols), Cols: cols}
				got := run(t, j, env)
				want := refJoin(kind, d.rows["l"], d.rows["r"], 3, 3, c.ref)
				checkBag(t, fmt.Sprintf("round %d: %s join on %s", round, kind, c.name), got, want)
			}
		}
		j := &planner.Join{Kind: plan.CrossJoin, Left: ls, Right: rs, Cols: cols}
		checkBag(t, fmt.Sprintf("round %d: cross join", round), run(t, j, env), refJoin(plan.InnerJoin, d.rows["l"], d.rows["r"], 3, 3, nil))
	}
}

// TestRandomJoinChains joins three inputs, nesting outer joins, with
// filters on top (the null-extended rows must be visible to them).
func TestRandomJoinChains(t *testing.T) {
	rng := newRand(t)
	kinds := []plan.JoinKind{plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin}
	for round := 0; round < randRounds; round++ {
		d, ls, rs := twoTables(rng)
		m := d.table("m", "k bigint", "v text")
		ms := scanOf(m)
		mrows := make([]datum.Row, rng.IntN(10))
		for i := range mrows {
			mrows[i] = datum.Row{randInt(rng, 4, 0.2), randStr(rng, 0.2)}
		}
		d.rows["m"] = mrows
		env := d.env()
		k1, k2 := kinds[rng.IntN(4)], kinds[rng.IntN(4)]
		c1 := concat(ls.Cols, rs.Cols)
		j1 := &planner.Join{Kind: k1, Left: ls, Right: rs, On: cmp("=", col(c1, 0), col(c1, 3)), Cols: c1}
		c2 := concat(c1, ms.Cols)
		// (l ⋈ r) ⋈ m ON y = k AND s(l) = v
		j2 := &planner.Join{Kind: k2, Left: j1, Right: ms,
			On: and(cmp("=", col(c2, 4), col(c2, 6)), cmp("=", col(c2, 2), col(c2, 7))), Cols: c2}
		f := &planner.Filter{Input: j2, Pred: call("is null", datum.TypeBool, col(c2, 3))}
		w1 := refJoin(k1, d.rows["l"], d.rows["r"], 3, 3, func(l, r datum.Row) tri { return triCmp("=", l[0], r[0]) })
		w2 := refJoin(k2, w1, mrows, 6, 2, func(l, r datum.Row) tri {
			return triAnd(triCmp("=", l[4], r[0]), triCmp("=", l[2], r[1]))
		})
		what := fmt.Sprintf("round %d: (l %s r) %s m", round, k1, k2)
		checkBag(t, what, run(t, j2, env), w2)
		var w3 []datum.Row
		for _, r := range w2 {
			if r[3].IsNull() {
				w3 = append(w3, r)
			}
		}
		checkBag(t, what+" where x is null", run(t, f, env), w3)
	}
}

// aggSpec builds the aggregates used by the grouping tests over column b
// (index 1) of l.
func aggSpecs(s plan.Schema) []*expr.AggFunc {
	b := col(s, 1)
	return []*expr.AggFunc{
		{Fn: "count", Typ: datum.TypeInt8},
		{Fn: "count", Arg: b, Typ: datum.TypeInt8},
		{Fn: "sum", Arg: b, Typ: datum.TypeNumeric},
		{Fn: "min", Arg: b, Typ: datum.TypeInt8},
		{Fn: "max", Arg: b, Typ: datum.TypeInt8},
		{Fn: "count", Arg: b, Distinct: true, Typ: datum.TypeInt8},
	}
}

// refAggs computes aggSpecs over rows (by reference).
func refAggs(rows []datum.Row) datum.Row {
	var count, countB, sum int64
	var min, max datum.Datum
	distinct := map[int64]bool{}
	for _, r := range rows {
		count++
		b := r[1]
		if b.IsNull() {
			continue
		}
		countB++
		sum += b.Int()
		distinct[b.Int()] = true
		if min.IsNull() || b.Int() < min.Int() {
			min = b
		}
		if max.IsNull() || b.Int() > max.Int() {
			max = b
		}
	}
	s := null
	if countB > 0 {
		s = i64(sum)
	}
	return datum.Row{i64(count), i64(countB), s, min, max, i64(int64(len(distinct)))}
}

func TestRandomGroupBy(t *testing.T) {
	rng := newRand(t)
	for round := 0; round < randRounds; round++ {
		d, ls, _ := twoTables(rng)
		env := d.env()
		rows := d.rows["l"]
		// GROUP BY a, s; GROUP BY a; no GROUP BY.
		for _, keys := range [][]int{{0, 2}, {0}, nil} {
			agg := &planner.Aggregate{Input: ls, Aggs: aggSpecs(ls.Cols)}
			for _, k := range keys {
				agg.GroupBy = append(agg.GroupBy, col(ls.Cols, k))
				agg.Cols = append(agg.Cols, ls.Cols[k])
			}
			for _, a := range agg.Aggs {
				agg.Cols = append(agg.Cols, plan.Column{Name: a.Fn, Type: a.Typ})
			}
			groups := map[string][]datum.Row{}
			var order []string
			for _, r := range rows {
				var key datum.Row
				for _, k := range keys {
					key = append(key, r[k])
				}
				kk := rowKey(key)
				if _, ok := groups[kk]; !ok {
					order = append(order, kk)
				}
				groups[kk] = append(groups[kk], r)
			}
			if len(keys) == 0 && len(rows) == 0 {
				order = append(order, "")
				groups[""] = nil
			}
			var want []datum.Row
			for _, kk := range order {
				g := groups[kk]
				var key datum.Row
				if len(g) > 0 {
					for _, k := range keys {
						key = append(key, g[0][k])
					}
				}
				want = append(want, append(key, refAggs(g)...))
			}
			// Groups come out in order of first appearance.
			checkSeq(t, fmt.Sprintf("round %d: group by %v", round, keys), run(t, agg, env), want)
		}
	}
}

func TestRandomDistinct(t *testing.T) {
	rng := newRand(t)
	for round := 0; round < randRounds; round++ {
		d, ls, _ := twoTables(rng)
		p := project(ls, 0, 2)
		var want []datum.Row
		seen := map[string]bool{}
		for _, r := range d.rows["l"] {
			k := datum.Row{r[0], r[2]}
			if !seen[rowKey(k)] {
				seen[rowKey(k)] = true
				want = append(want, k)
			}
		}
		checkSeq(t, fmt.Sprintf("round %d: distinct", round), run(t, &planner.Distinct{Input: p}, d.env()), want)
	}
}

func TestRandomSetOps(t *testing.T) {
	rng := newRand(t)
	for round := 0; round < randRounds; round++ {
		d, ls, rs := twoTables(rng)
		env := d.env()
		lp, rp := project(ls, 0, 2), project(rs, 0, 2)
		var left, right []datum.Row
		for _, r := range d.rows["l"] {
			left = append(left, datum.Row{r[0], r[2]})
		}
		for _, r := range d.rows["r"] {
			right = append(right, datum.Row{r[0], r[2]})
		}
		for _, op := range []string{"UNION", "INTERSECT", "EXCEPT"} {
			for _, all := range []bool{false, true} {
				n := &planner.SetOp{Op: op, All: all, Left: lp, Right: rp, Cols: lp.Cols}
				want := refSetOp(op, all, left, right)
				checkBag(t, fmt.Sprintf("round %d: %s all=%v", round, op, all), run(t, n, env), want)
			}
		}
	}
}

func refSetOp(op string, all bool, left, right []datum.Row) []datum.Row {
	lc, rc := map[string]int{}, map[string]int{}
	rowOf := map[string]datum.Row{}
	var order []string
	for _, r := range left {
		k := rowKey(r)
		if _, ok := rowOf[k]; !ok {
			order = append(order, k)
			rowOf[k] = r
		}
		lc[k]++
	}
	for _, r := range right {
		k := rowKey(r)
		if _, ok := rowOf[k]; !ok {
			order = append(order, k)
			rowOf[k] = r
		}
		rc[k]++
	}
	var out []datum.Row
	for _, k := range order {
		l, r := lc[k], rc[k]
		var n int
		switch op {
		case "UNION":
			n = l + r
		case "INTERSECT":
			n = min(l, r)
		case "EXCEPT":
			n = max(l-r, 0)
		}
		if !all {
			n = 0
			switch {
			case op == "UNION",
				op == "INTERSECT" && l > 0 && r > 0,
				op == "EXCEPT" && l > 0 && r == 0:
				n = 1
			}
		}
		for range n {
			out = append(out, rowOf[k])
		}
	}
	return out
}

// refSort sorts stably with SQL's ordering, written independently of
// compareKeys.
func refSort(rows []datum.Row, keys []plan.SortKey) []datum.Row {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b datum.Row) int {
		for _, k := range keys {
			x, y := a[k.Col], b[k.Col]
			// Map NULL to a rank outside the values, then apply direction
			// to the values only.
			rank := func(d datum.Datum) int {
				if !d.IsNull() {
					return 1
				}
				if k.NullsFirst {
					return 0
				}
				return 2
			}
			if rx, ry := rank(x), rank(y); rx != ry {
				return rx - ry
			} else if rx != 1 {
				continue
			}
			c := datum.Compare(x, y)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func TestRandomSortLimit(t *testing.T) {
	rng := newRand(t)
	for round := 0; round < randRounds*2; round++ {
		d, ls, _ := twoTables(rng)
		env := d.env()
		rows := d.rows["l"]
		var keys []plan.SortKey
		for range 1 + rng.IntN(3) {
			k := plan.SortKey{Col: rng.IntN(3), Desc: rng.IntN(2) == 0}
			// PostgreSQL's default: NULLS LAST ascending, FIRST descending.
			k.NullsFirst = k.Desc
			if rng.IntN(3) == 0 {
				k.NullsFirst = !k.NullsFirst
			}
			keys = append(keys, k)
		}
		sorted := refSort(rows, keys)
		s := &planner.Sort{Input: ls, Keys: keys}
		what := fmt.Sprintf("round %d: sort %+v", round, keys)
		checkSeq(t, what, run(t, s, env), sorted)

		count, offset := int64(rng.IntN(30)), int64(rng.IntN(30))
		clip := func(rows []datum.Row) []datum.Row {
			lo := min(offset, int64(len(rows)))
			hi := min(lo+count, int64(len(rows)))
			return rows[lo:hi]
		}
		lim := &planner.Limit{Input: s, Count: intc(count), Offset: intc(offset)}
		checkSeq(t, fmt.Sprintf("%s limit %d offset %d", what, count, offset), run(t, lim, env), clip(sorted))
		// The same through a projection (no top-k): full sort, then limit.
		lp := &planner.Limit{Input: project(s, 0, 1, 2), Count: intc(count), Offset: intc(offset)}
		checkSeq(t, fmt.Sprintf("%s (projected) limit %d offset %d", what, count, offset), run(t, lp, env), clip(sorted))
		// Without a sort: a prefix of the input.
		ln := &planner.Limit{Input: ls, Count: intc(count), Offset: intc(offset)}
		checkSeq(t, fmt.Sprintf("round %d: limit %d offset %d", round, count, offset), run(t, ln, env), clip(rows))
	}
}

// TestRandomSubqueries checks [NOT] IN, EXISTS and scalar subqueries
// against their three-valued definitions.
func TestRandomSubqueries(t *testing.T) {
	rng := newRand(t)
	for round := 0; round < randRounds; round++ {
		d, ls, rs := twoTables(rng)
		env := d.env()
		// r filtered by y > 1, column x.
		sub := project(&planner.Filter{Input: rs, Pred: cmp(">", col(rs.Cols, 1), intc(1))}, 0)
		var set []datum.Datum
		for _, r := range d.rows["r"] {
			if triCmp(">", r[1], i64(1)) == triTrue {
				set = append(set, r[0])
			}
		}
		in := func(x datum.Datum) tri {
			res := triFalse
			for _, v := range set {
				res = triOr(res, triCmp("=", x, v))
			}
			return res
		}
		for _, not := range []bool{false, true} {
			pred := &planner.Subquery{Kind: planner.SubqueryIn, Plan: sub, X: col(ls.Cols, 0), Not: not, Typ: datum.TypeBool}
			f := &planner.Filter{Input: ls, Pred: pred}
			var want []datum.Row
			for _, r := range d.rows["l"] {
				v := in(r[0])
				if not && v != triNull {
					v = 1 - v
				}
				if v == triTrue {
					want = append(want, r)
				}
			}
			checkSeq(t, fmt.Sprintf("round %d: not=%v in %v", round, not, set), run(t, f, env), want)
		}
		ex := &planner.Subquery{Kind: planner.SubqueryExists, Plan: sub, Typ: datum.TypeBool}
		var want []datum.Row
		if len(set) > 0 {
			want = d.rows["l"]
		}
		checkSeq(t, fmt.Sprintf("round %d: exists", round), run(t, &planner.Filter{Input: ls, Pred: ex}, env), want)

		// a = (SELECT max(x) FROM r)
		agg := &planner.Aggregate{Input: rs, Aggs: []*expr.AggFunc{{Fn: "max", Arg: col(rs.Cols, 0), Typ: datum.TypeInt8}},
			Cols: plan.Schema{{Name: "max", Type: datum.TypeInt8}}}
		var mx datum.Datum
		for _, r := range d.rows["r"] {
			if !r[0].IsNull() && (mx.IsNull() || r[0].Int() > mx.Int()) {
				mx = r[0]
			}
		}
		sc := &planner.Subquery{Kind: planner.SubqueryScalar, Plan: agg, Typ: datum.TypeInt8}
		want = nil
		for _, r := range d.rows["l"] {
			if triCmp("=", r[0], mx) == triTrue {
				want = append(want, r)
			}
		}
		checkSeq(t, fmt.Sprintf("round %d: a = (select max(x))", round), run(t, &planner.Filter{Input: ls, Pred: cmp("=", col(ls.Cols, 0), sc)}, env), want)
	}
}
