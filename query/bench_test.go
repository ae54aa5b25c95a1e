package query

import (
	"context"
	"testing"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

func benchDB(n, m int) (*db, *planner.Scan, *planner.Scan) {
	d := newDB()
	l := d.table("l", "a bigint", "b bigint", "s text")
	r := d.table("r", "x bigint", "y bigint", "s text")
	for i := range n {
		d.rows["l"] = append(d.rows["l"], datum.Row{i64(int64(i % 1000)), i64(int64(i)), str("abc")})
	}
	for i := range m {
		d.rows["r"] = append(d.rows["r"], datum.Row{i64(int64(i)), i64(int64(i * 7)), str("def")})
	}
	return d, scanOf(l), scanOf(r)
}

func BenchmarkHashJoin(b *testing.B) {
	d, ls, rs := benchDB(1_000_000, 1000)
	cols := concat(ls.Cols, rs.Cols)
	j := &planner.Join{Kind: plan.InnerJoin, Left: ls, Right: rs, On: cmp("=", col(cols, 0), col(cols, 3)), Cols: cols}
	b.ResetTimer()
	for range b.N {
		rows, err := Run(context.Background(), j, d.env())
		if err != nil || len(rows) != 1_000_000 {
			b.Fatal(err, len(rows))
		}
	}
}

func BenchmarkGroupBy(b *testing.B) {
	d, ls, _ := benchDB(1_000_000, 0)
	sum, _ := expr.ResolveAgg("sum", col(ls.Cols, 1), false)
	cnt, _ := expr.ResolveAgg("count", nil, false)
	agg := &planner.Aggregate{Input: ls, GroupBy: []expr.Expr{col(ls.Cols, 0)}, Aggs: []*expr.AggFunc{cnt, sum}}
	b.ResetTimer()
	for range b.N {
		rows, err := Run(context.Background(), agg, d.env())
		if err != nil || len(rows) != 1000 {
			b.Fatal(err, len(rows))
		}
	}
}

func BenchmarkSortLimit(b *testing.B) {
	d, ls, _ := benchDB(1_000_000, 0)
	s := &planner.Sort{Input: ls, Keys: []plan.SortKey{{Col: 1, Desc: true}}}
	lim := &planner.Limit{Input: s, Count: intc(10)}
	b.ResetTimer()
	for range b.N {
		rows, err := Run(context.Background(), lim, d.env())
		if err != nil || len(rows) != 10 {
			b.Fatal(err, len(rows))
		}
	}
}

func BenchmarkSort(b *testing.B) {
	d, ls, _ := benchDB(1_000_000, 0)
	s := &planner.Sort{Input: ls, Keys: []plan.SortKey{{Col: 0}, {Col: 1, Desc: true}}}
	b.ResetTimer()
	for range b.N {
		rows, err := Run(context.Background(), s, d.env())
		if err != nil || len(rows) != 1_000_000 {
			b.Fatal(err, len(rows))
		}
	}
}

func BenchmarkDistinct(b *testing.B) {
	d, ls, _ := benchDB(1_000_000, 0)
	n := &planner.Distinct{Input: project(ls, 0, 2)}
	b.ResetTimer()
	for range b.N {
		rows, err := Run(context.Background(), n, d.env())
		if err != nil || len(rows) != 1000 {
			b.Fatal(err, len(rows))
		}
	}
}
