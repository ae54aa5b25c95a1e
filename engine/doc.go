// Package engine is Weir's embedded database: it owns the store, the
// catalog, the durable logs of log sources and the executor, and runs SQL
// statements for every frontend (weir run, the REPL, weir test, the
// Postgres wire protocol server).
//
// # Lifecycle
//
// Open opens (or creates) a data directory and resumes every job that was
// live when the process last stopped, from its last commit. NewSession
// returns a session (settings, prepared statements); Close stops the jobs at
// their last commit and closes the store. lifecycle.go holds the rest of a
// job's life: snapshots (and snapshot_every), ALTER JOB ... UPDATE with its
// compatibility check, CREATE JOB ... FROM SNAPSHOT, and relaunches that
// continue a drained or cancelled launch.
//
// # Statements
//
// Session.Exec parses a script with sql.ParseScript and runs each statement
// in order: DDL goes to the catalog; CREATE JOB is planned by the planner and
// started by the executor; INSERT into a log source appends durably (the
// call returns once the rows are synced); INSERT/UPDATE/DELETE on tables
// commit to the table keyspace; SELECT is bound by the planner and evaluated
// by the batch evaluator (query) over tables, sources' logs and virtual
// tables (weir_jobs, weir_operators, weir_key_ranges, weir_snapshots,
// weir_dead_letters, and whatever frontends register, e.g. pg_catalog).
//
// # Concurrency
//
// An Engine is safe for concurrent use by many sessions; a Session is used by
// one goroutine at a time. Processing time comes from the injected clock
// (Options.Clock).
//
// The engine may import every lower layer (sql, planner, catalog, executor,
// query, state, connector, table, expr, datum, pgerr) but no frontend.
package engine
