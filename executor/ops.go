package executor

import (
	"fmt"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/table"
)

// emitFn passes one row to the next operator of the chain (or to the stage's
// output). Rows are owned by the receiver once emitted.
type emitFn func(row datum.Row) error

// operator is a running plan op inside one worker. All methods are called by
// the worker's goroutine only.
type operator interface {
	// process handles one input row.
	process(row datum.Row) error
	// advance fires every event-time timer below wm. natural is the
	// watermark without a drain's jump to +inf (panes fired above it are
	// DRAINED).
	advance(wm, natural int64) error
	// tick is called on processing-time ticks (emit_early).
	tick(now int64) error
	// flush ends the bundle: per-bundle outputs are emitted and state
	// changes are added to the worker's batch.
	flush() error
	// load restores the op's state for the worker's key range at start.
	load() error
	name() string
	stateful() bool
	stateBytes() int64
}

// baseOp provides no-op defaults.
type baseOp struct {
	opName string
	w      *worker
	out    emitFn
}

func (b *baseOp) advance(wm, natural int64) error { return nil }
func (b *baseOp) tick(now int64) error            { return nil }
func (b *baseOp) flush() error                    { return nil }
func (b *baseOp) load() error                     { return nil }
func (b *baseOp) name() string                    { return b.opName }
func (b *baseOp) stateful() bool                  { return false }
func (b *baseOp) stateBytes() int64               { return 0 }

// buildChain turns a stage's plan ops into running operators, wiring each
// op's output to the next and the last to out. This is the executor's one
// type switch over plan nodes.
func buildChain(w *worker, ops []plan.Op, out emitFn) ([]operator, error) {
	built := make([]operator, len(ops))
	next := out
	for i := len(ops) - 1; i >= 0; i-- {
		var op operator
		var err error
		base := baseOp{opName: ops[i].OpName(), w: w, out: next}
		switch p := ops[i].(type) {
		case *plan.FilterOp:
			op, err = newFilterOp(base, p)
		case *plan.ProjectOp:
			op, err = newProjectOp(base, p)
		case *plan.WindowAggOp:
			if p.Sliced {
				op, err = newSlicedAggOp(base, p)
			} else {
				op, err = newWindowAggOp(base, p)
			}
		case *plan.AggOp:
			op, err = newAggOp(base, p)
		case *plan.SinkOp:
			op, err = newSinkOp(base, p)
		case *plan.WindowAssignOp:
			op = &windowAssignOp{baseOp: base, spec: p.Window}
		case *plan.JoinOp:
			op, err = newJoinOp(base, p)
		case *plan.LookupJoinOp:
			op, err = newLookupJoinOp(base, p)
		case *plan.UnionOp:
			op = &unionOp{baseOp: base}
		case *plan.LateGateOp:
			op = &lateGateOp{baseOp: base, col: p.TimeCol, delta: p.Delta}
		case *plan.RetractAggOp:
			op, err = newRetractAggOp(base, p)
		case *plan.TopNOp:
			op, err = newTopNOp(base, p)
		case *plan.TeeOp:
			op, err = newTeeOp(base, p, built[i+1:])
		default:
			return nil, pgerr.New(pgerr.FeatureNotSupported, "executor: unsupported operator %T (%s)", p, ops[i].OpName())
		}
		if err != nil {
			return nil, err
		}
		built[i] = op
		next = op.process
	}
	return built, nil
}

// chainRetainsInput reports whether the operator chain may keep a
// reference to a row given to its first operator after process returns (so
// the row's memory cannot be reused). A filter passes its input on; a
// projection and a (partial or complete) window aggregation copy the
// datums they keep into rows of their own; every other operator, and the
// stage's output, may keep the row.
func chainRetainsInput(ops []operator) bool {
	for _, op := range ops {
		switch o := op.(type) {
		case *filterOp:
			continue
		case *projectOp:
			return false
		case *windowAggOp:
			return o.merge
		}
		return true
	}
	return true
}

type filterOp struct {
	baseOp
	pred func(datum.Row) (bool, error)
}

func newFilterOp(b baseOp, p *plan.FilterOp) (operator, error) {
	pred, err := expr.CompilePredicate(p.Pred)
	if err != nil {
		return nil, err
	}
	return &filterOp{baseOp: b, pred: pred}, nil
}

func (f *filterOp) process(row datum.Row) error {
	ok, err := f.pred(row)
	if err != nil {
		return f.w.recordError(row, err)
	}
	if ok {
		return f.out(row)
	}
	return nil
}

type projectOp struct {
	baseOp
	evals []expr.Evaluator
}

func newProjectOp(b baseOp, p *plan.ProjectOp) (operator, error) {
	evals := make([]expr.Evaluator, len(p.Exprs))
	for i, e := range p.Exprs {
		ev, err := expr.Compile(e)
		if err != nil {
			return nil, err
		}
		evals[i] = ev
	}
	return &projectOp{baseOp: b, evals: evals}, nil
}

