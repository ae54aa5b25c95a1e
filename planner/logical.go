package planner

import (
	"fmt"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// This file holds the logical plan: what a statement computes, as a tree of
// plain-data nodes produced by the binder (bind.go). Every expression in a
// node is typed and refers to the columns of the node's input(s) by index
// (expr.Col). Batch queries run the logical plan directly; jobs are compiled
// from it into stages (stages.go). ExplainLogical prints it.

// Node is a logical plan node.
type Node interface {
	// Schema is the node's output row.
	Schema() plan.Schema
	// Inputs are the node's children, in order.
	Inputs() []Node
	// describe is the node's line in ExplainLogical.
	describe() string
}

// Scan reads every row of a relation: a source (in a job: its stream), a
// table, or a system table served by the engine.
type Scan struct {
	Rel   *catalog.Relation
	Alias string // as written in FROM ("" if none)
	Cols  plan.Schema
}

// Values produces constant rows (VALUES, or a FROM-less SELECT's one row).
type Values struct {
	Rows [][]expr.Expr
	Cols plan.Schema
}

// Filter keeps the input rows for which Pred is true.
type Filter struct {
	Input Node
	Pred  expr.Expr
}

// Project computes Exprs over each input row.
type Project struct {
	Input Node
	Exprs []expr.Expr
	Cols  plan.Schema
}

// WindowAssign assigns each input row to the event-time windows containing
// its TimeCol: one output row per window (one for TUMBLE, Size/Slide for
// HOP), the input columns followed by window_start and window_end
// (TIMESTAMP). Sizes are microseconds.
type WindowAssign struct {
	Input   Node
	Kind    plan.WindowKind
	TimeCol int
	Size    int64
	Slide   int64 // = Size for TUMBLE
	Offset  int64
	Cols    plan.Schema
	// Pos is where the window was written (the TUMBLE/HOP call), for
	// errors found when the plan is compiled into a job.
	Pos sql.Pos
}

// StartCol and EndCol are the indexes of window_start and window_end in the
// output.
func (w *WindowAssign) StartCol() int { return len(w.Cols) - 2 }
func (w *WindowAssign) EndCol() int   { return len(w.Cols) - 1 }

// Spec returns the window as a WindowSpec over w's input.
func (w *WindowAssign) Spec() plan.WindowSpec {
	return plan.WindowSpec{Kind: w.Kind, TimeCol: w.TimeCol, Size: w.Size, Slide: w.Slide, Offset: w.Offset}
}

// Aggregate groups its input by GroupBy and computes Aggs per group. Output:
// one column per GroupBy expression, one per aggregate and, for a windowed
// aggregation, pane_timing (TEXT) and pane_index (BIGINT).
//
// Window is set when the aggregation is windowed: its input is (through
// stateless filters) the WindowAssign Window, and GroupBy includes that
// node's window_start or window_end column (WindowKeys lists which GroupBy
// entries those are). A windowed aggregation emits each window's row when
// the watermark passes the window's end; a plain one keeps running totals.
type Aggregate struct {
	Input      Node
	GroupBy    []expr.Expr
	Aggs       []*expr.AggFunc
	Window     *WindowAssign
	WindowKeys []int
	Cols       plan.Schema
}

// PaneCols returns the indexes of pane_timing and pane_index in the output
// (-1, -1 when the aggregation is not windowed).
func (a *Aggregate) PaneCols() (timing, index int) {
	if a.Window == nil {
		return -1, -1
	}
	n := len(a.GroupBy) + len(a.Aggs)
	return n, n + 1
}

// Join combines Left and Right rows; On (nil for CROSS) is over the
// concatenation of a left and a right row, which is also the output.
type Join struct {
	Kind        plan.JoinKind
	Left, Right Node
	On          expr.Expr
	Cols        plan.Schema
}

// Sort orders its input.
type Sort struct {
	Input Node
	Keys  []plan.SortKey
}

// Limit passes at most Count rows after skipping Offset rows. Count and
// Offset are constants or parameters (nil: no limit, no offset).
type Limit struct {
	Input  Node
	Count  expr.Expr
	Offset expr.Expr
}

// Distinct removes duplicate rows.
type Distinct struct {
	Input Node
}

// SetOp is UNION, INTERSECT or EXCEPT (All: keep duplicates). Both inputs
// have the output's column types (the binder casts them).
type SetOp struct {
	Op          string // "UNION", "INTERSECT", "EXCEPT"
	All         bool
	Left, Right Node
	Cols        plan.Schema
}

// SetFunc runs set-returning functions (generate_series, unnest, ...) over
// each input row: per input row it emits one row per result row of the
// functions, the input row's columns followed by every call's columns
// (Calls[i].Cols, in order). Several calls run in lockstep, as in a
// PostgreSQL select list: as many rows as the longest result, the shorter
// ones padded with NULLs; an input row for which every call returns no
// rows produces none. Arguments are expressions over the input row. In
// FROM, the input is the FROM items before the function (a function in
// FROM may read them, as PostgreSQL's are implicitly LATERAL) or a one-row
// Values; in a select list, it is the FROM clause's rows.
type SetFunc struct {
	Input Node
	Calls []*expr.SetCall
	Cols  plan.Schema
}

// Window computes window functions over its input: every input row, in
// the order of the first function's partition and ordering, followed by
// one column per function (Funcs[i]'s value for that row).
type Window struct {
	Input Node
	Funcs []*WindowFunc
	Cols  plan.Schema
}

// WindowFunc is one call f(...) OVER (PARTITION BY ... ORDER BY ... frame).
// The partition of a row is the input rows with equal PartitionBy values
// (NULLs equal); within it rows are ordered by OrderBy, and rows equal on
// OrderBy are peers. Expressions are over the input row.
type WindowFunc struct {
	// Fn is row_number, rank, dense_rank, percent_rank, cume_dist, ntile,
	// lag, lead, first_value, last_value or nth_value; "" for an aggregate
	// (Agg) computed over the frame.
	Fn          string
	Args        []expr.Expr
	Agg         *expr.AggFunc
	PartitionBy []expr.Expr
	OrderBy     []WindowOrder
	Frame       WindowFrame
	Typ         datum.Type
}

// WindowOrder is one ORDER BY key of a window.
type WindowOrder struct {
	Expr       expr.Expr
	Desc       bool
	NullsFirst bool
}

// FrameBoundKind is where a window frame starts or ends.
type FrameBoundKind uint8

const (
	UnboundedPreceding FrameBoundKind = iota + 1
	OffsetPreceding                   // Offset rows before (ROWS only)
	CurrentRow                        // the row (ROWS) or its first/last peer (RANGE)
	OffsetFollowing                   // Offset rows after (ROWS only)
	UnboundedFollowing
)

// FrameBound is one end of a window frame.
type FrameBound struct {
	Kind   FrameBoundKind
	Offset int64
}

// WindowFrame is the frame aggregates and first_value/last_value/nth_value
// see: PostgreSQL's default is RANGE BETWEEN UNBOUNDED PRECEDING AND
// CURRENT ROW (the whole partition without ORDER BY, since all rows are
// then peers).
type WindowFrame struct {
	Rows       bool // ROWS (else RANGE)
	Start, End FrameBound
}

// DefaultFrame is RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
var DefaultFrame = WindowFrame{Start: FrameBound{Kind: UnboundedPreceding}, End: FrameBound{Kind: CurrentRow}}

// String prints a call: rank() OVER (PARTITION BY a ORDER BY b DESC).
func (w *WindowFunc) String() string {
	var b strings.Builder
	if w.Agg != nil {
		b.WriteString(aggString(w.Agg))
	} else {
		b.WriteString(w.Fn + "(" + exprList(w.Args) + ")")
	}
	b.WriteString(" OVER (")
	sep := ""
	if len(w.PartitionBy) > 0 {
		b.WriteString("PARTITION BY " + exprList(w.PartitionBy))
		sep = " "
	}
	if len(w.OrderBy) > 0 {
		b.WriteString(sep + "ORDER BY ")
		for i, o := range w.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(o.Expr.String())
			if o.Desc {
				b.WriteString(" DESC")
			}
			if o.NullsFirst != o.Desc {
				if o.NullsFirst {
					b.WriteString(" NULLS FIRST")
				} else {
					b.WriteString(" NULLS LAST")
				}
			}
		}
		sep = " "
	}
	if w.Frame != DefaultFrame {
		b.WriteString(sep + w.Frame.String())
	}
	b.WriteString(")")
	return b.String()
}

