// Package executor runs streaming jobs: it turns a planner.JobPlan into
// workers that process bundles of records and commit each bundle in one
// atomic Pebble batch, following Google's MillWheel and Dataflow.
//
// # Layer
//
// The executor sits below the engine (which owns the catalog and SQL) and
// above state (the Pebble store, keyed state, timers), connector (sources and
// sinks), table (table rows) and expr (compiled expressions). It never
// imports sql, server or the TiDB AST; plans reach it as plain data
// (planner/physical.go) and its builder (build.go) turns each plan op into a
// running operator with one type switch.
//
// # Bundles and commits
//
// A worker owns one partition of a source stage or one key range of a keyed
// stage. It takes a bundle of input (records read from its source partition,
// or the shuffle-queue entries delivered to its key range), pushes every
// record through the stage's fused operator chain, advances its input
// watermark and fires the event-time timers it passed, and then commits one
// batch holding: the operators' state changes, timers set and cleared, the
// records produced for downstream stages (as durable queue entries), the rows
// written to tables, the deletion of the queue entries it consumed and their
// fingerprints (so a re-delivered entry is dropped: dedup.go), its source
// position and its watermark. Only after the batch is synced are the outputs
// handed to downstream workers in memory and the new watermark published, so
// nothing a bundle did is visible or acknowledged before it is durable; after
// a crash every worker resumes from its last commit and re-reads the queue
// entries still on disk ("strong production": what was committed is re-sent
// bit for bit, never recomputed).
//
// # Watermarks
//
// A source partition's watermark is the maximum event time it has read minus
// the source's delay (WATERMARK FOR ts AS ts - INTERVAL ...), moving to
// +infinity at the end of a bounded partition and following processing time
// after idle_timeout. A stage's output watermark is the minimum over its
// workers; a keyed worker's input watermark is the minimum of its upstream
// stages' output watermarks, read BEFORE it takes its pending queue entries
// and applied only after it has processed them, so a record produced before a
// watermark was published is always processed before that watermark fires a
// timer. Watermarks are persisted with each commit and never move backwards,
// also across restarts.
//
// Lateness is decided where a record is first windowed (the combiner in the
// source stage): against its partition's watermark at the moment it is read.
// That makes which records are late a deterministic function of the input
// order, independent of scheduling, so results can be compared with an
// oracle; a record judged on time always reaches its window before the window
// fires.
//
// # Multi-input stages
//
// A join of two streams, or a UNION ALL, is a keyed stage with several
// inputs; a delivery's queue key names the stage that produced it, and the
// first operator of such a stage (joinOp) tells its inputs apart
// (join.go: worker.entry). The stage's input watermark is the minimum of
// its inputs'. A join keeps each side's rows in memory and in the store
// until the watermark proves no row of the other side can match them; its
// inputs are judged late in their source stages (lateGateOp), so which
// rows it sees is deterministic, like windows. A windowed aggregation in a
// keyed stage judges nothing late: its input is on time by construction.
// Sliding windows aggregate by slices without timers (slicedagg.go).
//
// # Snapshots and updates
//
// Because every commit is one atomic batch, the store is at every instant
// a consistent cut of a job, each worker at a bundle boundary: a snapshot
// is a Pebble snapshot of the job's namespace copied into the snapshot
// keyspace (snapshot.go), and Job.Pause holds the workers at their next
// bundle boundary when a caller needs the job still (an update that must
// let in-flight rows through first). update.go carries a namespace's keys
// into a new plan: operators matched by stable name, stages by their
// source or first stateful operator.
//
// # Concurrency
//
// One goroutine per worker. Workers of one job share nothing but the store,
// the per-stage watermark cells (atomics) and the per-range inboxes (a mutex
// and a notification channel each). No I/O happens under a lock. Time comes
// only from the injected connector.Clock.
package executor