func (p *projectOp) process(row datum.Row) error {
	out := make(datum.Row, len(p.evals))
	for i, ev := range p.evals {
		d, err := ev(row)
		if err != nil {
			return p.w.recordError(row, err)
		}
		out[i] = d
	}
	return p.out(out)
}

// sinkOp writes rows to a table in the bundle's batch (so they commit with
// the bundle); for an exactly-once external sink (postgres, kafka, nats)
// into the sink's outbox in the same batch (outbox.go); for other sinks
// (blackhole, stdout, file) it hands them over after the commit (at most
// once: a crash between the commit and the write loses them).
type sinkOp struct {
	baseOp
	plan    *plan.SinkOp
	sink    connector.Sink
	writer  *sinkWriter // exactly-once sinks
	pending []datum.Row
	deletes []bool // exactly-once sinks: pending[i] retracts its key
}

func newSinkOp(b baseOp, p *plan.SinkOp) (operator, error) {
	s := &sinkOp{baseOp: b, plan: p}
	if !p.IsTable {
		if sw := b.w.job.sinks[p.TargetID]; sw != nil {
			s.writer = sw
			return s, nil
		}
		sink, err := b.w.job.x.sinkFor(p)
		if err != nil {
			return nil, err
		}
		s.sink = sink
	}
	return s, nil
}

func (s *sinkOp) process(row datum.Row) error {
	w := s.w
	if s.plan.Changelog {
		// An updating stream: the last column says insert or retract.
		insert := row[len(row)-1].Bool()
		row = row[:len(row)-1]
		if !insert {
			if s.plan.IsTable && len(s.plan.PrimaryKey) > 0 {
				table.Delete(w.batch, table.KeyOf(s.plan.TargetID, s.plan.PrimaryKey, row))
			} else if s.writer != nil && len(s.plan.PrimaryKey) > 0 {
				s.addDelete(row)
			}
			return nil
		}
	}
	w.bundleOut++
	if s.plan.IsTable {
		if len(s.plan.PrimaryKey) > 0 {
			table.Upsert(w.batch, s.plan.TargetID, s.plan.PrimaryKey, row)
		} else {
			w.appendSeq++
			table.Append(w.batch, s.plan.TargetID, w.writerID(), w.appendSeq, row)
		}
		return nil
	}
	s.pending = append(s.pending, row)
	if s.deletes != nil {
		s.deletes = append(s.deletes, false)
	}
	return nil
}

// addDelete queues the retraction of row's key for an exactly-once sink.
func (s *sinkOp) addDelete(row datum.Row) {
	if s.deletes == nil {
		s.deletes = make([]bool, len(s.pending), cap(s.pending))
	}
	s.pending = append(s.pending, row)
	s.deletes = append(s.deletes, true)
}

func (s *sinkOp) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	rows := s.pending
	s.pending = nil
	if sw := s.writer; sw != nil {
		// Strong production: the rows enter the outbox in the bundle's
		// batch; the delivery loop sees them once the batch is durable.
		e := connector.OutboxEntry{Seq: sw.reserve(len(rows)), Rows: rows, Deletes: s.deletes}
		s.deletes = nil
		s.w.batch.Set(outboxKey(s.w.job.meta.StateNS, s.plan.TargetID, e.Seq), encodeOutbox(e.Rows, e.Deletes))
		s.w.afterCommit = append(s.w.afterCommit, func() error { sw.committed(e); return nil })
		return nil
	}
	s.w.afterCommit = append(s.w.afterCommit, func() error {
		if err := s.sink.Write(rows); err != nil {
			return fmt.Errorf("sink %s: %w", s.plan.Target, err)
		}
		return nil
	})
	return nil
}

// windowAssignOp emits each row once per window containing its event time,
// with window_start and window_end appended.
type windowAssignOp struct {
	baseOp
	spec plan.WindowSpec
}

func (o *windowAssignOp) process(row datum.Row) error {
	tsd := row[o.spec.TimeCol]
	if tsd.IsNull() {
		return o.w.recordError(row, pgerr.New(pgerr.NullValueNotAllowed, "event time is NULL"))
	}
	ts := tsd.Micros()
	slide := o.spec.Slide
	if slide <= 0 {
		slide = o.spec.Size
	}
	last := floorDiv(ts-o.spec.Offset, slide)*slide + o.spec.Offset
	for st := last; st > ts-o.spec.Size; st -= slide {
		out := make(datum.Row, len(row), len(row)+2)
		copy(out, row)
		out = append(out, datum.NewTimestamp(st), datum.NewTimestamp(st+o.spec.Size))
		if err := o.out(out); err != nil {
			return err
		}
	}
	return nil
}
