package expr

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/weir-sql/weir/datum"
)

const benchRows = 1 << 20

// benchData is a table (device TEXT, temp DOUBLE, rpm INT, ts TIMESTAMP).
func benchData() []datum.Row {
	rng := rand.New(rand.NewSource(1))
	backing := make([]datum.Datum, 4*benchRows)
	rows := make([]datum.Row, benchRows)
	devices := make([]string, 100)
	for i := range devices {
		devices[i] = fmt.Sprintf("device-%02d", i)
	}
	devices[7] = "x"
	for i := range rows {
		r := backing[4*i : 4*i+4 : 4*i+4]
		r[0] = datum.NewString(devices[rng.Intn(len(devices))])
		if rng.Intn(50) == 0 {
			r[1] = datum.Null
		} else {
			r[1] = datum.NewFloat(60 + rng.Float64()*40)
		}
		r[2] = datum.NewInt(rng.Int63n(6000))
		r[3] = datum.NewTimestamp(1710498030123456 + int64(i)*1000)
		rows[i] = r
	}
	return rows
}

func benchExprs(b *testing.B) (filter, project, trunc Expr) {
	device := &Col{Idx: 0, Typ: datum.TypeText, Name: "device"}
	temp := &Col{Idx: 1, Typ: datum.TypeFloat8, Name: "temp"}
	rpm := &Col{Idx: 2, Typ: datum.TypeInt4, Name: "rpm"}
	ts := &Col{Idx: 3, Typ: datum.TypeTimestamp, Name: "ts"}
	must := func(e Expr, err error) Expr {
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	i4 := func(v int64) Expr { return &Const{Val: datum.NewInt(v), Typ: datum.TypeInt4} }
	filter = must(ResolveCall("and", []Expr{
		must(ResolveCall(">", []Expr{temp, &Const{Val: datum.NewFloat(80.5), Typ: datum.TypeNumeric}})),
		must(ResolveCall("<>", []Expr{device, &Const{Val: datum.NewString("x"), Typ: datum.TypeUnknown}})),
	}))
	project = must(ResolveCall("+", []Expr{must(ResolveCall("*", []Expr{rpm, i4(2)})), i4(1)}))
	trunc = must(ResolveCall("date_trunc", []Expr{&Const{Val: datum.NewString("minute"), Typ: datum.TypeUnknown}, ts}))
	return filter, project, trunc
}

// rowTimer reports wall and CPU nanoseconds per row. On a loaded machine
// wall time includes time spent waiting for a CPU; cpu-ns/row does not.
type rowTimer struct {
	b    *testing.B
	rows int
	cpu0 int64
}

func startRows(b *testing.B, rows int) rowTimer {
	b.ReportAllocs()
	b.ResetTimer()
	return rowTimer{b: b, rows: rows, cpu0: cpuNanos()}
}

func (t rowTimer) stop() {
	n := float64(t.b.N) * float64(t.rows)
	cpu := cpuNanos() - t.cpu0
	t.b.StopTimer()
	t.b.ReportMetric(float64(t.b.Elapsed().Nanoseconds())/n, "ns/row")
	if cpu > 0 {
		t.b.ReportMetric(float64(cpu)/n, "cpu-ns/row")
	}
}

// BenchmarkFilterProject evaluates `temp > 80.5 AND device <> 'x'` as a
// filter and `rpm * 2 + 1` as a projection over 1M rows. Each iteration is
// one pass over all rows; ns/row is the cost per row, allocs/op the
// allocations per pass (so allocs/row = allocs/op / 1M).
func BenchmarkFilterProject(b *testing.B) {
	all := benchData()
	for _, size := range []struct {
		name string
		n    int
	}{{"1M", len(all)}, {"4K-cached", 4096}} {
		b.Run(size.name, func(b *testing.B) { benchFilterProject(b, all[:size.n]) })
	}
}

func benchFilterProject(b *testing.B, rows []datum.Row) {
	filter, project, trunc := benchExprs(b)
	pred, err := CompilePredicate(filter)
	if err != nil {
		b.Fatal(err)
	}
	proj, err := Compile(project)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := Compile(trunc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-read-rpm", func(b *testing.B) {
		// Memory floor: read one column of every row, no expression.
		tm := startRows(b, len(rows))
		var sum int64
		for i := 0; i < b.N; i++ {
			for _, r := range rows {
				sum += r[2].Int()
			}
		}
		tm.stop()
		_ = sum
	})
	b.Run("filter", func(b *testing.B) {
		tm := startRows(b, len(rows))
		n := 0
		for i := 0; i < b.N; i++ {
			for _, r := range rows {
				if ok, _ := pred(r); ok {
					n++
				}
			}
		}
		tm.stop()
		_ = n
	})
	b.Run("project", func(b *testing.B) {
		tm := startRows(b, len(rows))
		var sum int64
		for i := 0; i < b.N; i++ {
			for _, r := range rows {
				v, _ := proj(r)
				sum += v.Int()
			}
		}
		tm.stop()
		_ = sum
	})
	b.Run("filter+project", func(b *testing.B) {
		tm := startRows(b, len(rows))
		var sum int64
		for i := 0; i < b.N; i++ {
			for _, r := range rows {
				if ok, _ := pred(r); ok {
					v, _ := proj(r)
					sum += v.Int()
				}
			}
		}
		tm.stop()
		_ = sum
	})
	b.Run("date_trunc", func(b *testing.B) {
		tm := startRows(b, len(rows))
		var sum int64
		for i := 0; i < b.N; i++ {
			for _, r := range rows {
				v, _ := tr(r)
				sum += v.Micros()
			}
		}
		tm.stop()
		_ = sum
	})
	b.Run("generic-filter", func(b *testing.B) {
		// The unspecialized compilation, for comparison.
		c := &compiler{generic: true}
		bl, err := c.filter(filter)
		if err != nil {
			b.Fatal(err)
		}
		tm := startRows(b, len(rows))
		n := 0
		for i := 0; i < b.N; i++ {
			for _, r := range rows {
				if ok, _, _ := bl(r); ok {
					n++
				}
			}
		}
		tm.stop()
		_ = n
	})
}

// BenchmarkAccSet is the aggregation hot path: per row, one AccSet lookup
// (here: a slice of 1000 groups) and Add on count(*), sum(rpm), avg(temp),
// max(temp).
func BenchmarkAccSet(b *testing.B) {
	rows := benchData()
	rpm := &Col{Idx: 2, Typ: datum.TypeInt4, Name: "rpm"}
	temp := &Col{Idx: 1, Typ: datum.TypeFloat8, Name: "temp"}
	var aggs []*AggFunc
	for _, c := range []struct {
		fn  string
		arg Expr
	}{{"count", nil}, {"sum", rpm}, {"avg", temp}, {"max", temp}} {
		a, err := ResolveAgg(c.fn, c.arg, false)
		if err != nil {
			b.Fatal(err)
		}
		aggs = append(aggs, a)
	}
	f := NewAccSet(aggs)
	groups := make([]AccSet, 1000)
	for i := range groups {
		groups[i] = f.New()
	}
	args := make([]datum.Datum, 4)
	one := datum.NewBool(true)
	tm := startRows(b, len(rows))
	for i := 0; i < b.N; i++ {
		for j, r := range rows {
			args[0], args[1], args[2], args[3] = one, r[2], r[1], r[1]
			if err := groups[j%len(groups)].AddRow(args); err != nil {
				b.Fatal(err)
			}
		}
	}
	tm.stop()
}