// String prints a frame clause.
func (f WindowFrame) String() string {
	kw := "RANGE"
	if f.Rows {
		kw = "ROWS"
	}
	return kw + " BETWEEN " + f.Start.String() + " AND " + f.End.String()
}

func (b FrameBound) String() string {
	switch b.Kind {
	case UnboundedPreceding:
		return "UNBOUNDED PRECEDING"
	case OffsetPreceding:
		return fmt.Sprintf("%d PRECEDING", b.Offset)
	case CurrentRow:
		return "CURRENT ROW"
	case OffsetFollowing:
		return fmt.Sprintf("%d FOLLOWING", b.Offset)
	case UnboundedFollowing:
		return "UNBOUNDED FOLLOWING"
	}
	return "?"
}

// Insert writes its input into Target. Input's rows have exactly Target's
// columns, in order and of its types (missing columns are NULL).
type Insert struct {
	Target *catalog.Relation
	Input  Node
}

// Update sets columns of Target's rows: Input is the scan of Target (with
// the WHERE filter); for each of its rows, column Cols[i] becomes Exprs[i]
// (over the Input row, cast to the column's type).
type Update struct {
	Target *catalog.Relation
	Input  Node
	Cols   []int
	Exprs  []expr.Expr
}

// Delete removes Target's rows that Input (a scan of Target, with the WHERE
// filter) produces.
type Delete struct {
	Target *catalog.Relation
	Input  Node
}

