package expr

import (
	"math"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Evaluator computes an expression over one input row. Evaluators returned
// by Compile hold no mutable state and are safe for concurrent use.
type Evaluator func(row datum.Row) (datum.Datum, error)

// Predicate evaluates a boolean expression as a filter: NULL is false.
type Predicate func(row datum.Row) (bool, error)

// Env is what evaluation may depend on besides the row.
type Env struct {
	// Now returns the current time in microseconds since the epoch, for
	// now()/current_timestamp. The caller decides what "now" means (the
	// statement start, the processing time of a batch, a test clock).
	Now func() int64
	// Funcs resolves calls that carry no registry entry (trees built by
	// hand or rebuilt from a plan). Nil means Builtins().
	Funcs *Registry
	// Settings reads the session's settings, for functions whose result
	// depends on the session (Overload.EvalSettings: current_user reads
	// session_authorization). Nil: there are none.
	Settings func(name string) (string, bool)
	// SetSetting changes a session setting, for functions that do
	// (Overload.EvalSettings's set: set_config). Nil: such calls fail.
	SetSetting func(name, value string) error
}

// Compile compiles a resolved expression. It constant-folds first. A call
// of now() is an error here: use CompileWith and an Env with a clock.
func Compile(e Expr) (Evaluator, error) { return CompileWith(e, nil) }

// CompileWith compiles a resolved expression for the given environment
// (nil is an empty one).
func CompileWith(e Expr, env *Env) (Evaluator, error) {
	c := &compiler{env: env}
	return c.compile(Fold(e))
}

// CompilePredicate compiles a boolean expression as a filter (NULL is
// false). AND and OR short-circuit.
func CompilePredicate(e Expr) (Predicate, error) { return CompilePredicateWith(e, nil) }

// CompilePredicateWith is CompilePredicate with an environment.
func CompilePredicateWith(e Expr, env *Env) (Predicate, error) {
	c := &compiler{env: env}
	return c.predicate(Fold(e))
}

// boolEval is the internal form of boolean expressions: (value, isNull).
// When isNull is true, value is false, so a filter can look at value alone.
type boolEval func(row datum.Row) (v, null bool, err error)

type compiler struct {
	env *Env
	// generic turns off the specialized closures (tests compare both).
	generic bool
}

func (c *compiler) predicate(e Expr) (Predicate, error) {
	if t := e.Type(); t != datum.TypeBool && t != datum.TypeUnknown {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "argument of WHERE must be type boolean, not type %s", pgTypeName(t))
	}
	b, err := c.filter(e)
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (bool, error) {
		v, _, err := b(row)
		return v, err
	}, nil
}

// filter compiles e for use as a filter only: the null flag of the result
// is not meaningful (NULL and false are both "not true"), which lets AND
// skip its right side after a NULL.
func (c *compiler) filter(e Expr) (boolEval, error) {
	if call, ok := e.(*Call); ok && len(call.Args) == 2 && (call.Fn == opAnd || call.Fn == opOr) {
		l, err := c.filter(call.Args[0])
		if err != nil {
			return nil, err
		}
		r, err := c.filter(call.Args[1])
		if err != nil {
			return nil, err
		}
		if call.Fn == opAnd {
			return func(row datum.Row) (bool, bool, error) {
				v, _, err := l(row)
				if err != nil || !v {
					return false, false, err
				}
				return r(row)
			}, nil
		}
		return func(row datum.Row) (bool, bool, error) {
			v, _, err := l(row)
			if err != nil || v {
				return v, false, err
			}
			return r(row)
		}, nil
	}
	return c.compileBool(e)
}

