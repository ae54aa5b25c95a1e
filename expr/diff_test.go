package expr

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

var diffCols = []struct {
	name string
	typ  datum.Type
}{
	{"i", datum.TypeInt4}, {"b", datum.TypeInt8}, {"s", datum.TypeInt2}, {"f", datum.TypeFloat8},
	{"n", datum.TypeNumeric}, {"t", datum.TypeText}, {"ts", datum.TypeTimestamp},
	{"d", datum.TypeDate}, {"bo", datum.TypeBool}, {"iv", datum.TypeInterval},
}

func diffValue(rng *rand.Rand, t datum.Type) datum.Datum {
	if rng.Intn(6) == 0 {
		return datum.Null
	}
	switch t {
	case datum.TypeInt2:
		return datum.NewInt([]int64{0, 1, -1, 32767, -32768, 7}[rng.Intn(6)])
	case datum.TypeInt4:
		return datum.NewInt([]int64{0, 1, -1, 2147483647, -2147483648, 7, 100, -3}[rng.Intn(8)])
	case datum.TypeInt8:
		return datum.NewInt([]int64{0, 1, -1, math.MaxInt64, math.MinInt64, 9000000000, 42}[rng.Intn(7)])
	case datum.TypeFloat8, datum.TypeNumeric:
		return datum.NewFloat([]float64{0, -0.0, 1.5, -2.25, 1e308, math.NaN(), math.Inf(1), 80.5, 1e-300}[rng.Intn(9)])
	case datum.TypeText:
		return datum.NewString([]string{"", "x", "abc", "Hello World", "héllo", "%_", "a,b,c"}[rng.Intn(7)])
	case datum.TypeTimestamp:
		return datum.NewTimestamp([]int64{0, -1, 1710498030123456, -86400000001, 253402300799000000}[rng.Intn(5)])
	case datum.TypeDate:
		return datum.NewDate([]int64{0, -1, 19782, 2932896}[rng.Intn(4)])
	case datum.TypeBool:
		return datum.NewBool(rng.Intn(2) == 0)
	case datum.TypeInterval:
		return datum.NewInterval(int32(rng.Intn(3)-1), []int64{0, 3600000000, -86400000000, 1}[rng.Intn(4)])
	}
	panic(t)
}

func diffLeaves(rng *rand.Rand) []Expr {
	var out []Expr
	for i, c := range diffCols {
		out = append(out, &Col{Idx: i, Typ: c.typ, Name: c.name})
		v := diffValue(rng, c.typ)
		out = append(out, &Const{Val: v, Typ: c.typ})
	}
	for _, s := range []string{"1", "2.5", "x", "%b%", "hour", "2024-01-01", "1 day", "t"} {
		out = append(out, &Const{Val: datum.NewString(s), Typ: datum.TypeUnknown})
	}
	out = append(out, &Const{Val: datum.Null, Typ: datum.TypeUnknown})
	return out
}

var diffOps = []struct {
	fn    string
	arity int
}{
	{"+", 2}, {"-", 2}, {"*", 2}, {"/", 2}, {"%", 2}, {"neg", 1}, {"^", 2},
	{"=", 2}, {"<>", 2}, {"<", 2}, {"<=", 2}, {">", 2}, {">=", 2},
	{"is distinct from", 2}, {"and", 2}, {"or", 2}, {"not", 1}, {"is null", 1}, {"is not true", 1},
	{"in", 3}, {"not in", 4}, {"like", 2}, {"ilike", 2}, {"||", 2}, {"~", 2},
	{"coalesce", 2}, {"nullif", 2}, {"greatest", 3}, {"least", 2}, {"abs", 1}, {"round", 1},
	{"date_trunc", 2}, {"extract", 2}, {"lower", 1}, {"length", 1}, {"substring", 3}, {"left", 2},
	{"split_part", 3}, {"concat", 3}, {"mod", 2}, {"sqrt", 1}, {"floor", 1},
}

