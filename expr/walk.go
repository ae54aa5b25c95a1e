package expr

import (
	"github.com/weir-sql/weir/datum"
)

// Walk visits e and its sub-expressions in pre-order. If f returns false
// the node's children are skipped. AggFunc arguments are visited too.
func Walk(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	switch x := e.(type) {
	case *Call:
		for _, a := range x.Args {
			Walk(a, f)
		}
	case *Cast:
		Walk(x.Arg, f)
	case *Case:
		if x.Operand != nil {
			Walk(x.Operand, f)
		}
		for _, w := range x.Whens {
			Walk(w.Cond, f)
			Walk(w.Then, f)
		}
		if x.Else != nil {
			Walk(x.Else, f)
		}
	case *AggFunc:
		if x.Arg != nil {
			Walk(x.Arg, f)
		}
	case *Apply:
		for _, a := range x.Args {
			Walk(a, f)
		}
	}
}

// Transform rewrites e top-down: f is called on each node; if it returns
// (r, true) the node is replaced by r (and r is not descended into),
// otherwise the node's children are transformed. Nodes are never modified
// in place: a node whose children change is copied.
func Transform(e Expr, f func(Expr) (Expr, bool)) Expr {
	if e == nil {
		return nil
	}
	if r, ok := f(e); ok {
		return r
	}
	return transformChildren(e, func(c Expr) Expr { return Transform(c, f) })
}

// transformChildren applies g to each child of e, copying e if any changed.
func transformChildren(e Expr, g func(Expr) Expr) Expr {
	switch x := e.(type) {
	case *Call:
		var args []Expr
		for i, a := range x.Args {
			na := g(a)
			if na != a && args == nil {
				args = make([]Expr, len(x.Args))
				copy(args, x.Args[:i])
			}
			if args != nil {
				args[i] = na
			}
		}
		if args != nil {
			c := *x
			c.Args = args
			return &c
		}
	case *Apply:
		var args []Expr
		for i, a := range x.Args {
			na := g(a)
			if na != a && args == nil {
				args = make([]Expr, len(x.Args))
				copy(args, x.Args[:i])
			}
			if args != nil {
				args[i] = na
			}
		}
		if args != nil {
			c := *x
			c.Args = args
			return &c
		}
	case *Cast:
		if a := g(x.Arg); a != x.Arg {
			c := *x
			c.Arg = a
			return &c
		}
	case *Case:
		changed := false
		var op, els Expr
		if x.Operand != nil {
			op = g(x.Operand)
			changed = op != x.Operand
		}
		ws := make([]When, len(x.Whens))
		for i, w := range x.Whens {
			ws[i] = When{Cond: g(w.Cond), Then: g(w.Then)}
			changed = changed || ws[i].Cond != w.Cond || ws[i].Then != w.Then
		}
		if x.Else != nil {
			els = g(x.Else)
			changed = changed || els != x.Else
		}
		if changed {
			return &Case{Operand: op, Whens: ws, Else: els, Typ: x.Typ}
		}
	case *AggFunc:
		if x.Arg != nil {
			if a := g(x.Arg); a != x.Arg {
				c := *x
				c.Arg = a
				return &c
			}
		}
	}
	return e
}

// BindParams replaces each Param $n with a Const of params[n-1]. A value
// whose kind does not match the parameter's type (e.g. text received for
// an INT parameter) is converted with a cast, folded now if it succeeds and
// otherwise left for the executor to report. Params without a value stay.
func BindParams(e Expr, params []datum.Datum) Expr {
	return Transform(e, func(n Expr) (Expr, bool) {
		p, ok := n.(*Param)
		if !ok {
			return nil, false
		}
		if p.Index < 1 || p.Index > len(params) {
			return n, true
		}
		v := params[p.Index-1]
		t := p.Typ
		if t == datum.TypeUnknown {
			if v.Kind() == datum.KindString {
				return &Const{Val: v, Typ: datum.TypeUnknown}, true
			}
			t = kindType(v.Kind())
		}
		if v.IsNull() || v.Kind() == t.Kind() {
			return &Const{Val: v, Typ: t}, true
		}
		return foldCast(&Cast{Arg: &Const{Val: v, Typ: kindType(v.Kind())}, To: t}), true
	})
}

