package expr

import (
	"math"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Set-returning functions: generate_series, unnest, generate_subscripts
// and information_schema._pg_expandarray. The binder resolves a call with
// ResolveSetFunc (in FROM, or in a select list, where several calls run in
// lockstep); the batch evaluator runs it with SetCall.Run over the
// arguments' values of each input row. Like PostgreSQL's, they are strict:
// a NULL argument gives no rows.

// SetCol is an output column of a set-returning function.
type SetCol struct {
	Name string
	Typ  datum.Type
}

// SetCall is a resolved call of a set-returning function. It is plain
// data; Run computes its rows.
type SetCall struct {
	Fn   string // canonical name
	Args []Expr // typed, coerced to the chosen signature
	// Cols are the output columns: one for a function returning a scalar
	// (named after the function), several for one returning a record
	// (_pg_expandarray: x and n).
	Cols []SetCol
}

// String prints the call.
func (s *SetCall) String() string { return s.Fn + "(" + joinExprs(s.Args) + ")" }

// Composite reports whether the function returns records (several
// columns) rather than scalars.
func (s *SetCall) Composite() bool { return len(s.Cols) > 1 }

type setFuncDef struct {
	// resolve types a call (args as written) and returns the coerced
	// arguments and output columns.
	resolve func(name string, args []Expr) ([]Expr, []SetCol, error)
	run     func(call *SetCall, args []datum.Datum, emit func(datum.Row) error) error
}

var setFuncs = map[string]*setFuncDef{
	"generate_series":                    {resolve: resolveSeries, run: runSeries},
	"unnest":                             {resolve: resolveUnnest, run: runUnnest},
	"generate_subscripts":                {resolve: resolveSubscripts, run: runSubscripts},
	"information_schema._pg_expandarray": {resolve: resolveExpand, run: runExpand},
}

func canonicalSetFunc(name string) string {
	name = strings.ToLower(name)
	if n := strings.TrimPrefix(name, "pg_catalog."); n != name {
		return n
	}
	if name == "_pg_expandarray" {
		return "information_schema._pg_expandarray"
	}
	return name
}

// IsSetFunc reports whether name (any case, possibly schema-qualified) is
// a set-returning function.
func IsSetFunc(name string) bool {
	_, ok := setFuncs[canonicalSetFunc(name)]
	return ok
}

// ResolveSetFunc types a call of the set-returning function name.
func ResolveSetFunc(name string, args []Expr) (*SetCall, error) {
	fn := canonicalSetFunc(name)
	def, ok := setFuncs[fn]
	if !ok {
		return nil, errNoFunction(name, argTypes(args))
	}
	out, cols, err := def.resolve(fn, args)
	if err != nil {
		return nil, err
	}
	return &SetCall{Fn: fn, Args: out, Cols: cols}, nil
}

// Run computes the call's rows for argument values args (of the types of
// s.Args), passing each (one value per column) to emit. An error from
// emit stops it and is returned.
func (s *SetCall) Run(args []datum.Datum, emit func(datum.Row) error) error {
	for _, a := range args {
		if a.IsNull() {
			return nil
		}
	}
	def, ok := setFuncs[s.Fn]
	if !ok {
		return pgerr.New(pgerr.InternalError, "expr: unknown set-returning function %s", s.Fn)
	}
	return def.run(s, args, emit)
}

var seriesOverloads = func() []Overload {
	var ovs []Overload
	for _, t := range []datum.Type{datum.TypeInt4, datum.TypeInt8, datum.TypeNumeric} {
		ovs = append(ovs, Overload{Args: []datum.Type{t, t}, Result: t}, Overload{Args: []datum.Type{t, t, t}, Result: t})
	}
	for _, t := range []datum.Type{datum.TypeTimestamp, datum.TypeTimestampTZ} {
		ovs = append(ovs, Overload{Args: []datum.Type{t, t, datum.TypeInterval}, Result: t})
	}
	return ovs
}()

func resolveSeries(name string, args []Expr) ([]Expr, []SetCol, error) {
	ts := argTypes(args)
	i, params, st := pickOverload(seriesOverloads, ts, false)
	switch st {
	case pickNone:
		return nil, nil, errNoFunction(name, ts)
	case pickAmbiguous:
		return nil, nil, errAmbiguousFunction(name, ts)
	}
	out, err := coerceArgs(args, params)
	if err != nil {
		return nil, nil, err
	}
	return out, []SetCol{{Name: name, Typ: seriesOverloads[i].Result}}, nil
}

func errZeroStep() error {
	return pgerr.New(pgerr.InvalidParameterValue, "step size cannot equal zero")
}

func runSeries(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	start, stop := args[0], args[1]
	switch start.Kind() {
	case datum.KindInt:
		step := int64(1)
		if len(args) == 3 {
			step = args[2].Int()
		}
		if step == 0 {
			return errZeroStep()
		}
		a, b := start.Int(), stop.Int()
		for v := a; (step > 0 && v <= b) || (step < 0 && v >= b); v += step {
			if err := emit(datum.Row{datum.NewInt(v)}); err != nil {
				return err
			}
			if (step > 0 && v > math.MaxInt64-step) || (step < 0 && v < math.MinInt64-step) {
				break
			}
		}
	case datum.KindFloat:
		step := 1.0
		if len(args) == 3 {
			step = args[2].Float()
		}
		if step == 0 {
			return errZeroStep()
		}
		a, b := start.Float(), stop.Float()
		for i := 0; ; i++ {
			v := numericNorm(a + float64(i)*step)
			if (step > 0 && v > b) || (step < 0 && v < b) {
				break
			}
			if err := emit(datum.Row{datum.NewFloat(v)}); err != nil {
				return err
			}
		}
	case datum.KindTimestamp:
		iv := args[2]
		if iv.Months() == 0 && iv.Micros() == 0 {
			return errZeroStep()
		}
		a, b := start.Micros(), stop.Micros()
		forward := iv.Months() > 0 || (iv.Months() == 0 && iv.Micros() > 0)
		v := a
		for i := int64(1); (forward && v <= b) || (!forward && v >= b); i++ {
			if err := emit(datum.Row{datum.NewTimestamp(v)}); err != nil {
				return err
			}
			next, err := addInterval(a, datum.NewInterval(iv.Months()*int32(i), iv.Micros()*i))
			if err != nil {
				return err
			}
			if next == v {
				break
			}
			v = next
		}
	default:
		return pgerr.New(pgerr.InternalError, "expr: generate_series of %s", start.Kind())
	}
	return nil
}

// addInterval adds an interval to a timestamp (microseconds).
func addInterval(ts int64, iv datum.Datum) (int64, error) {
	call := &Call{Fn: opAdd, Args: []Expr{
		&Const{Val: datum.NewTimestamp(ts), Typ: datum.TypeTimestamp},
		&Const{Val: iv, Typ: datum.TypeInterval},
	}, Typ: datum.TypeTimestamp}
	ev, err := (&compiler{}).compile(call)
	if err != nil {
		return 0, err
	}
	v, err := ev(nil)
	if err != nil {
		return 0, err
	}
	return v.Micros(), nil
}

func resolveUnnest(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 1 {
		return nil, nil, pgerr.New(pgerr.FeatureNotSupported, "unnest of several arrays is not supported")
	}
	arr, err := arrayArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	return []Expr{arr}, []SetCol{{Name: name, Typ: ArrayElemType(args[0])}}, nil
}

func runUnnest(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	a, err := ParseArray(args[0].Str())
	if err != nil {
		return err
	}
	t := s.Cols[0].Typ
	for _, e := range a.Elems {
		v, err := elemAs(e, t)
		if err != nil {
			return err
		}
		if err := emit(datum.Row{v}); err != nil {
			return err
		}
	}
	return nil
}

func resolveSubscripts(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 2 && len(args) != 3 {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	arr, err := arrayArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	dim, err := coerce(args[1], datum.TypeInt4)
	if err != nil || !isIntType(dim.Type()) {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	out := []Expr{arr, dim}
	if len(args) == 3 {
		rev, err := coerce(args[2], datum.TypeBool)
		if err != nil || rev.Type() != datum.TypeBool {
			return nil, nil, errNoFunction(name, argTypes(args))
		}
		out = append(out, rev)
	}
	return out, []SetCol{{Name: name, Typ: datum.TypeInt4}}, nil
}

func runSubscripts(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	a, err := ParseArray(args[0].Str())
	if err != nil {
		return err
	}
	if args[1].Int() != 1 || len(a.Elems) == 0 {
		return nil
	}
	rev := len(args) == 3 && args[2].Bool()
	for i := range a.Elems {
		v := a.Lower + i
		if rev {
			v = a.Upper() - i
		}
		if err := emit(datum.Row{datum.NewInt(int64(v))}); err != nil {
			return err
		}
	}
	return nil
}

func resolveExpand(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 1 {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	arr, err := arrayArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	return []Expr{arr}, []SetCol{{Name: "x", Typ: ArrayElemType(args[0])}, {Name: "n", Typ: datum.TypeInt4}}, nil
}

func runExpand(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	a, err := ParseArray(args[0].Str())
	if err != nil {
		return err
	}
	t := s.Cols[0].Typ
	for i, e := range a.Elems {
		v, err := elemAs(e, t)
		if err != nil {
			return err
		}
		if err := emit(datum.Row{v, datum.NewInt(int64(i + 1))}); err != nil {
			return err
		}
	}
	return nil
}
