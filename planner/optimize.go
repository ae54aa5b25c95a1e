package planner

import (
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
)

// This file rewrites batch query plans (not jobs, whose stage compiler
// sees the plan as bound): the conjuncts of WHERE clauses and inner join
// conditions move down to the join inputs they read, so that FROM a, b
// WHERE a.x = b.y runs as a hash join on a.x = b.y rather than a filtered
// cross product, and one-sided conditions filter a join's input before the
// join. Conditions never move across an outer join's null-extended side,
// an aggregation, a window, DISTINCT, a set operation, ORDER BY/LIMIT or a
// projection that computes (only through pure renames), and conditions
// calling volatile functions (random()) stay where they were written.
//
// The rewrite runs before the binder returns the plan, so it changes nodes
// in place; a node reached twice (a WITH query used twice) is rewritten
// once.

// optimizeBatch rewrites the plan of a batch query or INSERT ... SELECT.
func optimizeBatch(n Node) Node {
	o := &optimizer{done: map[Node]Node{}, refs: map[Node]int{}}
	o.count(n)
	return o.node(n)
}

type optimizer struct {
	done map[Node]Node
	// refs counts the references to each node: a node reached twice (a
	// WITH query used twice) is never changed by pushing a condition into
	// it, since only one of its users has that condition.
	refs map[Node]int
}

func (o *optimizer) count(n Node) {
	if n == nil {
		return
	}
	o.refs[n]++
	if o.refs[n] > 1 {
		return
	}
	for _, e := range planExprs(n) {
		walkExpr(e, func(x expr.Expr) {
			if s, ok := x.(*Subquery); ok {
				o.count(s.Plan)
			}
		})
	}
	for _, in := range n.Inputs() {
		o.count(in)
	}
}

func (o *optimizer) node(n Node) Node {
	if n == nil {
		return nil
	}
	if r, ok := o.done[n]; ok {
		return r
	}
	o.done[n] = n // cycles cannot happen; this only guards re-entry
	r := o.rewrite(n)
	o.done[n] = r
	return r
}

func (o *optimizer) rewrite(n Node) Node {
	// Subqueries in the node's expressions are plans too.
	for _, e := range planExprs(n) {
		walkExpr(e, func(x expr.Expr) {
			if s, ok := x.(*Subquery); ok {
				s.Plan = o.node(s.Plan)
			}
		})
	}
	switch x := n.(type) {
	case *Filter:
		in := o.node(x.Input)
		return o.push(in, conjuncts(x.Pred))
	case *Join:
		x.Left, x.Right = o.node(x.Left), o.node(x.Right)
		return o.joinOn(x)
	case *Project:
		x.Input = o.node(x.Input)
	case *Sort:
		x.Input = o.node(x.Input)
	case *Limit:
		x.Input = o.node(x.Input)
	case *Distinct:
		x.Input = o.node(x.Input)
	case *SetOp:
		x.Left, x.Right = o.node(x.Left), o.node(x.Right)
	case *SetFunc:
		x.Input = o.node(x.Input)
	case *Window:
		x.Input = o.node(x.Input)
	case *Aggregate:
		if x.Window == nil { // a windowed aggregation points at its WindowAssign
			x.Input = o.node(x.Input)
		}
	case *Insert:
		x.Input = o.node(x.Input)
	}
	return n
}

// planExprs lists the expressions a node evaluates.
func planExprs(n Node) []expr.Expr {
	switch x := n.(type) {
	case *Filter:
		return []expr.Expr{x.Pred}
	case *Project:
		return x.Exprs
	case *Join:
		return []expr.Expr{x.On}
	case *Aggregate:
		es := append([]expr.Expr(nil), x.GroupBy...)
		for _, a := range x.Aggs {
			es = append(es, a.Arg)
			for _, o := range a.Order {
				es = append(es, o.Expr)
			}
		}
		return es
	case *Values:
		var es []expr.Expr
		for _, r := range x.Rows {
			es = append(es, r...)
		}
		return es
	case *SetFunc:
		var es []expr.Expr
		for _, c := range x.Calls {
			es = append(es, c.Args...)
		}
		return es
	case *Window:
		var es []expr.Expr
		for _, f := range x.Funcs {
			es = append(es, f.Args...)
			es = append(es, f.PartitionBy...)
			for _, k := range f.OrderBy {
				es = append(es, k.Expr)
			}
			if f.Agg != nil {
				es = append(es, f.Agg.Arg)
			}
		}
		return es
	}
	return nil
}

// pushable reports whether a condition may be evaluated elsewhere than
// where it was written: it calls no volatile function.
func pushable(e expr.Expr) bool {
	ok := true
	walkExpr(e, func(x expr.Expr) {
		if c, isCall := x.(*expr.Call); isCall && c.Fn != "now" {
			if d, found := expr.Builtins().Lookup(c.Fn); found && d.Volatile {
				ok = false
			}
		}
	})
	return ok
}

