package plan

import (
	"github.com/weir-sql/weir/expr"
)

// This file extends the planner/executor contract (physical.go) with the
// operators of multi-input jobs: stream-stream joins, lookup joins against
// tables, UNION ALL, the lateness gate that keeps join inputs on time, and
// aggregations over updating inputs.
//
// # Updating streams
//
// Most rows flowing through a job are inserts. A regular outer join of two
// streams and a continuous aggregation whose results feed another
// aggregation produce updates instead: such a stream's rows carry one more
// column, always the last, named OpColName (BOOLEAN): true inserts the row,
// false retracts a row emitted before. Projections and filters pass it
// along; a SinkOp with Changelog set deletes retracted rows from a keyed
// table; a RetractAggOp folds inserts and retractions into its accumulators.

// OpColName is the name of an updating stream's last column.
const OpColName = "__op"

// JoinOp joins the rows of a stage's two inputs: Inputs[0] is the left,
// Inputs[1] the right; both are shuffled by their Keys, so rows with equal
// keys meet in one key range. The output row is the left input row, then the
// right input row (NULLs for the missing side of an outer join), then, when
// Updating, the op column.
//
// Rows are matched on equal Keys (a NULL key matches nothing) and Residual
// (over the output row; nil: none). Each side keeps its rows as state until
// no future row of the other side can match them: Expire[s] lists bounds
// derived from the join condition, and a row r of side s is dropped once the
// stage's input watermark passes min over the bounds of (Expr(r) + Adjust).
// A side without bounds keeps every row forever (a regular join; the plan
// warns). Inputs must be on time for this to be exact: every row reaching
// the join has, in each time attribute the bounds refer to, a value at least
// the join's input watermark (a LateGateOp in a source stage sees to it).
//
// Outer sides (Kind LeftJoin: the left; RightJoin: the right; FullJoin: both)
// also emit their rows that matched nothing, NULL-extended: when the row
// expires if the side is bounded (the output stays append-only), or at once
// and retracted at its first match if it is not (Updating is then set).
type JoinOp struct {
	OpBase
	Kind     JoinKind // InnerJoin, LeftJoin, RightJoin or FullJoin
	Keys     [2][]int // equi-join key columns of each input row, pairwise of one type
	Widths   [2]int   // columns of each input row
	Residual expr.Expr
	Expire   [2][]JoinBound
	Updating bool
}

// JoinBound is one expiry bound of a join side: Expr is over that side's
// input row and of type TIMESTAMP; Adjust is in microseconds.
type JoinBound struct {
	Expr   expr.Expr
	Adjust int64
}

func (*JoinOp) Stateful() bool { return true }

// Outer reports whether side s (0 left, 1 right) emits unmatched rows.
func (o *JoinOp) Outer(s int) bool {
	switch o.Kind {
	case LeftJoin:
		return s == 0
	case RightJoin:
		return s == 1
	case FullJoin:
		return true
	}
	return false
}

// LookupJoinOp joins each input row with the current rows of a table (a
// side input): a change to the table applies to the rows the job reads
// afterwards (from the next bundle on). The table side is TableExprs over
// the stored row, restricted to the stored rows for which TableFilter holds;
// it matches where StreamKeys (input columns) equal TableKeys (stored row
// columns) and Residual (over the output row) holds. When TableKeys are
// exactly the table's primary key each input row is one point read, else
// the table is indexed once per bundle. The output is the input row, then
// the table side's columns (NULLs when Outer and nothing matched).
type LookupJoinOp struct {
	OpBase
	Table       string
	TableID     uint64
	TableSchema Schema // the stored row
	PrimaryKey  []int  // the table's primary key columns (stored row)
	StreamKeys  []int
	TableKeys   []int
	TableFilter expr.Expr   // over the stored row; nil: every row
	TableExprs  []expr.Expr // over the stored row
	Residual    expr.Expr
	Outer       bool
}

func (*LookupJoinOp) Stateful() bool { return false }

// PointLookup reports whether TableKeys are exactly the table's primary key.
func (o *LookupJoinOp) PointLookup() bool {
	if len(o.PrimaryKey) == 0 || len(o.PrimaryKey) != len(o.TableKeys) {
		return false
	}
	for i, c := range o.PrimaryKey {
		if o.TableKeys[i] != c {
			return false
		}
	}
	return true
}

// UnionOp starts a stage that merges its inputs (UNION ALL): every input row
// passes unchanged. All inputs have the op's schema.
type UnionOp struct {
	OpBase
}

func (*UnionOp) Stateful() bool { return false }

// LateGateOp drops (and counts as late) the rows whose TimeCol is below the
// watermark the row is judged against plus Delta: in a source stage, the
// partition's watermark when the row was read. It makes which rows a join
// sees a deterministic function of the input order, as the windowed
// aggregation's combiner does for windows (executor/doc.go).
type LateGateOp struct {
	OpBase
	TimeCol int
	Delta   int64
}

func (*LateGateOp) Stateful() bool { return false }

// RetractAggOp is a continuous aggregation over an updating input (whose
// last column is the op column): inserts add to the accumulators,
// retractions remove from them. It is not lifted (no combiner). Its output
// is an updating stream: the key columns, one column per aggregate, then
// the op column; per bundle every group that changed retracts its previous
// row and inserts its new one (none once all its rows were retracted).
// Aggregates: count, sum, avg, min, max (not DISTINCT).
type RetractAggOp struct {
	OpBase
	KeyCols []int
	Aggs    []*expr.AggFunc
}

func (*RetractAggOp) Stateful() bool { return true }

// TopNOp ranks the rows of each partition of a window: per value of Keys
// (input columns, one of which is WindowCol, a window_start or window_end
// column) it keeps the first N rows in Order (N = 0: all of them), and when
// the watermark passes the window's end it emits them, each followed by its
// ROW_NUMBER (BIGINT, from 1). Rows equal in Order are ranked by their
// whole value, so the result is deterministic. It runs at the start of a
// stage keyed by Keys.
type TopNOp struct {
	OpBase
	Keys      []int
	Order     []SortKey
	N         int64
	WindowCol int
	WindowEnd bool  // WindowCol is window_end (else window_start)
	Size      int64 // the window's size (micros)
}

func (*TopNOp) Stateful() bool { return true }

// TeeOp starts a stage whose one input feeds two chains (a join whose
// inputs share their producer, planner/stages_join.go): each input row goes to the
// Side chain, whose last op's rows are the right input of the JoinOp that
// follows in the stage, and on to the next op of the stage (the left
// chain, ending in that JoinOp's left input). The Side ops are named,
// checked on updates and explained like the stage's own.
type TeeOp struct {
	OpBase
	Side []Op
}

// Stateful is false: the side ops that keep state are stateful
// themselves (a keyed stage is then known by its join, not by its tee).
func (o *TeeOp) Stateful() bool { return false }

// StageOps returns the ops of a stage with the side chains of its TeeOps
// after the tee, in plan order.
func StageOps(st *Stage) []Op {
	var out []Op
	for _, op := range st.Ops {
		out = append(out, op)
		if t, ok := op.(*TeeOp); ok {
			out = append(out, t.Side...)
		}
	}
	return out
}
