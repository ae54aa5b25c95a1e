package plan

import (
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
)

// This file is the contract between the planner and the executor: a job's
// physical plan as plain data. The executor's builder turns it into running
// operators with one type switch; nothing here runs.

// Column is a named, typed column of a schema.
type Column struct {
	Name    string
	Type    datum.Type
	NotNull bool
}

// Schema is an ordered list of columns.
type Schema []Column

// JobPlan is a streaming job compiled into stages of fused operators.
type JobPlan struct {
	Job    string   // job name
	Stages []*Stage // topologically ordered: every stage's inputs come before it
	// Options are the job's WITH options, validated.
	Options JobOptions
	// SideInputs are tables read by lookup joins (for the update check).
	SideInputs []string
	// SQL is the job's INSERT statement text, as stored in the catalog.
	SQL string
	// Warnings are things the job does that are probably unintended (a
	// join whose state grows without bound); EXPLAIN JOB prints them.
	Warnings []string
}

// JobOptions are CREATE JOB ... WITH (...) options, parsed and defaulted.
type JobOptions struct {
	Parallelism     int    // 0 = auto
	MinWorkers      int    // default 1
	MaxWorkers      int    // default: number of CPUs
	AllowedLateness int64  // micros; 0 = none
	EmitEarly       int64  // micros of processing time; 0 = off
	SnapshotEvery   int64  // micros; 0 = off
	SnapshotKeep    int    // scheduled snapshots kept (default 3)
	LateData        string // "drop" (default) or "dead_letters"
	// Raw holds every option as given (including ones the executor ignores).
	Raw map[string]string
}

// Stage is a chain of fused operators that run together on one key range,
// without a shuffle in between. Records enter a stage either from a source
// (Source != nil) or from upstream stages, shuffled by KeyCols of the
// upstream stage's output (each Input names the upstream stage).
type Stage struct {
	ID   int
	Name string // "s0", "s1", ...

	// Source is set for a source stage: the stage reads this source, split
	// into Parallelism partitions.
	Source *SourceSpec

	// Inputs are the upstream stages feeding this stage (keyed stages).
	Inputs []StageInput

	// Ops is the fused chain. Each op's output row feeds the next op; the
	// last op's output goes to the stage's Output.
	Ops []Op

	// Output says where the last op's rows go: to downstream stages
	// (shuffled by KeyCols of the output row) or nowhere (the last op is a
	// sink).
	Output *StageOutput

	// Parallelism is the fixed number of key ranges/partitions, or 0 for
	// the autoscaler to choose.
	Parallelism int
}

// StageInput connects an upstream stage to this one.
type StageInput struct {
	Stage  int // upstream stage ID
	Schema Schema
}

// StageOutput describes how a stage's output rows are partitioned for the
// downstream stage: by the hash of KeyCols (nil = a single global key, e.g.
// a global aggregate).
type StageOutput struct {
	Stage   int // downstream stage ID
	KeyCols []int
	Schema  Schema
	// TimeCol is the output column holding each row's event time (for
	// watermark holds and lateness), or -1.
	TimeCol int
}

// SourceSpec is what a source stage reads.
type SourceSpec struct {
	// OpName is the source read's stable operator name, source_<name>
	// (planner/names.go): source positions and the update check's "a source was
	// replaced" are keyed by it.
	OpName    string
	Name      string            // catalog name of the source
	ID        uint64            // catalog id
	Connector string            // "log", "file", "datagen", "nexmark"
	Options   map[string]string // WITH options
	Schema    Schema
	// TimeCol is the index of the WATERMARK FOR column (-1 if none).
	TimeCol int
	// WatermarkDelay is how far the watermark trails the max event time
	// seen, from `WATERMARK FOR ts AS ts - INTERVAL ...` (micros).
	WatermarkDelay int64
	// Watermark is the full watermark expression over the source row, for
	// printing (the executor uses TimeCol and WatermarkDelay).
	Watermark expr.Expr
	// IdleTimeout (micros, 0 = off): after this long without records the
	// source's watermark follows processing time minus WatermarkDelay.
	IdleTimeout int64
	// Bounded reports whether the source ends (file, datagen with rows, ...).
	Bounded bool
}

// Op is one operator of a stage. Every op has a stable, readable name that
// is unique within its job (see planner/names.go): state is keyed by it, and
// updates match operators by it.
type Op interface {
	OpName() string
	// Stateful reports whether the op keeps state across bundles (its state
	// must be carried by updates and snapshots).
	Stateful() bool
	// OutSchema is the schema of the rows the op emits.
	OutSchema() Schema
}

// OpBase holds what every op has.
type OpBase struct {
	Name   string
	Schema Schema
}

func (o *OpBase) OpName() string    { return o.Name }
func (o *OpBase) OutSchema() Schema { return o.Schema }

// FilterOp keeps rows for which Pred is true.
type FilterOp struct {
	OpBase
	Pred expr.Expr
}

// ProjectOp computes Exprs over its input row.
type ProjectOp struct {
	OpBase
	Exprs []expr.Expr
}

// WindowKind is TUMBLE or HOP.
type WindowKind uint8

const (
	Tumble WindowKind = iota + 1
	Hop
)

// WindowSpec describes event-time windows over TimeCol of the op's input:
// windows of Size, starting every Slide (= Size for TUMBLE), shifted by
// Offset; half-open [start, end). All in microseconds.
type WindowSpec struct {
	Kind                WindowKind
	TimeCol             int
	Size, Slide, Offset int64
}