func (n *Scan) Schema() plan.Schema         { return n.Cols }
func (n *Values) Schema() plan.Schema       { return n.Cols }
func (n *Filter) Schema() plan.Schema       { return n.Input.Schema() }
func (n *Project) Schema() plan.Schema      { return n.Cols }
func (n *WindowAssign) Schema() plan.Schema { return n.Cols }
func (n *Aggregate) Schema() plan.Schema    { return n.Cols }
func (n *Join) Schema() plan.Schema         { return n.Cols }
func (n *Sort) Schema() plan.Schema         { return n.Input.Schema() }
func (n *Limit) Schema() plan.Schema        { return n.Input.Schema() }
func (n *Distinct) Schema() plan.Schema     { return n.Input.Schema() }
func (n *SetOp) Schema() plan.Schema        { return n.Cols }
func (n *SetFunc) Schema() plan.Schema      { return n.Cols }
func (n *Window) Schema() plan.Schema       { return n.Cols }
func (n *Insert) Schema() plan.Schema       { return nil }
func (n *Update) Schema() plan.Schema       { return nil }
func (n *Delete) Schema() plan.Schema       { return nil }

func (n *Scan) Inputs() []Node         { return nil }
func (n *Values) Inputs() []Node       { return nil }
func (n *Filter) Inputs() []Node       { return []Node{n.Input} }
func (n *Project) Inputs() []Node      { return []Node{n.Input} }
func (n *WindowAssign) Inputs() []Node { return []Node{n.Input} }
func (n *Aggregate) Inputs() []Node    { return []Node{n.Input} }
func (n *Join) Inputs() []Node         { return []Node{n.Left, n.Right} }
func (n *Sort) Inputs() []Node         { return []Node{n.Input} }
func (n *Limit) Inputs() []Node        { return []Node{n.Input} }
func (n *Distinct) Inputs() []Node     { return []Node{n.Input} }
func (n *SetOp) Inputs() []Node        { return []Node{n.Left, n.Right} }
func (n *SetFunc) Inputs() []Node      { return []Node{n.Input} }
func (n *Window) Inputs() []Node       { return []Node{n.Input} }
func (n *Insert) Inputs() []Node       { return []Node{n.Input} }
func (n *Update) Inputs() []Node       { return []Node{n.Input} }
func (n *Delete) Inputs() []Node       { return []Node{n.Input} }

func (n *Scan) describe() string {
	s := fmt.Sprintf("scan %s %s", n.Rel.Kind, qualifiedName(n.Rel))
	if n.Alias != "" && n.Alias != n.Rel.Name {
		s += " AS " + n.Alias
	}
	return s
}

func (n *Values) describe() string {
	rows := make([]string, len(n.Rows))
	for i, r := range n.Rows {
		rows[i] = "(" + exprList(r) + ")"
	}
	return "values " + strings.Join(rows, ", ")
}

func (n *Filter) describe() string { return "filter " + n.Pred.String() }

func (n *Project) describe() string {
	parts := make([]string, len(n.Exprs))
	for i, e := range n.Exprs {
		parts[i] = e.String()
		if c, ok := e.(*expr.Col); !ok || c.Name != n.Cols[i].Name {
			parts[i] += " AS " + n.Cols[i].Name
		}
	}
	return "project " + strings.Join(parts, ", ")
}

