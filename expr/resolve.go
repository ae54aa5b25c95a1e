package expr

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// SQLSTATEs used here that pgerr does not name.
const (
	codeAmbiguousFunction = "42725"
	codeCannotCoerce      = "42846"
)

// ResolveCall types a call of the operator or builtin function fn (any
// case; operators spelled as in Call) on already-resolved arguments, with
// PostgreSQL's rules: an overload is chosen (exact types, then implicit
// casts, preferred types, unknown literals), untyped literals are parsed as
// the chosen parameter type (a bad literal is 22P02/22007), other arguments
// get implicit Cast nodes (folded when constant). Errors: 42883 (no such
// function/operator for these types), 42725 (ambiguous), 42804 (e.g. a
// non-boolean argument of AND).
func ResolveCall(fn string, args []Expr) (Expr, error) {
	return ResolveCallIn(builtinRegistry, fn, args)
}

// ResolveCallIn is ResolveCall with functions looked up in r (nil means
// Builtins()). Operators are not part of a registry.
func ResolveCallIn(r *Registry, fn string, args []Expr) (Expr, error) {
	if r == nil {
		r = builtinRegistry
	}
	name := canonicalOp(fn)
	if isOperator(name) {
		return resolveOperator(name, args)
	}
	def, ok := r.funcs[name]
	if !ok {
		if IsAggregate(name) {
			return nil, pgerr.New(pgerr.GroupingError, "aggregate function %s is not allowed here", name)
		}
		return nil, errNoFunction(name, argTypes(args))
	}
	if def.check != nil {
		return def.check(def.name, args)
	}
	return resolveOverloaded(def, args)
}

func canonicalOp(fn string) string {
	name := strings.ToLower(strings.Join(strings.Fields(fn), " "))
	if a, ok := opAliases[name]; ok {
		return a
	}
	return name
}

func argTypes(args []Expr) []datum.Type {
	ts := make([]datum.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	return ts
}

func typeList(ts []datum.Type) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgTypeName(t))
	}
	return b.String()
}