// TestDifferential builds random resolved expressions and checks that the
// specialized compilation, the generic one and the folded one agree on
// random rows (values and SQLSTATEs).
func TestDifferential(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	pool := diffLeaves(rng)
	built := 0
	for attempt := 0; attempt < 20000 && built < 1500; attempt++ {
		op := diffOps[rng.Intn(len(diffOps))]
		args := make([]Expr, op.arity)
		for i := range args {
			args[i] = pool[rng.Intn(len(pool))]
		}
		var e Expr
		var err error
		switch rng.Intn(12) {
		case 0:
			types := []datum.Type{datum.TypeInt4, datum.TypeInt8, datum.TypeFloat8, datum.TypeNumeric, datum.TypeText, datum.TypeDate, datum.TypeTimestamp, datum.TypeBool}
			e, err = ResolveCast(args[0], types[rng.Intn(len(types))])
		case 1:
			var whens []When
			for i := 0; i+1 < len(args); i += 2 {
				whens = append(whens, When{Cond: args[i], Then: args[i+1]})
			}
			if len(whens) == 0 {
				continue
			}
			e, err = ResolveCase(nil, whens, pool[rng.Intn(len(pool))])
		default:
			e, err = ResolveCall(op.fn, args)
		}
		if err != nil {
			continue
		}
		if exprSize(e) > 12 {
			continue
		}
		pool = append(pool, e)
		built++
	}
	if built < 500 {
		t.Fatalf("only %d expressions built", built)
	}
	rows := make([]datum.Row, 40)
	for i := range rows {
		rows[i] = make(datum.Row, len(diffCols))
		for j, c := range diffCols {
			rows[i][j] = diffValue(rng, c.typ)
		}
	}
	checked := 0
	for _, e := range pool {
		spec, err1 := (&compiler{}).compile(e)
		gen, err2 := (&compiler{generic: true}).compile(e)
		folded, err3 := Compile(e)
		genFolded, err4 := (&compiler{generic: true}).compile(Fold(e))
		// Specialization may reject a bad constant (a date_trunc unit, a
		// regular expression) at compile time where the generic
		// compilation fails (or not, if never reached) per row; either
		// way errors carry a SQLSTATE.
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil && pgerr.Code(err) == pgerr.InternalError {
				t.Errorf("%s: compile error without SQLSTATE: %v", e, err)
			}
		}
		if err2 != nil && pgerr.Code(err1) != pgerr.Code(err2) || err4 != nil && pgerr.Code(err3) != pgerr.Code(err4) {
			t.Errorf("%s: compile errors differ: %v / %v, folded %v / %v", e, err1, err2, err3, err4)
		}
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		var pred Predicate
		if e.Type() == datum.TypeBool {
			var err error
			if pred, err = CompilePredicate(e); err != nil {
				t.Errorf("%s: CompilePredicate: %v", e, err)
			}
		}
		for _, r := range rows {
			v1, e1 := spec(r)
			v2, e2 := gen(r)
			v3, e3 := folded(r)
			v4, e4 := genFolded(r)
			// Specialization never changes a result or an error. Folding
			// never changes a value and never adds an error, but may drop
			// one or hit another (a folded-away subtree is not evaluated,
			// as in PostgreSQL).
			if !sameResult(v1, e1, v2, e2) || !sameResult(v3, e3, v4, e4) ||
				(e3 != nil && e1 == nil) || (e1 == nil && e3 == nil && !sameResult(v1, e1, v3, e3)) {
				t.Errorf("%s on %v: specialized %s/%v, generic %s/%v, folded %s/%v, folded generic %s/%v",
					e, r, fmtValue(v1), e1, fmtValue(v2), e2, fmtValue(v3), e3, fmtValue(v4), e4)
				continue
			}
			if e1 != nil && pgerr.Code(e1) == pgerr.InternalError {
				t.Errorf("%s on %v: error without SQLSTATE: %v", e, r, e1)
			}
			if e1 == nil && !v1.IsNull() && e.Type().Kind() != v1.Kind() && e.Type() != datum.TypeUnknown {
				t.Errorf("%s on %v: value kind %s for type %s", e, r, v1.Kind(), e.Type())
			}
			if pred != nil {
				p, pe := pred(r)
				// A filter may skip evaluating (and failing on) the right
				// side of AND once the left is NULL.
				if pe == nil && e1 == nil && p != (!v1.IsNull() && v1.Bool()) {
					t.Errorf("%s on %v: predicate %v, value %s", e, r, p, fmtValue(v1))
				}
			}
			checked++
		}
	}
	t.Logf("%d expressions, %d evaluations", len(pool), checked)
}

func exprSize(e Expr) int {
	n := 0
	Walk(e, func(Expr) bool { n++; return true })
	return n
}