func (n *WindowAssign) describe() string {
	return "window " + windowString(n.Spec(), n.Input.Schema())
}

func (n *Aggregate) describe() string {
	var b strings.Builder
	if n.Window != nil {
		b.WriteString("window-aggregate")
	} else {
		b.WriteString("aggregate")
	}
	b.WriteString(" group by (" + exprList(n.GroupBy) + ")")
	if len(n.Aggs) > 0 {
		b.WriteString(" aggs: " + aggList(n.Aggs))
	}
	return b.String()
}

func (n *Join) describe() string {
	s := n.Kind.String() + " join"
	if n.On != nil {
		s += " on " + n.On.String()
	}
	return s
}

func (n *Sort) describe() string {
	in := n.Input.Schema()
	parts := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		parts[i] = in[k.Col].Name
		if k.Desc {
			parts[i] += " DESC"
		}
		if k.NullsFirst != k.Desc {
			if k.NullsFirst {
				parts[i] += " NULLS FIRST"
			} else {
				parts[i] += " NULLS LAST"
			}
		}
	}
	return "sort " + strings.Join(parts, ", ")
}

func (n *Limit) describe() string {
	s := "limit"
	if n.Count != nil {
		s += " " + n.Count.String()
	}
	if n.Offset != nil {
		s += " offset " + n.Offset.String()
	}
	return s
}

func (n *Distinct) describe() string { return "distinct" }

func (n *SetOp) describe() string {
	s := strings.ToLower(n.Op)
	if n.All {
		s += " all"
	}
	return s
}

func (n *SetFunc) describe() string {
	parts := make([]string, len(n.Calls))
	for i, c := range n.Calls {
		parts[i] = c.String()
	}
	return "set-function " + strings.Join(parts, ", ")
}

func (n *Window) describe() string {
	parts := make([]string, len(n.Funcs))
	for i, f := range n.Funcs {
		parts[i] = f.String()
	}
	return "window-function " + strings.Join(parts, ", ")
}

func (n *Insert) describe() string {
	return fmt.Sprintf("insert into %s %s", n.Target.Kind, n.Target.Name)
}

func (n *Update) describe() string {
	cols := n.Target.Columns
	parts := make([]string, len(n.Cols))
	for i, c := range n.Cols {
		parts[i] = cols[c].Name + " = " + n.Exprs[i].String()
	}
	return fmt.Sprintf("update %s set %s", n.Target.Name, strings.Join(parts, ", "))
}

func (n *Delete) describe() string { return "delete from " + n.Target.Name }

func qualifiedName(r *catalog.Relation) string {
	if r.Schema != "" {
		return r.Schema + "." + r.Name
	}
	return r.Name
}

func exprList(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func aggList(aggs []*expr.AggFunc) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		parts[i] = aggString(a)
	}
	return strings.Join(parts, ", ")
}

// aggString prints an aggregate call: count(*), sum(x), count(DISTINCT x).
func aggString(a *expr.AggFunc) string { return a.String() }

// windowString prints a window over the columns of in: TUMBLE(ts, 1m).
func windowString(w plan.WindowSpec, in plan.Schema) string {
	col := fmt.Sprintf("$%d", w.TimeCol)
	if w.TimeCol >= 0 && w.TimeCol < len(in) {
		col = in[w.TimeCol].Name
	}
	var s string
	if w.Kind == plan.Hop {
		s = fmt.Sprintf("HOP(%s, %s, %s", col, formatMicros(w.Slide), formatMicros(w.Size))
	} else {
		s = fmt.Sprintf("TUMBLE(%s, %s", col, formatMicros(w.Size))
	}
	if w.Offset != 0 {
		s += ", " + formatMicros(w.Offset)
	}
	return s + ")"
}

// formatMicros prints a duration compactly: 1m, 10s, 1h30m, 250ms, 1d.
func formatMicros(us int64) string {
	if us == 0 {
		return "0s"
	}
	neg := us < 0
	if neg {
		us = -us
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	units := []struct {
		n    int64
		name string
	}{{86400e6, "d"}, {3600e6, "h"}, {60e6, "m"}, {1e6, "s"}, {1e3, "ms"}, {1, "us"}}
	for _, u := range units {
		if us >= u.n {
			fmt.Fprintf(&b, "%d%s", us/u.n, u.name)
			us %= u.n
		}
	}
	return b.String()
}
