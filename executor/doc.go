// Package executor runs streaming jobs: it turns a plan.JobPlan into
// workers that process bundles of records and commit each bundle in one
// atomic Pebble batch, following Google's MillWheel and Dataflow.
//
// # Layer
//
// The executor sits below the engine (which owns the catalog and SQL) and
// above state (the Pebble store, keyed state, timers), connector (sources and
// sinks), table (table rows) and expr (compiled expressions). It never
// imports sql, planner, server or the TiDB parser (`make lint` checks it):
// plans reach it as plain data, package plan, and its builder (ops.go)
// turns each plan op into a running operator with one type switch. The
// pipeline is sql → planner → plan → executor → state.
//
// # Units and workers
//
// A stage's work is cut into units (ranges.go): a keyed stage's key space
// (the hash of the grouping key) into a fixed number of buckets, chosen at
// the lineage's first start, and key ranges that are runs of buckets; a
// source stage into partitions and, for bounded sources, ranges of a
// partition's offsets. Each unit has a goroutine (the worker struct, a
// runner) and an owner: one of the job's workers (workerSlot), which runs at
// most one bundle at a time of the units it owns. The number of workers is
// the job's parallelism. The unit table of each stage, persisted, is the
// ownership record. While the job runs, the autoscaler (scaler.go)
// measures load per unit and per worker, grows and shrinks the number of
// workers within min_workers..max_workers, splits hot key ranges, merges
// cold neighbours, moves units between workers and splits bounded sources'
// remaining work. A split or merge stops only the units it replaces, at a
// bundle boundary, commits the new table in one batch and starts their
// successors from committed state, as after a restart; a move records the
// new owner and the unit's next bundle runs there.
//
// # Bundles and commits
//
// A unit takes a bundle of input (records read from its source range, or
// the shuffle-queue entries delivered to its key range's buckets), pushes every
// record through the stage's fused operator chain (a source unit reads and
// pushes its bundle 1,024 records at a time, and lets the reader reuse the
// rows' memory when the chain copies what it keeps: chainRetainsInput),
// advances its input
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
// # Source partitions
//
// A source stage's partition count is fixed at the lineage's first start
// and persisted, with the partitions' starting positions when the source
// chooses them (Kafka start = 'latest'). A source whose partitions grow
// (a Kafka topic) is watched while the job runs, and each new partition
// gets a unit that starts at the stage's current watermark
// (partitions.go).
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
// # Exactly-once sinks
//
// A sink whose connector is a connector.ExactlyOnceSink (postgres, kafka,
// nats) is written through a durable outbox (outbox.go): a bundle's rows
// for it are stored in the bundle's batch under a sequence number of the
// job's writer for that sink (one writer and one delivery goroutine per job
// and sink), and after the commit the delivery loop hands the committed
// entries, in sequence order and never past a number still in flight, to
// the connector's SinkWriter, which stores the last delivered sequence in
// the external system atomically with the rows; then the loop deletes the
// delivered entries. After a crash the loop asks the external system how
// far it got and skips that. The outbox is bounded (Config.MaxOutboxRows;
// producers wait in waitForSpace); outages are retried with backoff on the
// injected clock; other errors fail the job. A bounded job ends only once
// its outbox is empty. Other sinks (blackhole, stdout, file) are written
// after the commit, at most once.
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
// One goroutine per unit, plus one controller (the autoscaler) per job and
// one delivery goroutine per exactly-once sink of a job (its writer's
// mutex guards the sequence and the pending entries; no I/O under it).
// Units of one job share nothing but the store, the per-stage watermark
// cells (atomics), the per-bucket inboxes (a mutex each), the stage's unit
// list (an atomic pointer to an immutable slice) and their worker's
// semaphore, held only while a bundle runs, never while waiting. Only the
// controller changes unit tables, holding the job's lifecycle semaphore
// (so reconfigurations and snapshot pauses exclude each other). No I/O
// happens under a lock. Time comes only from the injected connector.Clock.
//
// # Beyond one process
//
// Workers are goroutines here; nothing else assumes they share a process
// beyond the state store and the ownership record. A multi-process version
// would need: the unit tables in a store every process reads, with leases;
// a fencing token per unit (its id and an ownership epoch checked in every
// commit, so a deposed owner's late commit fails); the hand-over of queue
// entries through the shared store instead of in-memory inboxes (an owner
// polls or subscribes to its buckets' queue prefixes); watermarks and
// producers' commit sequence numbers (which fingerprint garbage collection
// reads) published through the store; and per-process state caches that a
// unit moving away evicts for its span.
package executor