// kindType is the natural type of a value of kind k.
func kindType(k datum.Kind) datum.Type {
	switch k {
	case datum.KindBool:
		return datum.TypeBool
	case datum.KindInt:
		return datum.TypeInt8
	case datum.KindFloat:
		return datum.TypeFloat8
	case datum.KindString:
		return datum.TypeText
	case datum.KindBytes:
		return datum.TypeBytea
	case datum.KindTimestamp:
		return datum.TypeTimestamp
	case datum.KindDate:
		return datum.TypeDate
	case datum.KindInterval:
		return datum.TypeInterval
	}
	return datum.TypeUnknown
}

// Fold constant-folds e bottom-up: calls of non-volatile functions and
// operators, casts and CASEs whose operands are all constants are replaced
// by their value; AND/OR with a constant side and CASE arms with constant
// conditions are simplified. A sub-expression whose evaluation fails is
// left in place, so the error surfaces when (and if) it is evaluated.
func Fold(e Expr) Expr {
	if e == nil {
		return nil
	}
	switch e.(type) {
	case *Col, *Const, *Param, *AggFunc:
		return e
	}
	e = transformChildren(e, Fold)
	switch x := e.(type) {
	case *Call:
		if r := simplifyLogic(x); r != nil {
			return r
		}
		if strictNullCall(x, func(fn string) *FuncDef { return builtinRegistry.funcs[fn] }) {
			return &Const{Val: datum.Null, Typ: x.Typ}
		}
		if !allConst(x.Args) || volatile(x) {
			return e
		}
	case *Cast:
		if _, ok := x.Arg.(*Const); !ok {
			return e
		}
	case *Case:
		if r := simplifyCase(x); r != e {
			return r
		}
		if x.Operand != nil {
			if _, ok := x.Operand.(*Const); !ok {
				return e
			}
		}
		for _, w := range x.Whens {
			if !allConst([]Expr{w.Cond, w.Then}) {
				return e
			}
		}
		if x.Else != nil {
			if _, ok := x.Else.(*Const); !ok {
				return e
			}
		}
	default:
		return e
	}
	c := &compiler{}
	ev, err := c.compile(e)
	if err != nil {
		return e
	}
	v, err := ev(nil)
	if err != nil {
		return e
	}
	return &Const{Val: v, Typ: e.Type()}
}

func allConst(es []Expr) bool {
	for _, a := range es {
		if _, ok := a.(*Const); !ok {
			return false
		}
	}
	return true
}

// volatile reports calls that must not be folded: volatile functions and
// functions not known to the builtin registry without a cached definition.
func volatile(x *Call) bool {
	if isOperator(x.Fn) {
		return false
	}
	def := x.def
	if def == nil {
		def = builtinRegistry.funcs[x.Fn]
	}
	return def == nil || def.Volatile || def.session || def.keep
}

func constBoolValue(e Expr) (v, null, ok bool) {
	k, isConst := e.(*Const)
	if !isConst {
		return false, false, false
	}
	if k.Val.IsNull() {
		return false, true, true
	}
	if k.Val.Kind() != datum.KindBool {
		return false, false, false
	}
	return k.Val.Bool(), false, true
}

// simplifyLogic folds x AND false, x AND true, x OR true, x OR false.
func simplifyLogic(x *Call) Expr {
	if (x.Fn != opAnd && x.Fn != opOr) || len(x.Args) != 2 {
		return nil
	}
	for i := 0; i < 2; i++ {
		v, null, ok := constBoolValue(x.Args[i])
		if !ok || null {
			continue
		}
		other := x.Args[1-i]
		switch {
		case x.Fn == opAnd && !v, x.Fn == opOr && v:
			return &Const{Val: datum.NewBool(v), Typ: datum.TypeBool}
		case other.Type() == datum.TypeBool:
			return other
		}
	}
	return nil
}

// simplifyCase drops searched-CASE arms whose condition is constant false
// or NULL and cuts the CASE at a constant true condition.
func simplifyCase(x *Case) Expr {
	if x.Operand != nil {
		return x
	}
	var ws []When
	changed := false
	for _, w := range x.Whens {
		v, _, ok := constBoolValue(w.Cond)
		if !ok {
			ws = append(ws, w)
			continue
		}
		changed = true
		if v {
			if len(ws) == 0 {
				return w.Then
			}
			return &Case{Whens: ws, Else: w.Then, Typ: x.Typ}
		}
	}
	if !changed {
		return x
	}
	if len(ws) == 0 {
		if x.Else != nil {
			return x.Else
		}
		return &Const{Val: datum.Null, Typ: x.Typ}
	}
	return &Case{Whens: ws, Else: x.Else, Typ: x.Typ}
}
