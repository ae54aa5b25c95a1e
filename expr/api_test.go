package expr

import (
	"strings"
	"sync"
	"testing"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

func mustResolve(t *testing.T, fn string, args ...Expr) Expr {
	t.Helper()
	e, err := ResolveCall(fn, args)
	if err != nil {
		t.Fatalf("ResolveCall(%s): %v", fn, err)
	}
	return e
}

func col(idx int, typ datum.Type, name string) *Col { return &Col{Idx: idx, Typ: typ, Name: name} }

func lit(s string) *Const { return &Const{Val: datum.NewString(s), Typ: datum.TypeUnknown} }

func TestPrinting(t *testing.T) {
	temp := col(1, datum.TypeFloat8, "temp")
	rpm := col(2, datum.TypeInt4, "rpm")
	device := col(0, datum.TypeText, "device")
	num := &Const{Val: datum.NewFloat(80.5), Typ: datum.TypeNumeric}
	agg := func(fn string, arg Expr, distinct bool) *AggFunc {
		a, err := ResolveAgg(fn, arg, distinct)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cast, err := ResolveCast(rpm, datum.TypeFloat8)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    interface{ String() string }
		want string
	}{
		{mustResolve(t, ">", temp, num), "(temp > 80.5)"},
		{mustResolve(t, "lower", device), "lower(device)"},
		{cast, "CAST(rpm AS DOUBLE)"},
		{agg("count", nil, false), "count(*)"},
		{agg("sum", rpm, false), "sum(rpm)"},
		{agg("COUNT", device, true), "count(DISTINCT device)"},
		{col(3, datum.TypeInt4, ""), "$3"},
		{col(3, datum.TypeInt4, "Odd Name"), `"Odd Name"`},
		{col(3, datum.TypeInt4, "t.x"), "t.x"},
		{&Param{Index: 2, Typ: datum.TypeInt4}, "$2"},
		{&Const{Val: datum.NewString("it's"), Typ: datum.TypeText}, "'it''s'"},
		{&Const{Val: datum.Null, Typ: datum.TypeInt4}, "NULL"},
		{&Const{Val: datum.NewFloat(1), Typ: datum.TypeFloat8}, "1"},
		{&Const{Val: datum.NewTimestamp(0), Typ: datum.TypeTimestampTZ}, "TIMESTAMPTZ '1970-01-01 00:00:00+00'"},
		{mustResolve(t, "and", mustResolve(t, ">", temp, num), mustResolve(t, "<>", device, lit("x"))),
			"((temp > 80.5) AND (device <> 'x'))"},
		{mustResolve(t, "+", mustResolve(t, "*", rpm, &Const{Val: datum.NewInt(2), Typ: datum.TypeInt4}), &Const{Val: datum.NewInt(1), Typ: datum.TypeInt4}),
			"((rpm * 2) + 1)"},
		{mustResolve(t, "not in", rpm, &Const{Val: datum.NewInt(2), Typ: datum.TypeInt4}), "(rpm NOT IN (2))"},
		{mustResolve(t, "is not null", rpm), "(rpm IS NOT NULL)"},
		{mustResolve(t, "current_timestamp"), "now()"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("String() = %s, want %s", got, c.want)
		}
	}
}

func TestCommonType(t *testing.T) {
	for _, c := range []struct {
		in   []datum.Type
		want datum.Type
		ok   bool
	}{
		{[]datum.Type{datum.TypeInt4, datum.TypeInt8}, datum.TypeInt8, true},
		{[]datum.Type{datum.TypeInt8, datum.TypeInt4}, datum.TypeInt8, true},
		{[]datum.Type{datum.TypeInt4, datum.TypeNumeric}, datum.TypeNumeric, true},
		{[]datum.Type{datum.TypeNumeric, datum.TypeFloat8, datum.TypeInt2}, datum.TypeFloat8, true},
		{[]datum.Type{datum.TypeFloat8, datum.TypeInt8}, datum.TypeFloat8, true},
		{[]datum.Type{datum.TypeUnknown, datum.TypeInt4}, datum.TypeInt4, true},
		{[]datum.Type{datum.TypeUnknown, datum.TypeUnknown}, datum.TypeText, true},
		{[]datum.Type{datum.TypeText, datum.TypeVarchar}, datum.TypeText, true},
		{[]datum.Type{datum.TypeVarchar, datum.TypeVarchar}, datum.TypeVarchar, true},
		{[]datum.Type{datum.TypeDate, datum.TypeTimestamp}, datum.TypeTimestamp, true},
		{[]datum.Type{datum.TypeTimestamp, datum.TypeTimestampTZ}, datum.TypeTimestampTZ, true},
		{[]datum.Type{datum.TypeInt4, datum.TypeText}, 0, false},
		{[]datum.Type{datum.TypeBool, datum.TypeInt4}, 0, false},
		{[]datum.Type{datum.TypeUUID, datum.TypeText}, 0, false},
		{nil, 0, false},
	} {
		got, ok := CommonType(c.in...)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("CommonType(%v) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := Builtins().Clone()
	calls := 0
	r.Register("Current_Database", FuncDef{Overloads: []Overload{{
		Result: datum.TypeText,
		Eval: func([]datum.Datum) (datum.Datum, error) {
			calls++
			return datum.NewString("weir"), nil
		},
	}}})
	r.Register("pg_backend_pid", FuncDef{Volatile: true, Overloads: []Overload{{
		Result: datum.TypeInt4,
		Eval:   func([]datum.Datum) (datum.Datum, error) { return datum.NewInt(42), nil },
	}}})
	// Shadow a builtin: lower(text) now shouts.
	r.Register("lower", FuncDef{Overloads: []Overload{{
		Args: []datum.Type{datum.TypeText}, Result: datum.TypeText,
		Eval: func(a []datum.Datum) (datum.Datum, error) { return datum.NewString(strings.ToUpper(a[0].Str())), nil },
	}}})

	if _, err := ResolveCall("current_database", nil); pgerr.Code(err) != pgerr.UndefinedFunction {
		t.Fatalf("builtins must not see registered functions: %v", err)
	}
	e, err := ResolveCallIn(r, "current_database", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Non-volatile: folds to a constant.
	if f := Fold(e); f.String() != "'weir'" {
		t.Errorf("Fold = %s", f)
	}
	// The call remembers its registry: Compile needs none.
	ev, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ev(nil); err != nil || v.Str() != "weir" {
		t.Errorf("eval = %v, %v", v, err)
	}
	pid, err := ResolveCallIn(r, "pg_backend_pid", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Fold(pid).(*Call); !ok {
		t.Errorf("volatile function was folded")
	}
	// A hand-built call resolves through Env.Funcs.
	hand := &Call{Fn: "pg_backend_pid", Typ: datum.TypeInt4}
	if _, err := Compile(hand); pgerr.Code(err) != pgerr.UndefinedFunction {
		t.Errorf("compile without registry: %v", err)
	}
	ev, err = CompileWith(hand, &Env{Funcs: r})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ev(nil); v.Int() != 42 {
		t.Errorf("pg_backend_pid = %v", v)
	}
	low, err := ResolveCallIn(r, "lower", []Expr{lit("abc")})
	if err != nil {
		t.Fatal(err)
	}
	if got := Fold(low).String(); got != "'ABC'" {
		t.Errorf("shadowed lower = %s", got)
	}
	if got := Fold(mustResolve(t, "lower", lit("ABC"))).String(); got != "'abc'" {
		t.Errorf("builtin lower = %s", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Register on Builtins() did not panic")
			}
		}()
		Builtins().Register("x", FuncDef{Overloads: []Overload{{Eval: func([]datum.Datum) (datum.Datum, error) { return datum.Null, nil }}}})
	}()
	names := Builtins().Names()
	for _, want := range []string{"lower", "date_trunc", "coalesce", "substr"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("Names() lacks %s", want)
		}
	}
}

func TestNowNeedsClock(t *testing.T) {
	e := mustResolve(t, "now")
	if _, err := Compile(e); err == nil {
		t.Fatal("Compile(now()) without a clock succeeded")
	}
	ev, err := CompileWith(e, &Env{Now: func() int64 { return 123 }})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ev(nil); v.Micros() != 123 {
		t.Errorf("now() = %v", v)
	}
}

func TestWalkTransformBind(t *testing.T) {
	x := col(0, datum.TypeInt4, "x")
	p := &Param{Index: 1, Typ: datum.TypeUnknown}
	sum := mustResolve(t, "+", x, p) // $1 typed INTEGER by context
	cond := mustResolve(t, ">", sum, &Const{Val: datum.NewInt(10), Typ: datum.TypeInt4})
	var params []*Param
	n := 0
	Walk(cond, func(e Expr) bool {
		n++
		if p, ok := e.(*Param); ok {
			params = append(params, p)
		}
		return true
	})
	if n != 5 || len(params) != 1 || params[0].Typ != datum.TypeInt4 {
		t.Fatalf("Walk: %d nodes, params %v", n, params)
	}
	before := cond.String()
	// Rename x to y without touching the original.
	renamed := Transform(cond, func(e Expr) (Expr, bool) {
		if c, ok := e.(*Col); ok {
			return &Col{Idx: 5, Typ: c.Typ, Name: "y"}, true
		}
		return nil, false
	})
	if cond.String() != before || renamed.String() != "((y + $1) > 10)" {
		t.Fatalf("Transform: %s (original now %s)", renamed, cond)
	}
	// Unchanged subtrees are shared.
	same := Transform(cond, func(Expr) (Expr, bool) { return nil, false })
	if same != cond {
		t.Errorf("Transform copied an unchanged tree")
	}
	// Bind from text (as the wire protocol's text format delivers values).
	bound := BindParams(cond, []datum.Datum{datum.NewString("4")})
	if bound.String() != "((x + 4) > 10)" {
		t.Errorf("BindParams = %s", bound)
	}
	ev, err := Compile(bound)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ev(datum.Row{datum.NewInt(7)}); !v.Bool() {
		t.Errorf("7 + 4 > 10 = %v", v)
	}
	// A bad value becomes a runtime error with a SQLSTATE.
	bad := BindParams(cond, []datum.Datum{datum.NewString("four")})
	ev, err = Compile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev(datum.Row{datum.NewInt(7)}); pgerr.Code(err) != pgerr.InvalidTextRepresentation {
		t.Errorf("bad param: %v", err)
	}
	// Unbound parameters do not compile.
	if _, err := Compile(cond); pgerr.Code(err) != pgerr.UndefinedParameter {
		t.Errorf("unbound param: %v", err)
	}
}

func TestPredicateErrors(t *testing.T) {
	if _, err := CompilePredicate(col(0, datum.TypeInt4, "x")); pgerr.Code(err) != pgerr.DatatypeMismatch {
		t.Errorf("non-boolean predicate: %v", err)
	}
	// Division by zero surfaces from a predicate too.
	x := col(0, datum.TypeInt4, "x")
	e := mustResolve(t, "=", mustResolve(t, "/", &Const{Val: datum.NewInt(1), Typ: datum.TypeInt4}, x), &Const{Val: datum.NewInt(1), Typ: datum.TypeInt4})
	p, err := CompilePredicate(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p(datum.Row{datum.NewInt(0)}); pgerr.Code(err) != pgerr.DivisionByZero {
		t.Errorf("1/x = 1 at x=0: %v", err)
	}
	if ok, err := p(datum.Row{datum.Null}); ok || err != nil {
		t.Errorf("NULL row: %v %v", ok, err)
	}
}

func TestEvaluatorConcurrent(t *testing.T) {
	x := col(0, datum.TypeText, "x")
	e := mustResolve(t, "||", mustResolve(t, "upper", x), mustResolve(t, "regexp_replace", x, lit("[aeiou]"), lit("_"), lit("g")))
	ev, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				v, err := ev(datum.Row{datum.NewString("banana")})
				if err != nil || v.Str() != "BANANAb_n_n_" {
					t.Errorf("got %v %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestHotPathAllocs checks that the specialized paths do not allocate.
func TestHotPathAllocs(t *testing.T) {
	device := col(0, datum.TypeText, "device")
	temp := col(1, datum.TypeFloat8, "temp")
	rpm := col(2, datum.TypeInt4, "rpm")
	ts := col(3, datum.TypeTimestamp, "ts")
	i4 := func(v int64) *Const { return &Const{Val: datum.NewInt(v), Typ: datum.TypeInt4} }
	filter := mustResolve(t, "and",
		mustResolve(t, ">", temp, &Const{Val: datum.NewFloat(80.5), Typ: datum.TypeNumeric}),
		mustResolve(t, "<>", device, lit("x")))
	proj := mustResolve(t, "+", mustResolve(t, "*", rpm, i4(2)), i4(1))
	trunc := mustResolve(t, "date_trunc", lit("minute"), ts)
	inList := mustResolve(t, "in", device, lit("a"), lit("b"), lit("c"))
	caseE, err := ResolveCase(nil, []When{{Cond: mustResolve(t, ">", rpm, i4(100)), Then: mustResolve(t, "*", temp, temp)}}, temp)
	if err != nil {
		t.Fatal(err)
	}
	row := datum.Row{datum.NewString("dev-1"), datum.NewFloat(90), datum.NewInt(1200), datum.NewTimestamp(1710498030123456)}
	p, err := CompilePredicate(filter)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = p(row) }); n != 0 {
		t.Errorf("filter allocates %v per row", n)
	}
	for _, e := range []Expr{proj, trunc, inList, caseE, filter} {
		ev, err := Compile(e)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = ev(row) }); n != 0 {
			t.Errorf("%s allocates %v per row", e, n)
		}
	}
}

// TestMalformedTrees: hand-built trees with wrong arities or unknown names
// are errors, never panics.
func TestMalformedTrees(t *testing.T) {
	x := col(0, datum.TypeInt4, "x")
	for _, e := range []Expr{
		&Call{Fn: "is null", Args: []Expr{x, x}, Typ: datum.TypeBool},
		&Call{Fn: "and", Args: []Expr{x}, Typ: datum.TypeBool},
		&Call{Fn: "=", Args: []Expr{x}, Typ: datum.TypeBool},
		&Call{Fn: "like", Args: []Expr{x}, Typ: datum.TypeBool},
		&Call{Fn: "+", Args: []Expr{x}, Typ: datum.TypeInt4},
		&Call{Fn: "lower", Args: []Expr{x, x}, Typ: datum.TypeText},
		&Call{Fn: "nosuch", Typ: datum.TypeText},
		&AggFunc{Fn: "sum", Arg: x, Typ: datum.TypeInt8},
	} {
		if _, err := Compile(e); err == nil {
			t.Errorf("Compile(%s) succeeded", e)
		}
		if _, err := CompilePredicate(&Call{Fn: "not", Args: []Expr{e}, Typ: datum.TypeBool}); err == nil {
			t.Errorf("CompilePredicate(NOT %s) succeeded", e)
		}
	}
}