// push returns n filtered by the conjunction of preds, with each conjunct
// moved as far down into n as it can go.
func (o *optimizer) push(n Node, preds []expr.Expr) Node {
	if len(preds) == 0 {
		return n
	}
	var keep []expr.Expr
	if o.refs[n] > 1 {
		return &Filter{Input: n, Pred: conjoin(preds)}
	}
	switch x := n.(type) {
	case *Filter:
		return o.push(x.Input, append(conjuncts(x.Pred), preds...))
	case *Join:
		nl := len(x.Left.Schema())
		var left, right, both []expr.Expr
		for _, p := range preds {
			if !pushable(p) {
				keep = append(keep, p)
				continue
			}
			switch optSide(p, nl) {
			case optLeft:
				if x.Kind == plan.RightJoin || x.Kind == plan.FullJoin {
					keep = append(keep, p)
				} else {
					left = append(left, p)
				}
			case optRight:
				if x.Kind == plan.LeftJoin || x.Kind == plan.FullJoin {
					keep = append(keep, p)
				} else if s, ok := optShiftCols(p, -nl); ok {
					right = append(right, s)
				} else {
					keep = append(keep, p)
				}
			case optBoth:
				if x.Kind == plan.InnerJoin || x.Kind == plan.CrossJoin {
					both = append(both, p)
				} else {
					keep = append(keep, p)
				}
			default:
				keep = append(keep, p)
			}
		}
		x.Left = o.push(x.Left, left)
		x.Right = o.push(x.Right, right)
		if len(both) > 0 {
			if x.On != nil {
				both = append(conjuncts(x.On), both...)
			}
			x.On = conjoin(both)
			if x.Kind == plan.CrossJoin {
				x.Kind = plan.InnerJoin
			}
		}
	case *SetFunc:
		width := len(x.Input.Schema())
		var below []expr.Expr
		for _, p := range preds {
			if pushable(p) && optMaxCol(p) < width {
				below = append(below, p)
			} else {
				keep = append(keep, p)
			}
		}
		x.Input = o.push(x.Input, below)
	case *Project:
		var below []expr.Expr
		for _, p := range preds {
			if s, ok := throughProject(p, x); ok && pushable(p) {
				below = append(below, s)
			} else {
				keep = append(keep, p)
			}
		}
		x.Input = o.push(x.Input, below)
	default:
		keep = preds
	}
	if len(keep) == 0 {
		return n
	}
	return &Filter{Input: n, Pred: conjoin(keep)}
}

// joinOn moves the one-sided conjuncts of a join's condition into its
// inputs where that keeps the join's meaning: either side of an inner
// join, the inner (null-extended) side of a LEFT or RIGHT join.
func (o *optimizer) joinOn(j *Join) Node {
	if j.On == nil {
		return j
	}
	nl := len(j.Left.Schema())
	var keep, left, right []expr.Expr
	for _, c := range conjuncts(j.On) {
		if !pushable(c) {
			keep = append(keep, c)
			continue
		}
		switch optSide(c, nl) {
		case optLeft:
			if j.Kind == plan.InnerJoin || j.Kind == plan.RightJoin {
				left = append(left, c)
				continue
			}
		case optRight:
			if j.Kind == plan.InnerJoin || j.Kind == plan.LeftJoin {
				if s, ok := optShiftCols(c, -nl); ok {
					right = append(right, s)
					continue
				}
			}
		}
		keep = append(keep, c)
	}
	if len(left) == 0 && len(right) == 0 {
		return j
	}
	j.Left = o.push(j.Left, left)
	j.Right = o.push(j.Right, right)
	if len(keep) == 0 {
		if j.Kind == plan.InnerJoin {
			j.Kind = plan.CrossJoin
		}
		j.On = nil
		if j.Kind != plan.CrossJoin {
			// An outer join needs a condition: every pair matches.
			j.On = conjoin([]expr.Expr{trueConst()})
		}
		return j
	}
	j.On = conjoin(keep)
	return j
}

func trueConst() expr.Expr {
	return &expr.Const{Val: datum.NewBool(true), Typ: datum.TypeBool}
}

const (
	optNone = iota
	optLeft
	optRight
	optBoth
)

// side tells which join input(s) a condition over the concatenated row
// reads (nl: the left input's width).
func optSide(e expr.Expr, nl int) int {
	s := optNone
	for c := range colsUsed(e) {
		if c < nl {
			s |= optLeft
		} else {
			s |= optRight
		}
	}
	return s
}

func optMaxCol(e expr.Expr) int {
	m := -1
	for c := range colsUsed(e) {
		m = max(m, c)
	}
	return m
}

// shiftCols returns e with every column index moved by d.
func optShiftCols(e expr.Expr, d int) (expr.Expr, bool) {
	r, err := mapCols(e, func(c *expr.Col) (expr.Expr, error) {
		return &expr.Col{Idx: c.Idx + d, Typ: c.Typ, Name: c.Name}, nil
	})
	return r, err == nil
}

// throughProject rewrites a condition over p's output as one over p's
// input, when every column it reads is a plain column or constant there.
func throughProject(e expr.Expr, p *Project) (expr.Expr, bool) {
	ok := true
	r, err := mapCols(e, func(c *expr.Col) (expr.Expr, error) {
		if c.Idx < 0 || c.Idx >= len(p.Exprs) {
			ok = false
			return c, nil
		}
		switch x := p.Exprs[c.Idx].(type) {
		case *expr.Col, *expr.Const:
			if x.Type() != c.Typ {
				ok = false
			}
			return x, nil
		}
		ok = false
		return c, nil
	})
	return r, ok && err == nil
}