// WindowAggOp is a windowed aggregation. Input rows are grouped by KeyCols
// (input column indexes, excluding the window) and assigned to the windows
// of Window; per (key, window) it keeps accumulators for Aggs (whose Arg
// expressions are over the input row). A window's row is emitted when the
// watermark passes its end (ON_TIME), earlier with emit_early (EARLY), again
// for late rows within allowed lateness (LATE), or on drain (DRAINED).
//
// Output row: the key columns (in KeyCols order), window_start, window_end,
// one column per aggregate, pane_timing (TEXT), pane_index (BIGINT).
//
// Combiner lifting (planner/stages.go): the Partial op's output row, which is what
// crosses the shuffle, is the key columns, window_start (TIMESTAMP), one
// BYTEA accumulator per aggregate, the largest event time folded into the
// row (TIMESTAMP, the StageOutput's TimeCol) and the number of input rows
// folded (BIGINT). The Merge op downstream reads that row: its KeyCols are
// 0..len(keys)-1, its Window.TimeCol is the event-time column, and its Aggs
// are the Partial's (their Arg expressions refer to the Partial's input and
// only give types); the accumulator of Aggs[i] is input column
// len(KeyCols)+1+i.
//
// Partial is set on the combiner half of a lifted aggregation: it runs
// before the shuffle, keeps no state across bundles, and emits per bundle
// one row per (key, window) whose aggregate columns are encoded partial
// accumulators (BYTEA) plus the max event time seen; the matching final op
// (Merge set) merges them. An unlifted WindowAggOp has neither flag.
type WindowAggOp struct {
	OpBase
	Window  WindowSpec
	KeyCols []int
	Aggs    []*expr.AggFunc
	Partial bool
	Merge   bool
	// Prewindowed is set when the input rows are already windowed (the
	// results of an upstream windowed aggregation, grouped again by their
	// window): Window.TimeCol is then the input's window_start
	// (PrewindowedStart) or window_end (PrewindowedEnd) column, and each row
	// belongs to that one window. Zero for a window assigned from event time.
	Prewindowed uint8
	// Sliced (partial and merge alike) aggregates each row once, into the
	// slice of its event time (the window slide; TUMBLE: the window), and a
	// window's result combines its slices when it fires: a row costs one
	// accumulator update whatever the number of windows it belongs to.
	// The Partial's row then ends with one more column, the end of the
	// first window its slice counts for (TIMESTAMP; later than the slice's
	// first window when the rows were late for the earlier ones). Set for
	// sliding (HOP) and pre-windowed aggregations when the job has neither
	// allowed_lateness nor emit_early (a window then fires exactly one
	// pane). The state is laid out per slice, so an update cannot change
	// the window's size or slide.
	Sliced bool
	// PartitionCols, on an unlifted sliced op (neither Partial nor Merge:
	// the side chain of a TeeOp), are the input columns the stage is keyed
	// by: a slice's state is filed under their hash, the key range's, not
	// its group key's.
	PartitionCols []int
}

// WindowAggOp.Prewindowed values.
const (
	PrewindowedStart = 1
	PrewindowedEnd   = 2
)

func (o *WindowAggOp) Stateful() bool { return !o.Partial }

// AggOp is a non-windowed (continuous) aggregation: per key it keeps the
// accumulators and, at the end of each bundle, emits the current result
// row of every key that changed (an upsert into a keyed table). Output:
// key columns then one column per aggregate. Partial/Merge as WindowAggOp:
// the Partial's output row is the key columns then one BYTEA accumulator
// per aggregate, and the Merge's KeyCols are 0..len(keys)-1.
type AggOp struct {
	OpBase
	KeyCols []int
	Aggs    []*expr.AggFunc
	Partial bool
	Merge   bool
	// Retract (merge or unlifted op only) makes the output an updating
	// stream (physical_join.go): a changed group that had been emitted
	// before first retracts its previous row. Set when the results feed
	// another aggregation.
	Retract bool
}

func (o *AggOp) Stateful() bool { return !o.Partial }

// SinkOp writes its input rows to a table (upserted by PrimaryKey, or
// appended when there is none) or to a sink connector.
type SinkOp struct {
	OpBase
	Target     string // table or sink name
	TargetID   uint64
	IsTable    bool
	PrimaryKey []int             // column indexes into the input row (tables with a key)
	Connector  string            // sinks: "blackhole", "stdout", "file"
	Options    map[string]string // sinks: WITH options
	// Changelog: the input is an updating stream whose last column is the
	// op column (physical_join.go): retractions delete the row with their
	// primary key from a keyed table and are not written elsewhere.
	Changelog bool
}

// WindowAssignOp assigns each input row to the windows containing its
// Window.TimeCol and emits it once per window (once for TUMBLE, Size/Slide
// times for HOP), with window_start and window_end (TIMESTAMP) appended.
// Stateless; used when a job windows rows without aggregating them (a
// windowed aggregation assigns windows itself).
type WindowAssignOp struct {
	OpBase
	Window WindowSpec
}

func (*FilterOp) Stateful() bool       { return false }
func (*WindowAssignOp) Stateful() bool { return false }
func (*ProjectOp) Stateful() bool      { return false }
func (*SinkOp) Stateful() bool         { return false }

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

// SortKey orders by column Col of the input.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// UpdateProblem is one reason an update is refused.
type UpdateProblem struct {
	Operator string // the old job's operator (or source / side input)
	Reason   string
}
