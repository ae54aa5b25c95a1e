package query

import (
	"context"
	"math"
	"testing"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

func TestEmptyAggregate(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint", "b bigint")
	s := scanOf(rel)
	aggs := []*expr.AggFunc{
		{Fn: "count", Typ: datum.TypeInt8},
		{Fn: "sum", Arg: col(s.Cols, 1), Typ: datum.TypeNumeric},
	}
	cols := plan.Schema{{Name: "count", Type: datum.TypeInt8}, {Name: "sum", Type: datum.TypeNumeric}}
	got := run(t, &planner.Aggregate{Input: s, Aggs: aggs, Cols: cols}, d.env())
	checkSeq(t, "global", got, []datum.Row{{i64(0), null}})

	grouped := &planner.Aggregate{Input: s, GroupBy: []expr.Expr{col(s.Cols, 0)}, Aggs: aggs,
		Cols: append(plan.Schema{s.Cols[0]}, cols...)}
	checkSeq(t, "grouped", run(t, grouped, d.env()), nil)
}

func TestLimitValues(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	for i := range 10 {
		d.rows["t"] = append(d.rows["t"], datum.Row{i64(int64(i))})
	}
	s := scanOf(rel)
	cases := []struct {
		count, offset expr.Expr
		n             int
		code          string
	}{
		{intc(3), nil, 3, ""},
		{nil, intc(8), 2, ""},
		{nullc(datum.TypeInt8), nil, 10, ""},
		{intc(2), nullc(datum.TypeInt8), 2, ""},
		{intc(0), nil, 0, ""},
		{intc(-1), nil, 0, "2201W"},
		{intc(1), intc(-1), 0, "2201X"},
		{&expr.Const{Val: datum.NewFloat(2.5), Typ: datum.TypeNumeric}, nil, 3, ""},
		{&expr.Param{Index: 1, Typ: datum.TypeInt8}, nil, 4, ""},
		{intc(math.MaxInt64), intc(1), 9, ""},
		{intc(math.MaxInt64), intc(math.MaxInt64), 0, ""},
		{&expr.Param{Index: 2, Typ: datum.TypeInt8}, nil, 0, pgerr.UndefinedParameter},
	}
	for i, c := range cases {
		n := &planner.Limit{Input: s, Count: c.count, Offset: c.offset}
		if i%2 == 1 {
			// Through the top-k path.
			n.Input = &planner.Sort{Input: s, Keys: []plan.SortKey{{Col: 0}}}
		}
		env := d.env()
		env.Params = []datum.Datum{i64(4)}
		rows, err := Run(context.Background(), n, env)
		if code := pgerr.Code(err); err != nil && code != c.code || err == nil && c.code != "" {
			t.Fatalf("case %d: error %v (%s), want %s", i, err, code, c.code)
		}
		if err == nil && len(rows) != c.n {
			t.Fatalf("case %d: %d rows, want %d", i, len(rows), c.n)
		}
	}
}

func TestLimitStopsEarly(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	for i := range 1000 {
		d.rows["t"] = append(d.rows["t"], datum.Row{i64(int64(i))})
	}
	s := scanOf(rel)
	// 10 / (a - 500) fails at a = 500; LIMIT 5 never gets there.
	p := &planner.Project{Input: s, Exprs: []expr.Expr{call("/", datum.TypeInt8, intc(10), call("-", datum.TypeInt8, col(s.Cols, 0), intc(500)))},
		Cols: plan.Schema{{Name: "q", Type: datum.TypeInt8}}}
	rows := run(t, &planner.Limit{Input: p, Count: intc(5)}, d.env())
	if len(rows) != 5 {
		t.Fatalf("got %d rows", len(rows))
	}
	if code := runErr(p, d.env()); code != pgerr.DivisionByZero {
		t.Fatalf("without limit: %q, want division by zero", code)
	}
	// Nested limits: the inner one's stop must not end the outer one early
	// and vice versa.
	inner := &planner.Limit{Input: s, Count: intc(50)}
	outer := &planner.Limit{Input: &planner.Filter{Input: inner, Pred: cmp(">=", col(s.Cols, 0), intc(45))}, Count: intc(3)}
	checkSeq(t, "nested", run(t, outer, d.env()), []datum.Row{{i64(45)}, {i64(46)}, {i64(47)}})
}

func TestSortNulls(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	d.rows["t"] = []datum.Row{{i64(2)}, {null}, {i64(1)}, {i64(3)}}
	s := scanOf(rel)
	for _, c := range []struct {
		key  plan.SortKey
		want []datum.Row
	}{
		{plan.SortKey{Col: 0}, []datum.Row{{i64(1)}, {i64(2)}, {i64(3)}, {null}}},
		{plan.SortKey{Col: 0, Desc: true, NullsFirst: true}, []datum.Row{{null}, {i64(3)}, {i64(2)}, {i64(1)}}},
		{plan.SortKey{Col: 0, NullsFirst: true}, []datum.Row{{null}, {i64(1)}, {i64(2)}, {i64(3)}}},
		{plan.SortKey{Col: 0, Desc: true}, []datum.Row{{i64(3)}, {i64(2)}, {i64(1)}, {null}}},
	} {
		checkSeq(t, "sort", run(t, &planner.Sort{Input: s, Keys: []plan.SortKey{c.key}}, d.env()), c.want)
		lim := &planner.Limit{Input: &planner.Sort{Input: s, Keys: []plan.SortKey{c.key}}, Count: intc(2), Offset: intc(1)}
		checkSeq(t, "top-k", run(t, lim, d.env()), c.want[1:3])
	}
}

func TestValuesAndParams(t *testing.T) {
	v := &planner.Values{
		Rows: [][]expr.Expr{
			{intc(1), &expr.Param{Index: 1, Typ: datum.TypeText}},
			{call("+", datum.TypeInt8, intc(1), intc(2)), &expr.Param{Index: 2, Typ: datum.TypeInt8}},
		},
		Cols: plan.Schema{{Name: "a", Type: datum.TypeInt8}, {Name: "b", Type: datum.TypeText}},
	}
	env := &Env{Params: []datum.Datum{str("hi"), str("42")}}
	checkSeq(t, "values", run(t, v, env), []datum.Row{{i64(1), str("hi")}, {i64(3), i64(42)}})
	// A FROM-less SELECT: one row of no columns.
	one := &planner.Values{Rows: [][]expr.Expr{{}}}
	if rows := run(t, one, nil); len(rows) != 1 || len(rows[0]) != 0 {
		t.Fatalf("got %v", rows)
	}
}

func TestNow(t *testing.T) {
	calls := 0
	env := &Env{Now: func() int64 { calls++; return 1_000_000 }}
	now := &expr.Call{Fn: "now", Typ: datum.TypeTimestampTZ}
	v := &planner.Values{Rows: [][]expr.Expr{{now}, {now}}, Cols: plan.Schema{{Name: "now", Type: datum.TypeTimestampTZ}}}
	rows := run(t, v, env)
	checkSeq(t, "now", rows, []datum.Row{{datum.NewTimestamp(1_000_000)}, {datum.NewTimestamp(1_000_000)}})
	if calls != 1 {
		t.Fatalf("Now called %d times, want once", calls)
	}
	if _, err := Run(context.Background(), v, &Env{}); err == nil {
		t.Fatalf("now() without a clock: no error")
	}
}

func TestCancel(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	for i := range 100_000 {
		d.rows["t"] = append(d.rows["t"], datum.Row{i64(int64(i))})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := scanOf(rel)
	if _, err := Run(ctx, s, d.env()); pgerr.Code(err) != pgerr.QueryCanceled {
		t.Fatalf("canceled before: %v", err)
	}
	// Canceled while running: the scan cancels, then returns its rows.
	ctx, cancel = context.WithCancel(context.Background())
	env := &Env{Scan: func(ctx context.Context, rel *catalog.Relation) ([]datum.Row, error) {
		cancel()
		return d.rows["t"], nil
	}}
	if _, err := Run(ctx, &planner.Sort{Input: s, Keys: []plan.SortKey{{Col: 0, Desc: true}}}, env); pgerr.Code(err) != pgerr.QueryCanceled {
		t.Fatalf("canceled during: %v", err)
	}
	// A nested-loop join that runs long with few input rows.
	ctx, cancel = context.WithCancel(context.Background())
	small := d.rows["t"][:3000]
	rel2 := d.table("u", "a bigint")
	n := 0
	env = &Env{Scan: func(ctx context.Context, rel *catalog.Relation) ([]datum.Row, error) {
		n++
		if n == 2 {
			cancel()
		}
		return small, nil
	}}
	cols := concat(s.Cols, s.Cols)
	j := &planner.Join{Kind: plan.InnerJoin, Left: s, Right: scanOf(rel2),
		On: cmp("<", col(cols, 0), col(cols, 1)), Cols: cols}
	if _, err := Run(ctx, j, env); pgerr.Code(err) != pgerr.QueryCanceled {
		t.Fatalf("canceled in a join: %v", err)
	}
}

func TestWindows(t *testing.T) {
	d := newDB()
	rel := d.table("ev", "ts timestamp", "k text")
	// Times in seconds.
	sec := func(s int64) datum.Datum { return datum.NewTimestamp(s * 1e6) }
	d.rows["ev"] = []datum.Row{{sec(1), str("a")}, {sec(9), str("b")}, {sec(10), str("a")}, {sec(25), str("a")}, {null, str("c")}, {sec(-3), str("b")}}
	s := scanOf(rel)
	ts := datum.TypeTimestamp
	winCols := concat(s.Cols, plan.Schema{{Name: "window_start", Type: ts}, {Name: "window_end", Type: ts}})

	tumble := &planner.WindowAssign{Input: s, Kind: plan.Tumble, TimeCol: 0, Size: 10e6, Slide: 10e6, Cols: winCols}
	checkBag(t, "tumble", run(t, tumble, d.env()), []datum.Row{
		{sec(1), str("a"), sec(0), sec(10)},
		{sec(9), str("b"), sec(0), sec(10)},
		{sec(10), str("a"), sec(10), sec(20)},
		{sec(25), str("a"), sec(20), sec(30)},
		{sec(-3), str("b"), sec(-10), sec(0)},
	})
	hop := &planner.WindowAssign{Input: s, Kind: plan.Hop, TimeCol: 0, Size: 10e6, Slide: 5e6, Offset: 1e6, Cols: winCols}
	got := run(t, hop, d.env())
	// Brute force: every window start k*5+1 with start <= t < start+10.
	var want []datum.Row
	for _, r := range d.rows["ev"] {
		if r[0].IsNull() {
			continue
		}
		tsec := r[0].Micros() / 1e6
		for k := int64(-10); k <= 10; k++ {
			st := k*5 + 1
			if st <= tsec && tsec < st+10 {
				want = append(want, datum.Row{r[0], r[1], sec(st), sec(st + 10)})
			}
		}
	}
	checkBag(t, "hop", got, want)

	// SELECT k, window_start, window_end, count(*) FROM TUMBLE(...) GROUP BY ...
	agg := &planner.Aggregate{
		Input:      tumble,
		GroupBy:    []expr.Expr{col(winCols, 1), col(winCols, 2), col(winCols, 3)},
		Aggs:       []*expr.AggFunc{{Fn: "count", Typ: datum.TypeInt8}},
		Window:     tumble,
		WindowKeys: []int{1, 2},
		Cols: plan.Schema{winCols[1], winCols[2], winCols[3], {Name: "count", Type: datum.TypeInt8},
			{Name: "pane_timing", Type: datum.TypeText}, {Name: "pane_index", Type: datum.TypeInt8}},
	}
	on := str("ON_TIME")
	checkBag(t, "window aggregate", run(t, agg, d.env()), []datum.Row{
		{str("a"), sec(0), sec(10), i64(1), on, i64(0)},
		{str("b"), sec(0), sec(10), i64(1), on, i64(0)},
		{str("a"), sec(10), sec(20), i64(1), on, i64(0)},
		{str("a"), sec(20), sec(30), i64(1), on, i64(0)},
		{str("b"), sec(-10), sec(0), i64(1), on, i64(0)},
	})
}

func TestScalarSubqueryErrors(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	d.rows["t"] = []datum.Row{{i64(1)}, {i64(2)}}
	s := scanOf(rel)
	sub := &planner.Subquery{Kind: planner.SubqueryScalar, Plan: s, Typ: datum.TypeInt8}
	p := &planner.Project{Input: s, Exprs: []expr.Expr{sub}, Cols: plan.Schema{{Name: "x", Type: datum.TypeInt8}}}
	if code := runErr(p, d.env()); code != "21000" {
		t.Fatalf("two rows: %q, want 21000", code)
	}
	empty := &planner.Filter{Input: s, Pred: boolc(false)}
	sub.Plan = empty
	checkSeq(t, "empty", run(t, p, d.env()), []datum.Row{{null}, {null}})
	// Each subquery runs once per Run, however many rows use it; the
	// outer scan and the subquery's plan share the node: one Scan.
	d.scans = map[string]int{}
	sub.Plan = &planner.Limit{Input: s, Count: intc(1)}
	checkSeq(t, "limited", run(t, p, d.env()), []datum.Row{{i64(1)}, {i64(1)}})
	if d.scans["t"] != 1 {
		t.Fatalf("%d scans, want 1", d.scans["t"])
	}
}

func TestSelfJoinScansOnce(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	d.rows["t"] = []datum.Row{{i64(1)}, {i64(2)}, {null}}
	s := scanOf(rel)
	cols := concat(s.Cols, s.Cols)
	j := &planner.Join{Kind: plan.FullJoin, Left: s, Right: s, On: cmp("=", col(cols, 0), col(cols, 1)), Cols: cols}
	checkBag(t, "self join", run(t, j, d.env()), []datum.Row{{i64(1), i64(1)}, {i64(2), i64(2)}, {null, null}, {null, null}})
	if d.scans["t"] != 1 {
		t.Fatalf("%d scans, want 1", d.scans["t"])
	}
}

func TestUpdateRows(t *testing.T) {
	d := newDB()
	rel := d.table("t", "id bigint", "v bigint")
	d.rows["t"] = []datum.Row{{i64(1), i64(10)}, {i64(2), i64(20)}, {i64(3), null}}
	s := scanOf(rel)
	up := &planner.Update{Target: rel, Input: &planner.Filter{Input: s, Pred: cmp(">=", col(s.Cols, 0), intc(2))},
		Cols: []int{1}, Exprs: []expr.Expr{call("+", datum.TypeInt8, col(s.Cols, 1), col(s.Cols, 0))}}
	old, new, err := UpdateRows(context.Background(), up, d.env())
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, "old", old, []datum.Row{{i64(2), i64(20)}, {i64(3), null}})
	checkSeq(t, "new", new, []datum.Row{{i64(2), i64(22)}, {i64(3), null}})
	checkSeq(t, "run", run(t, up, d.env()), old)
	// The scanned rows are untouched.
	checkSeq(t, "table", d.rows["t"], []datum.Row{{i64(1), i64(10)}, {i64(2), i64(20)}, {i64(3), null}})
}

func TestScanErrors(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint", "b bigint")
	d.rows["t"] = []datum.Row{{i64(1)}}
	if code := runErr(scanOf(rel), d.env()); code != pgerr.InternalError {
		t.Fatalf("short row: %q", code)
	}
	if code := runErr(scanOf(rel), &Env{}); code != pgerr.InternalError {
		t.Fatalf("no Scan: %q", code)
	}
	bad := &catalog.Relation{Kind: catalog.RelTable, Name: "missing"}
	if code := runErr(scanOf(bad), d.env()); code != pgerr.UndefinedTable {
		t.Fatalf("scan error: %q", code)
	}
}

// TestGroupingEquality checks that values PostgreSQL groups together are
// grouped together: NULLs, 0.0 and -0.0, NaNs.
func TestGroupingEquality(t *testing.T) {
	d := newDB()
	rel := d.table("t", "f double")
	d.rows["t"] = []datum.Row{{datum.NewFloat(0)}, {datum.NewFloat(negZero())}, {null}, {datum.NewFloat(nan())}, {null}, {datum.NewFloat(nan())}}
	s := scanOf(rel)
	rows := run(t, &planner.Distinct{Input: s}, d.env())
	if len(rows) != 3 {
		t.Fatalf("distinct: %v", rows)
	}
}

// TestSubquerySharedPlan: one plan used by an EXISTS (which reads one row)
// and by an IN (which needs them all).
func TestSubquerySharedPlan(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	d.rows["t"] = []datum.Row{{i64(1)}, {i64(2)}, {i64(3)}}
	s := scanOf(rel)
	sub := project(&planner.Filter{Input: s, Pred: cmp(">", col(s.Cols, 0), intc(1))}, 0)
	ex := &planner.Subquery{Kind: planner.SubqueryExists, Plan: sub, Typ: datum.TypeBool}
	in := &planner.Subquery{Kind: planner.SubqueryIn, Plan: sub, X: col(s.Cols, 0), Typ: datum.TypeBool}
	f := &planner.Filter{Input: scanOf(rel), Pred: and(ex, in)}
	checkSeq(t, "exists and in", run(t, f, d.env()), []datum.Row{{i64(2)}, {i64(3)}})
	not := &planner.Subquery{Kind: planner.SubqueryExists, Plan: sub, Not: true, Typ: datum.TypeBool}
	checkSeq(t, "not exists", run(t, &planner.Filter{Input: s, Pred: not}, d.env()), nil)
}

func TestCompile(t *testing.T) {
	d := newDB()
	rel := d.table("t", "a bigint")
	d.rows["t"] = []datum.Row{{i64(1)}, {i64(5)}, {i64(3)}}
	s := scanOf(rel)
	maxAgg, err := expr.ResolveAgg("max", col(s.Cols, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	mx := &planner.Subquery{Kind: planner.SubqueryScalar, Typ: datum.TypeInt8,
		Plan: &planner.Aggregate{Input: s, Aggs: []*expr.AggFunc{maxAgg}, Cols: plan.Schema{{Name: "max", Type: datum.TypeInt8}}}}
	env := d.env()
	env.Params = []datum.Datum{i64(2)}
	// a = (SELECT max(a) FROM t) - $1
	pred, err := CompilePredicate(context.Background(), cmp("=", col(s.Cols, 0), call("-", datum.TypeInt8, mx, &expr.Param{Index: 1, Typ: datum.TypeInt8})), env)
	if err != nil {
		t.Fatal(err)
	}
	var got []datum.Row
	for _, r := range d.rows["t"] {
		if ok, err := pred(r); err != nil {
			t.Fatal(err)
		} else if ok {
			got = append(got, r)
		}
	}
	checkSeq(t, "predicate", got, []datum.Row{{i64(3)}})
	env.Now = func() int64 { return 7 }
	ev, err := Compile(context.Background(), &expr.Call{Fn: "now", Typ: datum.TypeTimestampTZ}, env)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ev(nil); err != nil || v.Micros() != 7 {
		t.Fatalf("now() = %v, %v", v, err)
	}
}
