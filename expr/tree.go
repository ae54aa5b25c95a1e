package expr

import (
	"github.com/weir-sql/weir/datum"
)

// Expr is a typed, resolved scalar expression over one input row. Expression
// trees are plain data built by the planner (see Resolve* in resolve.go) and
// printed in EXPLAIN; Compile turns one into a function for the hot path.
type Expr interface {
	// Type is the SQL type of the expression's result.
	Type() datum.Type
	// String prints the expression for EXPLAIN and for operator names.
	String() string
}

// Col reads column Idx of the input row. Name is for printing only.
type Col struct {
	Idx  int
	Typ  datum.Type
	Name string
}

// Const is a literal value.
type Const struct {
	Val datum.Datum
	Typ datum.Type
}

// Param is a statement parameter ($1 is Index 1), bound before execution.
type Param struct {
	Index int
	Typ   datum.Type
}

// Call applies a scalar function or operator. Fn is the canonical lower-case
// name: operators are spelled as themselves ("+", "-", "*", "/", "%", "^",
// "=", "<>", "<", "<=", ">", ">=", "and", "or", "not", "neg", "||", "like",
// "not like", "ilike", "not ilike", "~", "!~", "~*", "!~*", "is null",
// "is not null", "is true", "is false", "is not true", "is not false",
// "is distinct from", "is not distinct from", "in", "not in"; for IN,
// Args[0] is the tested value and Args[1:] the list), functions by their
// name in the Registry ("lower", "coalesce", "date_trunc", ...; see
// Builtins().Names()). Build calls with ResolveCall, which types them.
type Call struct {
	Fn   string
	Args []Expr
	Typ  datum.Type

	// def caches the registry entry the call was resolved against, so that
	// functions registered in a cloned Registry compile without one. Nil for
	// operators and for calls built by hand (Compile then looks Fn up).
	def *FuncDef
}

// Case is CASE [Operand] WHEN ... THEN ... [ELSE ...] END. With an Operand,
// each When's Cond is compared for equality with it.
type Case struct {
	Operand Expr
	Whens   []When
	Else    Expr
	Typ     datum.Type
}

// When is one arm of a Case.
type When struct {
	Cond, Then Expr
}

// Cast converts Arg to type To with PostgreSQL's cast rules.
type Cast struct {
	Arg Expr
	To  datum.Type
}

// Apply is a value computed by a Go function of its arguments' values
// (NULL arguments included). The batch evaluator builds it for what only it
// can compute, such as a correlated subquery run once per row of the
// enclosing query; the binder never does. It is never constant-folded.
type Apply struct {
	Name string // for printing
	Args []Expr
	Typ  datum.Type
	Fn   func(args []datum.Datum) (datum.Datum, error)
}

func (e *Apply) Type() datum.Type { return e.Typ }

func (e *Col) Type() datum.Type   { return e.Typ }
func (e *Const) Type() datum.Type { return e.Typ }
func (e *Param) Type() datum.Type { return e.Typ }
func (e *Call) Type() datum.Type  { return e.Typ }
func (e *Case) Type() datum.Type  { return e.Typ }
func (e *Cast) Type() datum.Type  { return e.To }

// Type is the aggregate's result type. AggFunc is not a scalar expression:
// Compile rejects it (the executor evaluates aggregates with Acc/AccSet).
func (e *AggFunc) Type() datum.Type { return e.Typ }

// AggFunc is one aggregate call in a GROUP BY: count(*), count(x),
// count(DISTINCT x), sum, avg, min, max, stddev_pop, stddev_samp, var_pop,
// var_samp, bool_and, bool_or, string_agg, array_agg (an array is TEXT; see
// arrays.go). Arg is nil for count(*).
type AggFunc struct {
	Fn       string
	Arg      Expr
	Distinct bool
	Typ      datum.Type // result type
	Delim    string     // string_agg's delimiter (a constant)
	// Order is the call's ORDER BY (array_agg(x ORDER BY y)): the order
	// in which the aggregate sees its inputs. Only batch queries evaluate
	// it; jobs reject it.
	Order []AggOrder
}

// AggOrder is one ORDER BY key of an aggregate call.
type AggOrder struct {
	Expr       Expr
	Desc       bool
	NullsFirst bool
}
