// Package plan is the physical plan of a streaming job as plain data: what
// crosses from the planner, which builds it, to the executor, which runs it.
//
// # Layer
//
// The pipeline of a job, package by package:
//
//	sql ──parse──► planner ──bind, cut into stages, name──► plan ──build──► executor ──commit──► state
//	(TiDB parser,   (logical plan,                           (JobPlan,       (workers,          (Pebble:
//	 Postgres        stages.go, names.go)                      Stage, Ops)     bundles, timers)   state, timers,
//	 dialect)                                                                                     queues, logs)
//
// A JobPlan is a list of Stages in topological order; each Stage is a chain
// of fused Ops (FilterOp, ProjectOp, WindowAggOp, AggOp, JoinOp, SinkOp, ...)
// fed by a source (SourceSpec) or by upstream stages through a shuffle
// (StageInput, StageOutput). Every Op carries its stable name (OpBase.Name):
// state, timers and the compatibility check of ALTER JOB ... UPDATE
// (UpdateProblem) are keyed by it. JobOptions are the job's validated WITH
// options.
//
// plan imports only datum (types) and expr (compiled expressions and
// aggregate functions); never sql, planner or the TiDB parser, so the
// executor, and every worker that runs it, builds without the SQL front end.
// `make lint` checks this with go list -deps.
//
// # Lifecycle and concurrency
//
// Plans are values: the planner builds one per CREATE JOB, EXPLAIN JOB or
// update check, and nothing mutates a plan once it is returned. The executor
// reads it from many goroutines at once; nothing here runs or locks.
package plan
