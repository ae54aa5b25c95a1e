package planner

import (
	"fmt"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/expr"
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
	Schema() Schema
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
	Cols  Schema
}

// Values produces constant rows (VALUES, or a FROM-less SELECT's one row).
type Values struct {
	Rows [][]expr.Expr
	Cols Schema
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
	Cols  Schema
}

// WindowAssign assigns each input row to the event-time windows containing
// its TimeCol: one output row per window (one for TUMBLE, Size/Slide for
// HOP), the input columns followed by window_start and window_end
// (TIMESTAMP). Sizes are microseconds.
type WindowAssign struct {
	Input   Node
	Kind    WindowKind
	TimeCol int
	Size    int64
	Slide   int64 // = Size for TUMBLE
	Offset  int64
	Cols    Schema
	// Pos is where the window was written (the TUMBLE/HOP call), for
	// errors found when the plan is compiled into a job.
	Pos sql.Pos
}

// StartCol and EndCol are the indexes of window_start and window_end in the
// output.
func (w *WindowAssign) StartCol() int { return len(w.Cols) - 2 }
func (w *WindowAssign) EndCol() int   { return len(w.Cols) - 1 }

// Spec returns the window as a WindowSpec over w's input.
func (w *WindowAssign) Spec() WindowSpec {
	return WindowSpec{Kind: w.Kind, TimeCol: w.TimeCol, Size: w.Size, Slide: w.Slide, Offset: w.Offset}
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
	Cols       Schema
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

// JoinKind is the kind of a Join.
type JoinKind uint8

const (
	InnerJoin JoinKind = iota + 1
	LeftJoin
	RightJoin
	FullJoin
	CrossJoin
)

func (k JoinKind) String() string {
	switch k {
	case InnerJoin:
		return "inner"
	case LeftJoin:
		return "left"
	case RightJoin:
		return "right"
	case FullJoin:
		return "full"
	case CrossJoin:
		return "cross"
	}
	return "join?"
}

// Join combines Left and Right rows; On (nil for CROSS) is over the
// concatenation of a left and a right row, which is also the output.
type Join struct {
	Kind        JoinKind
	Left, Right Node
	On          expr.Expr
	Cols        Schema
}

// SortKey orders by column Col of the input.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Sort orders its input.
type Sort struct {
	Input Node
	Keys  []SortKey
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
	Cols        Schema
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

func (n *Scan) Schema() Schema         { return n.Cols }
func (n *Values) Schema() Schema       { return n.Cols }
func (n *Filter) Schema() Schema       { return n.Input.Schema() }
func (n *Project) Schema() Schema      { return n.Cols }
func (n *WindowAssign) Schema() Schema { return n.Cols }
func (n *Aggregate) Schema() Schema    { return n.Cols }
func (n *Join) Schema() Schema         { return n.Cols }
func (n *Sort) Schema() Schema         { return n.Input.Schema() }
func (n *Limit) Schema() Schema        { return n.Input.Schema() }
func (n *Distinct) Schema() Schema     { return n.Input.Schema() }
func (n *SetOp) Schema() Schema        { return n.Cols }
func (n *Insert) Schema() Schema       { return nil }
func (n *Update) Schema() Schema       { return nil }
func (n *Delete) Schema() Schema       { return nil }

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
func aggString(a *expr.AggFunc) string {
	if a.Arg == nil {
		return a.Fn + "(*)"
	}
	if a.Distinct {
		return a.Fn + "(DISTINCT " + a.Arg.String() + ")"
	}
	return a.Fn + "(" + a.Arg.String() + ")"
}

// windowString prints a window over the columns of in: TUMBLE(ts, 1m).
func windowString(w WindowSpec, in Schema) string {
	col := fmt.Sprintf("$%d", w.TimeCol)
	if w.TimeCol >= 0 && w.TimeCol < len(in) {
		col = in[w.TimeCol].Name
	}
	var s string
	if w.Kind == Hop {
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