func errNoFunction(name string, ts []datum.Type) error {
	return pgerr.New(pgerr.UndefinedFunction, "function %s(%s) does not exist", name, typeList(ts)).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

func errAmbiguousFunction(name string, ts []datum.Type) error {
	return pgerr.New(codeAmbiguousFunction, "function %s(%s) is not unique", name, typeList(ts)).
		WithHint("Could not choose a best candidate function. You might need to add explicit type casts.")
}

func opDesc(op string, ts []datum.Type) string {
	sym := opSymbol(op)
	if len(ts) == 1 {
		return sym + " " + pgTypeName(ts[0])
	}
	if len(ts) == 2 {
		return pgTypeName(ts[0]) + " " + sym + " " + pgTypeName(ts[1])
	}
	return sym + "(" + typeList(ts) + ")"
}

func errNoOperator(op string, ts []datum.Type) error {
	return pgerr.New(pgerr.UndefinedFunction, "operator does not exist: %s", opDesc(op, ts)).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

func errAmbiguousOperator(op string, ts []datum.Type) error {
	return pgerr.New(codeAmbiguousFunction, "operator is not unique: %s", opDesc(op, ts)).
		WithHint("Could not choose a best candidate operator. You might need to add explicit type casts.")
}

func resolveOverloaded(def *FuncDef, args []Expr) (Expr, error) {
	ts := argTypes(args)
	i, params, st := pickOverload(def.Overloads, ts, false)
	switch st {
	case pickNone:
		return nil, errNoFunction(def.name, ts)
	case pickAmbiguous:
		return nil, errAmbiguousFunction(def.name, ts)
	}
	cargs, err := coerceArgs(args, params)
	if err != nil {
		return nil, err
	}
	return &Call{Fn: def.name, Args: cargs, Typ: def.Overloads[i].Result, def: def}, nil
}

type pickStatus int

const (
	pickOK pickStatus = iota
	pickNone
	pickAmbiguous
)

// pickOverload chooses among ovs for arguments of types at, following
// PostgreSQL's function/operator type resolution (typeconv-func/oper). It
// returns the overload's index and its parameter types for len(at)
// arguments.
func pickOverload(ovs []Overload, at []datum.Type, binaryOp bool) (int, []datum.Type, pickStatus) {
	type cand struct {
		idx    int
		params []datum.Type
	}
	// A binary operator with one unknown argument: assume it has the other
	// argument's type, and take an exact match if there is one.
	if binaryOp && len(at) == 2 && (at[0] == datum.TypeUnknown) != (at[1] == datum.TypeUnknown) {
		k := at[0]
		if k == datum.TypeUnknown {
			k = at[1]
		}
		for i := range ovs {
			if p, ok := ovs[i].params(2); ok && p[0] == k && p[1] == k {
				return i, p, pickOK
			}
		}
	}
	var cands []cand
	for i := range ovs {
		p, ok := ovs[i].params(len(at))
		if !ok {
			continue
		}
		for j, t := range at {
			if !implicitCast(t, p[j]) {
				ok = false
				break
			}
		}
		if ok {
			cands = append(cands, cand{i, p})
		}
	}
	if len(cands) == 0 {
		return -1, nil, pickNone
	}
	filter := func(score func(c cand) int) {
		best := -1
		var keep []cand
		for _, c := range cands {
			s := score(c)
			switch {
			case s > best:
				best, keep = s, append(keep[:0], c)
			case s == best:
				keep = append(keep, c)
			}
		}
		cands = keep
	}
	if len(cands) > 1 { // most exact matches
		filter(func(c cand) int {
			n := 0
			for j, t := range at {
				if t == c.params[j] && t != datum.TypeUnknown {
					n++
				}
			}
			return n
		})
	}
	if len(cands) > 1 { // preferred types where a conversion is needed
		filter(func(c cand) int {
			n := 0
			for j, t := range at {
				if t != c.params[j] && t != datum.TypeUnknown && preferred(c.params[j]) {
					n++
				}
			}
			return n
		})
	}
	hasUnknown := false
	for _, t := range at {
		if t == datum.TypeUnknown {
			hasUnknown = true
		}
	}
	if len(cands) > 1 && hasUnknown {
		// At each unknown position pick a category: string if any candidate
		// takes one, else the single category all candidates take.
		for j, t := range at {
			if t != datum.TypeUnknown || len(cands) < 2 {
				continue
			}
			cat := byte(0)
			for _, c := range cands {
				pc := category(c.params[j])
				switch {
				case pc == catString:
					cat = catString
				case cat == 0:
					cat = pc
				case cat != pc && cat != catString:
					cat = 255 // conflict, unless a string candidate shows up
				}
			}
			if cat == 255 {
				return -1, nil, pickAmbiguous
			}
			var keep []cand
			anyPreferred := false
			for _, c := range cands {
				if category(c.params[j]) == cat {
					keep = append(keep, c)
					anyPreferred = anyPreferred || preferred(c.params[j])
				}
			}
			if anyPreferred {
				pk := keep[:0:0]
				for _, c := range keep {
					if preferred(c.params[j]) {
						pk = append(pk, c)
					}
				}
				keep = pk
			}
			cands = keep
		}
	}
	if len(cands) > 1 && hasUnknown {
		// Known arguments all of one type: assume the unknowns are too.
		k := datum.TypeUnknown
		same := true
		for _, t := range at {
			if t == datum.TypeUnknown {
				continue
			}
			if k != datum.TypeUnknown && t != k {
				same = false
			}
			k = t
		}
		if same && k != datum.TypeUnknown {
			var keep []cand
			for _, c := range cands {
				ok := true
				for j, t := range at {
					if t == datum.TypeUnknown && !implicitCast(k, c.params[j]) {
						ok = false
					}
				}
				if ok {
					keep = append(keep, c)
				}
			}
			if len(keep) >= 1 {
				cands = keep
			}
		}
	}
	if len(cands) != 1 {
		return -1, nil, pickAmbiguous
	}
	return cands[0].idx, cands[0].params, pickOK
}

// coerceArgs converts each argument to its parameter type.
func coerceArgs(args []Expr, params []datum.Type) ([]Expr, error) {
	out := make([]Expr, len(args))
	for i, a := range args {
		c, err := coerce(a, params[i])
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// coerce converts e to type to implicitly: unknown literals are parsed,
// unknown parameters get the type, string types relabel, anything else
// gets a Cast (folded when e is constant and the cast succeeds).
func coerce(e Expr, to datum.Type) (Expr, error) {
	from := e.Type()
	if to == typeAny {
		if from != datum.TypeUnknown {
			return e, nil
		}
		to = datum.TypeText
	}
	if from == to || (from != datum.TypeUnknown && sameRep(from, to)) {
		return e, nil
	}
	if from == datum.TypeUnknown {
		switch x := e.(type) {
		case *Const:
			return constAs(x.Val, to)
		case *Param:
			return &Param{Index: x.Index, Typ: to}, nil
		}
	}
	return foldCast(&Cast{Arg: e, To: to}), nil
}

// constAs types an untyped literal: NULL takes the type, a string is parsed
// in the type's input format.
func constAs(v datum.Datum, to datum.Type) (Expr, error) {
	if v.IsNull() {
		return &Const{Val: datum.Null, Typ: to}, nil
	}
	if v.Kind() == datum.KindString {
		d, err := parseAs(to, v.Str())
		if err != nil {
			return nil, err
		}
		return &Const{Val: d, Typ: to}, nil
	}
	d, err := castDatum(v, datum.TypeUnknown, to)
	if err != nil {
		return nil, err
	}
	return &Const{Val: d, Typ: to}, nil
}

// foldCast evaluates a cast of a constant now; on error the Cast stays for
// the executor to report.
func foldCast(c *Cast) Expr {
	k, ok := c.Arg.(*Const)
	if !ok {
		return c
	}
	v, err := castDatum(k.Val, k.Typ, c.To)
	if err != nil {
		return c
	}
	return &Const{Val: v, Typ: c.To}
}

// ResolveCast types CAST(arg AS to). Untyped literals are parsed right away
// (a bad literal is an error here); a cast PostgreSQL does not have is
// 42846. Casts of constants are folded unless they fail (then the error is
// the executor's).
func ResolveCast(arg Expr, to datum.Type) (Expr, error) {
	from := arg.Type()
	if to == datum.TypeUnknown || to == typeAny {
		return nil, pgerr.New(codeCannotCoerce, "cannot cast type %s to %s", pgTypeName(from), pgTypeName(to))
	}
	if from == datum.TypeUnknown {
		return coerce(arg, to)
	}
	if from == to {
		return arg, nil
	}
	if !castAllowed(from, to) {
		return nil, pgerr.New(codeCannotCoerce, "cannot cast type %s to %s", pgTypeName(from), pgTypeName(to))
	}
	return foldCast(&Cast{Arg: arg, To: to}), nil
}

// castAllowed reports whether CAST(from AS to) exists.
func castAllowed(from, to datum.Type) bool {
	if from == to || from == datum.TypeUnknown {
		return true
	}
	cf, ct := category(from), category(to)
	switch {
	case cf == catString || ct == catString:
		return true // I/O conversion
	case cf == catNumeric && ct == catNumeric:
		return true
	case cf == catDatetime && ct == catDatetime:
		return true
	case from == datum.TypeBool:
		return isIntType(to) && to != datum.TypeOID
	case to == datum.TypeBool:
		return isIntType(from) && from != datum.TypeOID
	}
	return false
}

// boolArg types an argument that must be boolean (AND, OR, NOT, IS TRUE,
// CASE WHEN): an untyped literal is parsed as boolean; anything else not
// boolean is 42804.
func boolArg(what string, e Expr) (Expr, error) {
	if e.Type() == datum.TypeUnknown {
		return coerce(e, datum.TypeBool)
	}
	if e.Type() != datum.TypeBool {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", what, pgTypeName(e.Type()))
	}
	return e, nil
}

func resolveOperator(op string, args []Expr) (Expr, error) {
	ts := argTypes(args)
	switch op {
	case opAnd, opOr:
		if len(args) < 2 {
			return nil, errNoOperator(op, ts)
		}
		what := strings.ToUpper(op)
		out := make([]Expr, len(args))
		for i, a := range args {
			b, err := boolArg(what, a)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		// Left-deep binary tree: a AND b AND c = ((a AND b) AND c).
		e := Expr(&Call{Fn: op, Args: []Expr{out[0], out[1]}, Typ: datum.TypeBool})
		for _, a := range out[2:] {
			e = &Call{Fn: op, Args: []Expr{e, a}, Typ: datum.TypeBool}
		}
		return e, nil
	case opNot, opIsTrue, opIsFalse, opIsNotTrue, opIsNotFalse:
		if len(args) != 1 {
			return nil, errNoOperator(op, ts)
		}
		b, err := boolArg(strings.ToUpper(op), args[0])
		if err != nil {
			return nil, err
		}
		return &Call{Fn: op, Args: []Expr{b}, Typ: datum.TypeBool}, nil
	case opIsNull, opIsNotNull:
		if len(args) != 1 {
			return nil, errNoOperator(op, ts)
		}
		return &Call{Fn: op, Args: []Expr{args[0]}, Typ: datum.TypeBool}, nil
	case opIn, opNotIn:
		if len(args) < 2 {
			return nil, errNoOperator(op, ts)
		}
		ct, b1, b2, ok := commonType(ts)
		if !ok {
			return nil, errNoOperator(opEq, []datum.Type{b1, b2})
		}
		if !comparable(ct) {
			return nil, errNoOperator(opEq, []datum.Type{ct, ct})
		}
		out, err := coerceArgs(args, repeatType(ct, len(args)))
		if err != nil {
			return nil, err
		}
		return &Call{Fn: op, Args: out, Typ: datum.TypeBool}, nil
	case opConcat:
		return resolveConcat(args)
	}
	ovs := operatorTable[op]
	i, params, st := pickOverload(ovs, ts, len(args) == 2)
	switch st {
	case pickNone:
		return nil, errNoOperator(op, ts)
	case pickAmbiguous:
		return nil, errAmbiguousOperator(op, ts)
	}
	out, err := coerceArgs(args, params)
	if err != nil {
		return nil, err
	}
	return &Call{Fn: op, Args: out, Typ: ovs[i].Result}, nil
}

func repeatType(t datum.Type, n int) []datum.Type {
	ts := make([]datum.Type, n)
	for i := range ts {
		ts[i] = t
	}
	return ts
}

// comparable reports whether values of t can be compared with =, < etc.
func comparable(t datum.Type) bool {
	if t == datum.TypeVarchar {
		return true
	}
	for _, c := range comparableTypes {
		if c == t {
			return true
		}
	}
	return false
}

// resolveConcat types a || b: text || anything and anything || text are
// text concatenation (the non-text side is cast to text); bytea || bytea is
// bytea.
func resolveConcat(args []Expr) (Expr, error) {
	ts := argTypes(args)
	if len(args) != 2 {
		return nil, errNoOperator(opConcat, ts)
	}
	l, r := ts[0], ts[1]
	if l == datum.TypeBytea && (r == datum.TypeBytea || r == datum.TypeUnknown) ||
		r == datum.TypeBytea && l == datum.TypeUnknown {
		out, err := coerceArgs(args, []datum.Type{datum.TypeBytea, datum.TypeBytea})
		if err != nil {
			return nil, err
		}
		return &Call{Fn: opConcat, Args: out, Typ: datum.TypeBytea}, nil
	}
	textish := func(t datum.Type) bool { return t == datum.TypeUnknown || isStringType(t) }
	if !textish(l) && !textish(r) {
		return nil, errNoOperator(opConcat, ts)
	}
	out := make([]Expr, 2)
	for i, a := range args {
		if isStringType(a.Type()) {
			out[i] = a
			continue
		}
		var err error
		if a.Type() == datum.TypeUnknown {
			out[i], err = coerce(a, datum.TypeText)
		} else {
			out[i] = foldCast(&Cast{Arg: a, To: datum.TypeText})
		}
		if err != nil {
			return nil, err
		}
	}
	return &Call{Fn: opConcat, Args: out, Typ: datum.TypeText}, nil
}

// ResolveCase types a CASE expression. With an operand, the operand and
// every WHEN value are converted to their common type (they are compared
// with =); without, each WHEN condition must be boolean (42804). The
// result type is the common type of the THEN and ELSE arms (42804 "CASE
// types ... cannot be matched"); all-unknown arms give TEXT. els may be nil
// (ELSE NULL).
func ResolveCase(operand Expr, whens []When, els Expr) (Expr, error) {
	if len(whens) == 0 {
		return nil, pgerr.New(pgerr.SyntaxError, "CASE requires at least one WHEN")
	}
	ws := make([]When, len(whens))
	copy(ws, whens)
	if operand != nil {
		ts := []datum.Type{operand.Type()}
		for _, w := range ws {
			ts = append(ts, w.Cond.Type())
		}
		ct, b1, b2, ok := commonType(ts)
		if !ok {
			return nil, errNoOperator(opEq, []datum.Type{b1, b2})
		}
		if !comparable(ct) {
			return nil, errNoOperator(opEq, []datum.Type{ct, ct})
		}
		var err error
		if operand, err = coerce(operand, ct); err != nil {
			return nil, err
		}
		for i := range ws {
			if ws[i].Cond, err = coerce(ws[i].Cond, ct); err != nil {
				return nil, err
			}
		}
	} else {
		for i := range ws {
			c, err := boolArg("CASE/WHEN", ws[i].Cond)
			if err != nil {
				return nil, err
			}
			ws[i].Cond = c
		}
	}
	var ts []datum.Type
	for _, w := range ws {
		ts = append(ts, w.Then.Type())
	}
	if els != nil {
		ts = append(ts, els.Type())
	}
	ct, b1, b2, ok := commonType(ts)
	if !ok {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "CASE types %s and %s cannot be matched", pgTypeName(b1), pgTypeName(b2))
	}
	var err error
	for i := range ws {
		if ws[i].Then, err = coerce(ws[i].Then, ct); err != nil {
			return nil, err
		}
	}
	if els != nil {
		if els, err = coerce(els, ct); err != nil {
			return nil, err
		}
	}
	return &Case{Operand: operand, Whens: ws, Else: els, Typ: ct}, nil
}

// resolveCommon types a polymorphic function whose arguments and result
// share their common type (COALESCE, GREATEST, LEAST, NULLIF).
func resolveCommon(name string, args []Expr, minArgs, maxArgs int, needCompare bool) (Expr, error) {
	ts := argTypes(args)
	if len(args) < minArgs || (maxArgs > 0 && len(args) > maxArgs) {
		return nil, errNoFunction(name, ts)
	}
	ct, b1, b2, ok := commonType(ts)
	if !ok {
		if name == "nullif" {
			return nil, errNoOperator(opEq, []datum.Type{b1, b2})
		}
		return nil, pgerr.New(pgerr.DatatypeMismatch, "%s types %s and %s cannot be matched", strings.ToUpper(name), pgTypeName(b1), pgTypeName(b2))
	}
	if needCompare && !comparable(ct) {
		return nil, errNoFunction(name, ts)
	}
	out, err := coerceArgs(args, repeatType(ct, len(args)))
	if err != nil {
		return nil, err
	}
	return &Call{Fn: name, Args: out, Typ: ct}, nil
}
