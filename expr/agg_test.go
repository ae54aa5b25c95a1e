package expr

import (
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// aggCase is an aggregate over one column of random data with a
// brute-force reference.
type aggCase struct {
	fn       string
	typ      datum.Type
	distinct bool
}

func randValue(rng *rand.Rand, t datum.Type, nullRate float64) datum.Datum {
	if rng.Float64() < nullRate {
		return datum.Null
	}
	switch t {
	case datum.TypeInt4:
		return datum.NewInt(rng.Int63n(2001) - 1000)
	case datum.TypeInt8:
		return datum.NewInt(rng.Int63n(1<<40) - 1<<39)
	case datum.TypeFloat8, datum.TypeNumeric:
		switch rng.Intn(20) {
		case 0:
			return datum.NewFloat(0)
		case 1:
			return datum.NewFloat(math.Copysign(0, -1))
		}
		return datum.NewFloat(math.Round(rng.NormFloat64()*1e4) / 100)
	case datum.TypeText:
		return datum.NewString(string(rune('a' + rng.Intn(12))))
	case datum.TypeBool:
		return datum.NewBool(rng.Intn(4) != 0)
	case datum.TypeTimestamp:
		return datum.NewTimestamp(rng.Int63n(1e15))
	case datum.TypeInterval:
		return datum.NewInterval(int32(rng.Intn(3)), rng.Int63n(1e11))
	}
	panic("type")
}

// bruteForce computes the aggregate from all values directly.
func bruteForce(c aggCase, vals []datum.Datum) datum.Datum {
	var xs []datum.Datum
	seen := map[string]bool{}
	for _, v := range vals {
		if v.IsNull() && c.fn != "count(*)" {
			continue
		}
		if c.distinct {
			k := string(datum.AppendKey(nil, normalizeDistinct(v)))
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		xs = append(xs, v)
	}
	n := len(xs)
	if c.fn == "count" || c.fn == "count(*)" {
		return datum.NewInt(int64(n))
	}
	if n == 0 {
		return datum.Null
	}
	sumF := func() float64 {
		s := 0.0
		for _, x := range xs {
			s += x.AsFloat()
		}
		return s
	}
	switch c.fn {
	case "sum":
		switch c.typ.Kind() {
		case datum.KindInt:
			var s int64
			for _, x := range xs {
				s += x.Int()
			}
			return datum.NewInt(s)
		case datum.KindInterval:
			acc := xs[0]
			for _, x := range xs[1:] {
				acc, _ = intervalAdd(acc, x, 1)
			}
			return acc
		}
		return datum.NewFloat(sumF())
	case "avg":
		if c.typ.Kind() == datum.KindInterval {
			acc := xs[0]
			for _, x := range xs[1:] {
				acc, _ = intervalAdd(acc, x, 1)
			}
			r, _ := intervalDiv(acc.Months(), acc.Micros(), float64(n))
			return r
		}
		return datum.NewFloat(sumF() / float64(n))
	case "min", "max":
		best := xs[0]
		for _, x := range xs[1:] {
			c0 := datum.Compare(x, best)
			if (c.fn == "min" && c0 < 0) || (c.fn == "max" && c0 > 0) {
				best = x
			}
		}
		return best
	case "var_pop", "var_samp", "stddev_pop", "stddev_samp":
		if (c.fn == "var_samp" || c.fn == "stddev_samp") && n < 2 {
			return datum.Null
		}
		mean := sumF() / float64(n)
		ss := 0.0
		for _, x := range xs {
			d := x.AsFloat() - mean
			ss += d * d
		}
		den := float64(n)
		if c.fn == "var_samp" || c.fn == "stddev_samp" {
			den--
		}
		v := ss / den
		if c.fn == "stddev_pop" || c.fn == "stddev_samp" {
			v = math.Sqrt(v)
		}
		return datum.NewFloat(v)
	case "bool_and", "bool_or":
		r := c.fn == "bool_and"
		for _, x := range xs {
			if c.fn == "bool_and" {
				r = r && x.Bool()
			} else {
				r = r || x.Bool()
			}
		}
		return datum.NewBool(r)
	}
	panic(c.fn)
}

func closeEnough(a, b datum.Datum) bool {
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	if a.Kind() != b.Kind() {
		return false
	}
	if a.Kind() == datum.KindFloat {
		x, y := a.Float(), b.Float()
		if x == y {
			return true
		}
		return math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
	}
	return datum.Compare(a, b) == 0
}

func resolveAggCase(t *testing.T, c aggCase) *AggFunc {
	t.Helper()
	var arg Expr
	fn := c.fn
	if fn == "count(*)" {
		fn = "count"
	} else {
		arg = &Col{Idx: 0, Typ: c.typ, Name: "x"}
	}
	a, err := ResolveAgg(fn, arg, c.distinct)
	if err != nil {
		t.Fatalf("ResolveAgg(%s): %v", c.fn, err)
	}
	return a
}

var aggCases = []aggCase{
	{"count(*)", datum.TypeInt4, false},
	{"count", datum.TypeText, false},
	{"count", datum.TypeText, true},
	{"count", datum.TypeFloat8, true},
	{"sum", datum.TypeInt4, false},
	{"sum", datum.TypeInt8, false},
	{"sum", datum.TypeInt4, true},
	{"sum", datum.TypeFloat8, false},
	{"sum", datum.TypeNumeric, false},
	{"sum", datum.TypeInterval, false},
	{"avg", datum.TypeInt4, false},
	{"avg", datum.TypeFloat8, false},
	{"avg", datum.TypeFloat8, true},
	{"avg", datum.TypeInterval, false},
	{"min", datum.TypeInt8, false},
	{"max", datum.TypeInt8, false},
	{"min", datum.TypeText, false},
	{"max", datum.TypeTimestamp, false},
	{"max", datum.TypeFloat8, true},
	{"var_pop", datum.TypeFloat8, false},
	{"var_samp", datum.TypeInt4, false},
	{"stddev_pop", datum.TypeInt8, false},
	{"stddev_samp", datum.TypeFloat8, false},
	{"stddev_samp", datum.TypeFloat8, true},
	{"bool_and", datum.TypeBool, false},
	{"bool_or", datum.TypeBool, false},
}

// TestAggRandom checks every aggregate against a brute-force computation,
// single pass and as a merge of encoded/decoded partials, on random data.
func TestAggRandom(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, c := range aggCases {
		a := resolveAggCase(t, c)
		for iter := 0; iter < 30; iter++ {
			n := rng.Intn(200)
			if iter < 3 {
				n = iter // 0, 1 and 2 rows: NULL results and var_samp edges
			}
			nullRate := []float64{0, 0.1, 0.9}[rng.Intn(3)]
			vals := make([]datum.Datum, n)
			for i := range vals {
				vals[i] = randValue(rng, c.typ, nullRate)
			}
			feed := func(acc Acc, v datum.Datum) {
				if c.fn == "count(*)" {
					v = datum.NewBool(true)
				}
				if err := acc.Add(v); err != nil {
					t.Fatalf("%s Add: %v", a, err)
				}
			}
			single := NewAcc(a)
			for _, v := range vals {
				feed(single, v)
			}
			want := bruteForce(c, vals)
			if got := single.Result(); !closeEnough(got, want) {
				t.Fatalf("%s over %v: got %s, want %s", a, vals, fmtValue(got), fmtValue(want))
			}
			// Partials: split at random, round-trip each through its
			// encoding, merge in random order.
			k := 1 + rng.Intn(5)
			parts := make([]Acc, k)
			for i := range parts {
				parts[i] = NewAcc(a)
			}
			for _, v := range vals {
				feed(parts[rng.Intn(k)], v)
			}
			merged := NewAcc(a)
			for _, i := range rng.Perm(k) {
				enc := parts[i].Append([]byte{0xAB})
				dec := NewAcc(a)
				rest, err := dec.Decode(enc[1:])
				if err != nil || len(rest) != 0 {
					t.Fatalf("%s Decode: %v, %d left", a, err, len(rest))
				}
				if string(dec.Append(nil)) != string(enc[1:]) {
					t.Fatalf("%s: encoding is not deterministic", a)
				}
				if err := merged.Merge(dec); err != nil {
					t.Fatal(err)
				}
			}
			if got, s := merged.Result(), single.Result(); !closeEnough(got, s) {
				t.Fatalf("%s: merged partials %s != single pass %s", a, fmtValue(got), fmtValue(s))
			}
		}
	}
}

// TestAccSet runs all aggregates together through an AccSet, as the
// executor does, and compares with individual accumulators.
func TestAccSet(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	aggs := make([]*AggFunc, len(aggCases))
	for i, c := range aggCases {
		aggs[i] = resolveAggCase(t, c)
	}
	f := NewAccSet(aggs)
	groups := map[int]AccSet{}
	singles := map[int][]Acc{}
	args := make([]datum.Datum, len(aggs))
	for r := 0; r < 2000; r++ {
		g := rng.Intn(7)
		s, ok := groups[g]
		if !ok {
			s = f.New()
			groups[g] = s
			for _, a := range aggs {
				singles[g] = append(singles[g], NewAcc(a))
			}
		}
		for i, c := range aggCases {
			args[i] = randValue(rng, c.typ, 0.1)
			if c.fn == "count(*)" {
				args[i] = datum.NewBool(true)
			}
			if err := singles[g][i].Add(args[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddRow(args); err != nil {
			t.Fatal(err)
		}
	}
	// Merge all groups into one via encoded state.
	total := f.New()
	keys := make([]int, 0, len(groups))
	for g := range groups {
		keys = append(keys, g)
	}
	sort.Ints(keys)
	for _, g := range keys {
		s := groups[g]
		for i := range aggs {
			if got, want := s.Result(i), singles[g][i].Result(); !closeEnough(got, want) {
				t.Fatalf("group %d %s: AccSet %s, Acc %s", g, aggs[i], fmtValue(got), fmtValue(want))
			}
		}
		dec, rest, err := f.Decode(s.Append(nil))
		if err != nil || len(rest) != 0 {
			t.Fatalf("Decode: %v", err)
		}
		if err := total.Merge(dec); err != nil {
			t.Fatal(err)
		}
	}
	res := total.AppendResults(nil)
	if res[0].Int() != 2000 {
		t.Errorf("count(*) over all groups = %v", res[0])
	}
	total.Reset()
	if r := total.AppendResults(nil); r[0].Int() != 0 || !r[4].IsNull() {
		t.Errorf("after Reset: %v", r)
	}

	// One allocation per group; none per row (without DISTINCT).
	plain := []*AggFunc{aggs[0], aggs[4], aggs[7], aggs[10], aggs[14], aggs[17], aggs[19], aggs[24]}
	pf := NewAccSet(plain)
	if n := testing.AllocsPerRun(100, func() { _ = pf.New() }); n != 1 {
		t.Errorf("New allocates %v times", n)
	}
	s := pf.New()
	row := []datum.Datum{datum.NewBool(true), datum.NewInt(3), datum.NewFloat(1.5), datum.NewInt(4),
		datum.NewInt(5), datum.NewTimestamp(6), datum.NewFloat(7), datum.NewBool(true)}
	if n := testing.AllocsPerRun(1000, func() { _ = s.AddRow(row) }); n != 0 {
		t.Errorf("AddRow allocates %v times", n)
	}
}

func TestAggEdges(t *testing.T) {
	x := &Col{Idx: 0, Typ: datum.TypeInt8, Name: "x"}
	sum, _ := ResolveAgg("sum", x, false)
	acc := NewAcc(sum)
	if err := acc.Add(datum.NewInt(math.MaxInt64)); err != nil {
		t.Fatal(err)
	}
	if err := acc.Add(datum.NewInt(1)); pgerr.Code(err) != pgerr.NumericValueOutOfRange {
		t.Errorf("sum overflow: %v", err)
	}
	if got := acc.Result(); got.Int() != math.MaxInt64 {
		t.Errorf("state changed by a failed Add: %v", got)
	}
	other := NewAcc(sum)
	_ = other.Add(datum.NewInt(5))
	if err := acc.Merge(other); pgerr.Code(err) != pgerr.NumericValueOutOfRange {
		t.Errorf("merge overflow: %v", err)
	}

	for _, c := range []struct {
		fn   string
		vals []datum.Datum
		want string
	}{
		{"count", nil, "0"},
		{"sum", nil, "NULL"},
		{"avg", []datum.Datum{datum.Null}, "NULL"},
		{"var_samp", []datum.Datum{datum.NewInt(3)}, "NULL"},
		{"var_pop", []datum.Datum{datum.NewInt(3)}, "0"},
		{"stddev_samp", []datum.Datum{datum.NewInt(1), datum.NewInt(3)}, "1.4142135623730951"},
		{"avg", []datum.Datum{datum.NewInt(1), datum.NewInt(2)}, "1.5"},
		{"max", []datum.Datum{datum.Null, datum.NewInt(2), datum.NewInt(-2)}, "2"},
	} {
		a, err := ResolveAgg(c.fn, x, false)
		if err != nil {
			t.Fatal(err)
		}
		acc := NewAcc(a)
		for _, v := range c.vals {
			_ = acc.Add(v)
		}
		if got := fmtValue(acc.Result()); got != c.want {
			t.Errorf("%s(%v) = %s, want %s", c.fn, c.vals, got, c.want)
		}
	}

	// sum(numeric) is normalized like NUMERIC arithmetic.
	nx := &Col{Idx: 0, Typ: datum.TypeNumeric, Name: "n"}
	ns, _ := ResolveAgg("sum", nx, false)
	acc = NewAcc(ns)
	for i := 0; i < 10; i++ {
		_ = acc.Add(datum.NewFloat(0.1))
	}
	_ = acc.Add(datum.NewFloat(0.2))
	if got := acc.Result().Float(); got != 1.2 {
		t.Errorf("sum(numeric) = %v", got)
	}

	// Result types and resolution errors.
	for _, c := range []struct {
		fn   string
		arg  Expr
		want string // type, or SQLSTATE
	}{
		{"sum", &Col{Typ: datum.TypeInt4}, "BIGINT"},
		{"sum", &Col{Typ: datum.TypeFloat4}, "REAL"},
		{"sum", &Col{Typ: datum.TypeNumeric}, "NUMERIC"},
		{"avg", &Col{Typ: datum.TypeInt2}, "DOUBLE"},
		{"avg", &Col{Typ: datum.TypeInterval}, "INTERVAL"},
		{"min", &Col{Typ: datum.TypeTimestamp}, "TIMESTAMP"},
		{"stddev", &Col{Typ: datum.TypeInt4}, "DOUBLE"},
		{"every", &Col{Typ: datum.TypeBool}, "BOOLEAN"},
		{"count", &Const{Val: datum.NewString("x"), Typ: datum.TypeUnknown}, "BIGINT"},
		{"sum", &Col{Typ: datum.TypeText}, "42883"},
		{"avg", &Const{Val: datum.NewString("1"), Typ: datum.TypeUnknown}, "42725"},
		{"min", &Col{Typ: datum.TypeBool}, "42883"},
		{"bool_and", &Col{Typ: datum.TypeInt4}, "42883"},
		{"median", &Col{Typ: datum.TypeInt4}, "42883"},
		{"sum", nil, "42883"},
	} {
		a, err := ResolveAgg(c.fn, c.arg, false)
		got := ""
		if err != nil {
			got = pgerr.Code(err)
		} else {
			got = a.Typ.String()
		}
		if got != c.want {
			t.Errorf("ResolveAgg(%s, %v) = %s, want %s", c.fn, c.arg, got, c.want)
		}
	}
	if !IsAggregate("COUNT") || !IsAggregate("every") || IsAggregate("lower") {
		t.Errorf("IsAggregate")
	}

	// Corrupt state is an error, not a panic.
	s := NewAccSet([]*AggFunc{sum})
	if _, _, err := s.Decode([]byte{0x05}); err == nil {
		t.Errorf("truncated state decoded")
	}
	d, _ := ResolveAgg("count", x, true)
	if _, err := NewAcc(d).Decode([]byte{0x03, 0x01}); err == nil {
		t.Errorf("truncated distinct state decoded")
	}
}