func (c *compiler) compileAll(es []Expr) ([]Evaluator, error) {
	out := make([]Evaluator, len(es))
	for i, e := range es {
		ev, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

func constEval(v datum.Datum) Evaluator {
	return func(datum.Row) (datum.Datum, error) { return v, nil }
}

func (c *compiler) compile(e Expr) (Evaluator, error) {
	switch x := e.(type) {
	case *Col:
		idx := x.Idx
		return func(row datum.Row) (datum.Datum, error) { return row[idx], nil }, nil
	case *Const:
		return constEval(x.Val), nil
	case *Param:
		return nil, pgerr.New(pgerr.UndefinedParameter, "there is no parameter $%d", x.Index)
	case *Cast:
		return c.compileCast(x)
	case *Case:
		return c.compileCase(x)
	case *Call:
		if strictNullCall(x, c.lookup) {
			return constEval(datum.Null), nil
		}
		return c.compileCall(x)
	case *Apply:
		return c.compileApply(x)
	case *AggFunc:
		return nil, pgerr.New(pgerr.GroupingError, "aggregate functions are not allowed here: %s", x)
	case nil:
		return nil, pgerr.New(pgerr.InternalError, "expr: compiling a nil expression")
	}
	return nil, pgerr.New(pgerr.InternalError, "expr: cannot compile %T", e)
}

// strictOps are the operators whose result is NULL when any argument is.
func strictOp(fn string) bool {
	switch fn {
	case opAdd, opSub, opMul, opDiv, opMod, opPow, opNeg, opConcat,
		opEq, opNe, opLt, opLe, opGt, opGe,
		opLike, opNotLike, opILike, opNotILike, opRegex, opNotRegex, opRegexI, opNotRegexI:
		return true
	}
	return false
}

// strictNullCall reports a call of a strict operator or function with a
// constant NULL argument: its value is NULL without evaluating anything
// (PostgreSQL simplifies these when planning).
func strictNullCall(x *Call, lookup func(string) *FuncDef) bool {
	hasNull := false
	for _, a := range x.Args {
		if k, ok := a.(*Const); ok && k.Val.IsNull() {
			hasNull = true
			break
		}
	}
	if !hasNull {
		return false
	}
	if strictOp(x.Fn) {
		return true
	}
	if isOperator(x.Fn) {
		return false
	}
	def := x.def
	if def == nil {
		def = lookup(x.Fn)
	}
	if def == nil || def.check != nil || def.compile != nil {
		return false
	}
	ov := overloadFor(def, argTypes(x.Args))
	return ov != nil && !ov.CalledOnNull
}

// isBoolOp reports operators compiled by compileBool.
func isBoolOp(fn string) bool {
	switch fn {
	case opAnd, opOr, opNot, opIsNull, opIsNotNull, opIsTrue, opIsFalse, opIsNotTrue, opIsNotFalse,
		opEq, opNe, opLt, opLe, opGt, opGe, opIsDistinct, opIsNotDistinct, opIn, opNotIn,
		opLike, opNotLike, opILike, opNotILike, opRegex, opNotRegex, opRegexI, opNotRegexI:
		return true
	}
	return false
}

func boolToEval(b boolEval) Evaluator {
	return func(row datum.Row) (datum.Datum, error) {
		v, null, err := b(row)
		if err != nil || null {
			return datum.Null, err
		}
		return datum.NewBool(v), nil
	}
}

func (c *compiler) compileCall(x *Call) (Evaluator, error) {
	if isBitOp(x.Fn, len(x.Args)) {
		return c.compileBitwise(x)
	}
	if isBoolOp(x.Fn) {
		b, err := c.compileBool(x)
		if err != nil {
			return nil, err
		}
		return boolToEval(b), nil
	}
	switch x.Fn {
	case opAdd, opSub, opMul, opDiv, opMod, opPow:
		if len(x.Args) == 2 {
			return c.compileArith(x)
		}
	case opNeg:
		if len(x.Args) == 1 {
			return c.compileNeg(x)
		}
	case opConcat:
		if len(x.Args) == 2 {
			return c.compileConcat(x)
		}
	}
	if isOperator(x.Fn) {
		return nil, errNoOperator(x.Fn, argTypes(x.Args))
	}
	return c.compileFunc(x)
}

// ---- booleans ----

func constBool(v, null bool) boolEval {
	return func(datum.Row) (bool, bool, error) { return v, null, nil }
}

func (c *compiler) compileBool(e Expr) (boolEval, error) {
	switch x := e.(type) {
	case *Const:
		if x.Val.IsNull() {
			return constBool(false, true), nil
		}
		return constBool(x.Val.Bool(), false), nil
	case *Col:
		idx := x.Idx
		return func(row datum.Row) (bool, bool, error) {
			d := row[idx]
			if d.IsNull() {
				return false, true, nil
			}
			return d.Bool(), false, nil
		}, nil
	case *Call:
		if strictNullCall(x, c.lookup) {
			return constBool(false, true), nil
		}
		if b, err, ok := c.compileBoolCall(x); ok {
			return b, err
		}
		if isBoolOp(x.Fn) { // malformed: wrong number of arguments
			return nil, errNoOperator(x.Fn, argTypes(x.Args))
		}
	}
	ev, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (bool, bool, error) {
		d, err := ev(row)
		if err != nil || d.IsNull() {
			return false, err == nil, err
		}
		return d.Bool(), false, nil
	}, nil
}

func (c *compiler) compileBoolCall(x *Call) (boolEval, error, bool) {
	args := x.Args
	switch x.Fn {
	case opAnd, opOr:
		if len(args) != 2 {
			return nil, nil, false
		}
		l, err := c.compileBool(args[0])
		if err != nil {
			return nil, err, true
		}
		r, err := c.compileBool(args[1])
		if err != nil {
			return nil, err, true
		}
		if x.Fn == opAnd {
			return func(row datum.Row) (bool, bool, error) {
				lv, ln, err := l(row)
				if err != nil || (!lv && !ln) {
					return false, false, err
				}
				rv, rn, err := r(row)
				if err != nil || (!rv && !rn) {
					return false, false, err
				}
				if ln || rn {
					return false, true, nil
				}
				return true, false, nil
			}, nil, true
		}
		return func(row datum.Row) (bool, bool, error) {
			lv, ln, err := l(row)
			if err != nil || lv {
				return lv, false, err
			}
			rv, rn, err := r(row)
			if err != nil || rv {
				return rv, false, err
			}
			if ln || rn {
				return false, true, nil
			}
			return false, false, nil
		}, nil, true
	case opNot, opIsTrue, opIsFalse, opIsNotTrue, opIsNotFalse:
		if len(args) != 1 {
			return nil, nil, false
		}
		a, err := c.compileBool(args[0])
		if err != nil {
			return nil, err, true
		}
		switch x.Fn {
		case opNot:
			return func(row datum.Row) (bool, bool, error) {
				v, n, err := a(row)
				return !v && !n, n, err
			}, nil, true
		case opIsTrue:
			return func(row datum.Row) (bool, bool, error) {
				v, _, err := a(row)
				return v, false, err
			}, nil, true
		case opIsFalse:
			return func(row datum.Row) (bool, bool, error) {
				v, n, err := a(row)
				return !v && !n, false, err
			}, nil, true
		case opIsNotTrue:
			return func(row datum.Row) (bool, bool, error) {
				v, _, err := a(row)
				return !v, false, err
			}, nil, true
		default: // is not false
			return func(row datum.Row) (bool, bool, error) {
				v, n, err := a(row)
				return v || n, false, err
			}, nil, true
		}
	case opIsNull, opIsNotNull:
		if len(args) != 1 {
			return nil, nil, false
		}
		want := x.Fn == opIsNull
		if col, ok := args[0].(*Col); ok && !c.generic {
			idx := col.Idx
			return func(row datum.Row) (bool, bool, error) {
				return row[idx].IsNull() == want, false, nil
			}, nil, true
		}
		a, err := c.compile(args[0])
		if err != nil {
			return nil, err, true
		}
		return func(row datum.Row) (bool, bool, error) {
			d, err := a(row)
			return err == nil && d.IsNull() == want, false, err
		}, nil, true
	case opEq, opNe, opLt, opLe, opGt, opGe:
		if len(args) != 2 {
			return nil, nil, false
		}
		b, err := c.compileCompare(x.Fn, args[0], args[1])
		return b, err, true
	case opIsDistinct, opIsNotDistinct:
		if len(args) != 2 {
			return nil, nil, false
		}
		l, err := c.compile(args[0])
		if err != nil {
			return nil, err, true
		}
		r, err := c.compile(args[1])
		if err != nil {
			return nil, err, true
		}
		distinct := x.Fn == opIsDistinct
		return func(row datum.Row) (bool, bool, error) {
			a, err := l(row)
			if err != nil {
				return false, false, err
			}
			b, err := r(row)
			if err != nil {
				return false, false, err
			}
			return (datum.Compare(a, b) != 0) == distinct, false, nil
		}, nil, true
	case opIn, opNotIn:
		if len(args) < 2 {
			return nil, nil, false
		}
		b, err := c.compileIn(args[0], args[1:])
		if err != nil {
			return nil, err, true
		}
		if x.Fn == opNotIn {
			return func(row datum.Row) (bool, bool, error) {
				v, n, err := b(row)
				return !v && !n, n, err
			}, nil, true
		}
		return b, nil, true
	case opLike, opNotLike, opILike, opNotILike:
		b, err := c.compileLike(x)
		return b, err, true
	case opRegex, opNotRegex, opRegexI, opNotRegexI:
		b, err := c.compileRegexMatch(x)
		return b, err, true
	}
	return nil, nil, false
}

// Comparison masks: bit c+1 is set if the comparison holds when
// datum.Compare returns c.
func cmpMask(op string) uint8 {
	switch op {
	case opLt:
		return 0b001
	case opLe:
		return 0b011
	case opEq:
		return 0b010
	case opNe:
		return 0b101
	case opGe:
		return 0b110
	case opGt:
		return 0b100
	}
	return 0
}

// flipOp is the operator with its operands swapped: 1 < x is x > 1.
func flipOp(op string) string {
	switch op {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return op
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// cmpFloat orders like PostgreSQL: NaN equals NaN and is above all others.
func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	if a == b {
		return 0
	}
	if a != a {
		if b != b {
			return 0
		}
		return 1
	}
	return -1
}

func cmpString(a, b string) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func (c *compiler) compileCompare(op string, l, r Expr) (boolEval, error) {
	if _, lc := l.(*Const); lc {
		if _, rc := r.(*Const); !rc {
			l, r, op = r, l, flipOp(op)
		}
	}
	mask := cmpMask(op)
	if k, ok := r.(*Const); ok && !c.generic {
		if b, ok, err := c.compareConst(mask, l, k.Val); ok || err != nil {
			return b, err
		}
	}
	le, err := c.compile(l)
	if err != nil {
		return nil, err
	}
	re, err := c.compile(r)
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (bool, bool, error) {
		a, err := le(row)
		if err != nil || a.IsNull() {
			return false, err == nil, err
		}
		b, err := re(row)
		if err != nil || b.IsNull() {
			return false, err == nil, err
		}
		return mask>>(datum.Compare(a, b)+1)&1 != 0, false, nil
	}, nil
}

// compareConst specializes comparisons of an expression (a column read
// inline) with a constant of the same kind.
func (c *compiler) compareConst(mask uint8, l Expr, k datum.Datum) (boolEval, bool, error) {
	lk := l.Type().Kind()
	idx := -1
	if col, ok := l.(*Col); ok {
		idx = col.Idx
	}
	var le Evaluator
	if idx < 0 {
		var err error
		if le, err = c.compile(l); err != nil {
			return nil, false, err
		}
	}
	switch {
	case lk == k.Kind() && (lk == datum.KindInt || lk == datum.KindTimestamp || lk == datum.KindDate || lk == datum.KindBool):
		kv := k.Int()
		if idx >= 0 {
			return func(row datum.Row) (bool, bool, error) {
				d := row[idx]
				if d.IsNull() {
					return false, true, nil
				}
				return mask>>(cmpInt(d.Int(), kv)+1)&1 != 0, false, nil
			}, true, nil
		}
		return func(row datum.Row) (bool, bool, error) {
			d, err := le(row)
			if err != nil || d.IsNull() {
				return false, err == nil, err
			}
			return mask>>(cmpInt(d.Int(), kv)+1)&1 != 0, false, nil
		}, true, nil
	case lk == datum.KindFloat && (k.Kind() == datum.KindFloat || k.Kind() == datum.KindInt):
		kv := k.AsFloat()
		if idx >= 0 {
			return func(row datum.Row) (bool, bool, error) {
				d := row[idx]
				if d.IsNull() {
					return false, true, nil
				}
				return mask>>(cmpFloat(d.AsFloat(), kv)+1)&1 != 0, false, nil
			}, true, nil
		}
		return func(row datum.Row) (bool, bool, error) {
			d, err := le(row)
			if err != nil || d.IsNull() {
				return false, err == nil, err
			}
			return mask>>(cmpFloat(d.AsFloat(), kv)+1)&1 != 0, false, nil
		}, true, nil
	case lk == datum.KindString && k.Kind() == datum.KindString:
		kv := k.Str()
		if idx >= 0 {
			if mask == 0b010 || mask == 0b101 {
				eq := mask == 0b010
				return func(row datum.Row) (bool, bool, error) {
					d := row[idx]
					if d.IsNull() {
						return false, true, nil
					}
					return (d.Str() == kv) == eq, false, nil
				}, true, nil
			}
			return func(row datum.Row) (bool, bool, error) {
				d := row[idx]
				if d.IsNull() {
					return false, true, nil
				}
				return mask>>(cmpString(d.Str(), kv)+1)&1 != 0, false, nil
			}, true, nil
		}
		return func(row datum.Row) (bool, bool, error) {
			d, err := le(row)
			if err != nil || d.IsNull() {
				return false, err == nil, err
			}
			return mask>>(cmpString(d.Str(), kv)+1)&1 != 0, false, nil
		}, true, nil
	}
	return nil, false, nil
}

// compileIn compiles x IN (list) with SQL semantics: NULL if x is NULL, or
// if nothing matched and the list has a NULL.
func (c *compiler) compileIn(xe Expr, list []Expr) (boolEval, error) {
	x, err := c.compile(xe)
	if err != nil {
		return nil, err
	}
	allConst := true
	for _, e := range list {
		if _, ok := e.(*Const); !ok {
			allConst = false
		}
	}
	if allConst && !c.generic {
		k := xe.Type().Kind()
		hasNull := false
		ints := map[int64]struct{}{}
		strs := map[string]struct{}{}
		var others []datum.Datum
		for _, e := range list {
			v := e.(*Const).Val
			switch {
			case v.IsNull():
				hasNull = true
			case v.Kind() == k && (k == datum.KindInt || k == datum.KindTimestamp || k == datum.KindDate || k == datum.KindBool):
				ints[v.Int()] = struct{}{}
			case v.Kind() == k && (k == datum.KindString || k == datum.KindBytes):
				strs[v.Str()] = struct{}{}
			default:
				others = append(others, v)
			}
		}
		miss := func() (bool, bool, error) { return false, hasNull, nil }
		switch {
		case len(others) == 0 && len(strs) == 0:
			return func(row datum.Row) (bool, bool, error) {
				d, err := x(row)
				if err != nil || d.IsNull() {
					return false, err == nil, err
				}
				if _, ok := ints[d.Int()]; ok {
					return true, false, nil
				}
				return miss()
			}, nil
		case len(others) == 0 && len(ints) == 0:
			return func(row datum.Row) (bool, bool, error) {
				d, err := x(row)
				if err != nil || d.IsNull() {
					return false, err == nil, err
				}
				if _, ok := strs[d.Str()]; ok {
					return true, false, nil
				}
				return miss()
			}, nil
		}
	}
	evs, err := c.compileAll(list)
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (bool, bool, error) {
		d, err := x(row)
		if err != nil || d.IsNull() {
			return false, err == nil, err
		}
		sawNull := false
		for _, ev := range evs {
			v, err := ev(row)
			if err != nil {
				return false, false, err
			}
			if v.IsNull() {
				sawNull = true
				continue
			}
			if datum.Compare(d, v) == 0 {
				return true, false, nil
			}
		}
		return false, sawNull, nil
	}, nil
}

// ---- arithmetic ----

func (c *compiler) compileArith(x *Call) (Evaluator, error) {
	l, r := x.Args[0], x.Args[1]
	le, err := c.compile(l)
	if err != nil {
		return nil, err
	}
	res := x.Typ
	lk, rk, resk := l.Type().Kind(), r.Type().Kind(), res.Kind()
	if !c.generic && x.Fn != opPow {
		k, isConst := r.(*Const)
		colIdx := -1
		if c, ok := l.(*Col); ok {
			colIdx = c.Idx
		}
		switch {
		case lk == datum.KindInt && rk == datum.KindInt && resk == datum.KindInt:
			if isConst && k.Val.Kind() == datum.KindInt {
				if ev := intArithConst(x.Fn, res, le, colIdx, k.Val.Int()); ev != nil {
					return ev, nil
				}
			}
			re, err := c.compile(r)
			if err != nil {
				return nil, err
			}
			if ev := intArith(x.Fn, res, le, re); ev != nil {
				return ev, nil
			}
		case lk == datum.KindFloat && rk == datum.KindFloat && resk == datum.KindFloat && res != datum.TypeNumeric:
			if isConst {
				if ev := floatArithConst(x.Fn, le, colIdx, k.Val.AsFloat()); ev != nil {
					return ev, nil
				}
			}
			re, err := c.compile(r)
			if err != nil {
				return nil, err
			}
			if ev := floatArith(x.Fn, le, re); ev != nil {
				return ev, nil
			}
		}
	}
	re, err := c.compile(r)
	if err != nil {
		return nil, err
	}
	op, lt, rt := x.Fn, l.Type(), r.Type()
	return func(row datum.Row) (datum.Datum, error) {
		a, err := le(row)
		if err != nil || a.IsNull() {
			return datum.Null, err
		}
		b, err := re(row)
		if err != nil || b.IsNull() {
			return datum.Null, err
		}
		return arith(op, a, b, lt, rt, res)
	}, nil
}

func (c *compiler) compileNeg(x *Call) (Evaluator, error) {
	a, err := c.compile(x.Args[0])
	if err != nil {
		return nil, err
	}
	res := x.Typ
	return func(row datum.Row) (datum.Datum, error) {
		d, err := a(row)
		if err != nil || d.IsNull() {
			return datum.Null, err
		}
		return negate(d, res)
	}, nil
}

func negate(d datum.Datum, res datum.Type) (datum.Datum, error) {
	switch d.Kind() {
	case datum.KindInt:
		v := d.Int()
		lo, _ := intRange(res)
		if v == lo || v == math.MinInt64 {
			return datum.Null, errOutOfRange(res)
		}
		return datum.NewInt(-v), nil
	case datum.KindFloat:
		return datum.NewFloat(-d.Float()), nil
	case datum.KindInterval:
		if d.Months() == math.MinInt32 || d.Micros() == math.MinInt64 {
			return datum.Null, errOutOfRange(datum.TypeInterval)
		}
		return datum.NewInterval(-d.Months(), -d.Micros()), nil
	}
	return datum.Null, errNoOperator(opNeg, []datum.Type{res})
}

// ---- casts, CASE ----

func (c *compiler) compileCast(x *Cast) (Evaluator, error) {
	a, err := c.compile(x.Arg)
	if err != nil {
		return nil, err
	}
	from, to := x.Arg.Type(), x.To
	fk, tk := from.Kind(), to.Kind()
	if !c.generic {
		switch {
		case from == to, fk == datum.KindString && tk == datum.KindString,
			fk == datum.KindTimestamp && tk == datum.KindTimestamp:
			return a, nil
		case fk == datum.KindInt && tk == datum.KindInt && from != datum.TypeOID && to != datum.TypeOID:
			flo, fhi := intRange(from)
			lo, hi := intRange(to)
			if lo <= flo && fhi <= hi {
				return a, nil // widening
			}
			return func(row datum.Row) (datum.Datum, error) {
				d, err := a(row)
				if err != nil || d.IsNull() {
					return d, err
				}
				if v := d.Int(); v < lo || v > hi {
					return datum.Null, errOutOfRange(to)
				}
				return d, nil
			}, nil
		case fk == datum.KindInt && tk == datum.KindFloat:
			return func(row datum.Row) (datum.Datum, error) {
				d, err := a(row)
				if err != nil || d.IsNull() {
					return d, err
				}
				return datum.NewFloat(float64(d.Int())), nil
			}, nil
		case fk == datum.KindFloat && tk == datum.KindFloat && to != datum.TypeFloat4 && (to != datum.TypeNumeric || from == datum.TypeNumeric):
			return a, nil
		}
	}
	return func(row datum.Row) (datum.Datum, error) {
		d, err := a(row)
		if err != nil || d.IsNull() {
			return datum.Null, err
		}
		return castDatum(d, from, to)
	}, nil
}

func (c *compiler) compileCase(x *Case) (Evaluator, error) {
	thens := make([]Evaluator, len(x.Whens))
	for i, w := range x.Whens {
		ev, err := c.compile(w.Then)
		if err != nil {
			return nil, err
		}
		thens[i] = ev
	}
	els := constEval(datum.Null)
	if x.Else != nil {
		var err error
		if els, err = c.compile(x.Else); err != nil {
			return nil, err
		}
	}
	if x.Operand == nil {
		conds := make([]boolEval, len(x.Whens))
		for i, w := range x.Whens {
			b, err := c.compileBool(w.Cond)
			if err != nil {
				return nil, err
			}
			conds[i] = b
		}
		return func(row datum.Row) (datum.Datum, error) {
			for i, cond := range conds {
				v, _, err := cond(row)
				if err != nil {
					return datum.Null, err
				}
				if v {
					return thens[i](row)
				}
			}
			return els(row)
		}, nil
	}
	op, err := c.compile(x.Operand)
	if err != nil {
		return nil, err
	}
	vals := make([]Evaluator, len(x.Whens))
	for i, w := range x.Whens {
		if vals[i], err = c.compile(w.Cond); err != nil {
			return nil, err
		}
	}
	return func(row datum.Row) (datum.Datum, error) {
		d, err := op(row)
		if err != nil {
			return datum.Null, err
		}
		if !d.IsNull() {
			for i, val := range vals {
				v, err := val(row)
				if err != nil {
					return datum.Null, err
				}
				if !v.IsNull() && datum.Compare(d, v) == 0 {
					return thens[i](row)
				}
			}
		}
		return els(row)
	}, nil
}

// ---- functions ----

func (c *compiler) lookup(fn string) *FuncDef {
	if c.env != nil && c.env.Funcs != nil {
		if d, ok := c.env.Funcs.funcs[fn]; ok {
			return d
		}
	}
	return builtinRegistry.funcs[fn]
}

// overloadFor finds the overload a resolved call was typed against.
func overloadFor(def *FuncDef, ts []datum.Type) *Overload {
	for i := range def.Overloads {
		p, ok := def.Overloads[i].params(len(ts))
		if !ok {
			continue
		}
		match := true
		for j, t := range ts {
			if t != p[j] && p[j] != typeAny && !sameRep(t, p[j]) {
				match = false
				break
			}
		}
		if match {
			return &def.Overloads[i]
		}
	}
	if i, _, st := pickOverload(def.Overloads, ts, false); st == pickOK {
		return &def.Overloads[i]
	}
	return nil
}

func (c *compiler) compileFunc(x *Call) (Evaluator, error) {
	def := x.def
	if def == nil {
		def = c.lookup(x.Fn)
	}
	if def == nil {
		return nil, errNoFunction(x.Fn, argTypes(x.Args))
	}
	if def.compile != nil {
		return def.compile(c, x)
	}
	ov := overloadFor(def, argTypes(x.Args))
	if ov == nil {
		return nil, errNoFunction(x.Fn, argTypes(x.Args))
	}
	if ov.spec != nil && !c.generic {
		ev, err := ov.spec(c, x)
		if err != nil || ev != nil {
			return ev, err
		}
	}
	evs, err := c.compileAll(x.Args)
	if err != nil {
		return nil, err
	}
	strict := !ov.CalledOnNull
	switch {
	case ov.f1 != nil && len(evs) == 1:
		f, a := ov.f1, evs[0]
		return func(row datum.Row) (datum.Datum, error) {
			x, err := a(row)
			if err != nil || (strict && x.IsNull()) {
				return datum.Null, err
			}
			return f(x)
		}, nil
	case ov.f2 != nil && len(evs) == 2:
		f, a, b := ov.f2, evs[0], evs[1]
		return func(row datum.Row) (datum.Datum, error) {
			x, err := a(row)
			if err != nil || (strict && x.IsNull()) {
				return datum.Null, err
			}
			y, err := b(row)
			if err != nil || (strict && y.IsNull()) {
				return datum.Null, err
			}
			return f(x, y)
		}, nil
	case ov.f3 != nil && len(evs) == 3:
		f, a, b, cc := ov.f3, evs[0], evs[1], evs[2]
		return func(row datum.Row) (datum.Datum, error) {
			x, err := a(row)
			if err != nil || (strict && x.IsNull()) {
				return datum.Null, err
			}
			y, err := b(row)
			if err != nil || (strict && y.IsNull()) {
				return datum.Null, err
			}
			z, err := cc(row)
			if err != nil || (strict && z.IsNull()) {
				return datum.Null, err
			}
			return f(x, y, z)
		}, nil
	case ov.EvalSettings != nil || ov.EvalSetSettings != nil:
		settings := func(string) (string, bool) { return "", false }
		if c.env != nil && c.env.Settings != nil {
			settings = c.env.Settings
		}
		f := ov.EvalSettings
		if g := ov.EvalSetSettings; g != nil {
			set := func(name, _ string) error {
				return pgerr.New(pgerr.FeatureNotSupported, "cannot change setting %q here", name)
			}
			if c.env != nil && c.env.SetSetting != nil {
				set = c.env.SetSetting
			}
			f = func(settings func(string) (string, bool), args []datum.Datum) (datum.Datum, error) {
				return g(settings, set, args)
			}
		}
		return func(row datum.Row) (datum.Datum, error) {
			args := make([]datum.Datum, len(evs))
			for i, ev := range evs {
				v, err := ev(row)
				if err != nil || (strict && v.IsNull()) {
					return datum.Null, err
				}
				args[i] = v
			}
			return f(settings, args)
		}, nil
	case ov.Eval != nil:
		f := ov.Eval
		return func(row datum.Row) (datum.Datum, error) {
			args := make([]datum.Datum, len(evs))
			for i, ev := range evs {
				v, err := ev(row)
				if err != nil || (strict && v.IsNull()) {
					return datum.Null, err
				}
				args[i] = v
			}
			return f(args)
		}, nil
	}
	return nil, pgerr.New(pgerr.InternalError, "expr: function %s has no implementation for %d arguments", x.Fn, len(evs))
}

func (c *compiler) compileApply(x *Apply) (Evaluator, error) {
	if x.Fn == nil {
		return nil, pgerr.New(pgerr.InternalError, "expr: %s has no function", x.Name)
	}
	evs, err := c.compileAll(x.Args)
	if err != nil {
		return nil, err
	}
	f := x.Fn
	return func(row datum.Row) (datum.Datum, error) {
		args := make([]datum.Datum, len(evs))
		for i, ev := range evs {
			v, err := ev(row)
			if err != nil {
				return datum.Null, err
			}
			args[i] = v
		}
		return f(args)
	}, nil
}
