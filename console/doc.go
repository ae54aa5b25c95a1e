// Package console is the monitoring console that weir serve shows at its
// HTTP address: a job list, a page per job (the fused operator graph of
// EXPLAIN JOB with each stage's watermark, lag, rate, backlog and state
// bytes; workers and key ranges; throughput and watermark-lag charts over
// the last 15 minutes; snapshots; dead letters; the job's SQL and output),
// buttons that drain, cancel and snapshot a job, an update form that shows
// the compatibility check of EXPLAIN JOB ... UPDATE AS before ALTER JOB
// runs, and Prometheus /metrics per job, stage and operator.
//
// # Layer
//
// The console is a frontend, like server/ and repl/: it is a SQL client of
// the engine and nothing else. Every figure comes from the system tables
// (weir_jobs, weir_operators, weir_key_ranges, weir_workers,
// weir_snapshots, weir_dead_letters) and EXPLAIN JOB, and every button runs
// the statement a psql user would type (DRAIN JOB, CANCEL JOB, CREATE
// SNAPSHOT, EXPLAIN JOB ... UPDATE AS, ALTER JOB ... UPDATE AS) in a fresh
// engine session, so there is no second implementation of a lifecycle
// change and the console's errors are the engine's (SQLSTATE, message,
// detail, hint). Names are quoted with sql.QuoteIdent; a statement built
// from the update form's text must parse as exactly one statement.
//
// The page is three static files embedded in the binary (static/), plain
// JavaScript and SVG without a build step or third-party code; it polls
// the JSON API once a second (no full-page reloads). What costs a scan of
// a whole table, because the batch evaluator materializes a relation
// before its LIMIT (a job's dead letters and output rows, the dead-letter
// counts), is read every 10 s and right after a button press.
//
// # Lifecycle and concurrency
//
// New starts one sampler goroutine that, every Config.SampleEvery of the
// injected clock, reads every job's counters and watermarks into a ring
// buffer per job name holding Config.Window of samples (15 minutes by
// default), so the charts show the recent past as soon as a page opens.
// Close stops it and waits for it. The rings are guarded by Console.mu (no
// I/O under it). HTTP handlers run concurrently, each with its own engine
// session; concurrent button presses are serialized by the engine's
// per-job lifecycle lock, exactly as concurrent psql sessions are.
//
// # Authentication
//
// With Config.Authorize set (weir serve --password or --users), every
// request but the static page and /healthz needs HTTP basic credentials,
// checked against the same passwords the Postgres protocol's SCRAM uses.
// The page asks for them in its own form and sends them in an
// Authorization header; requests from the page carry X-Weir-Console, so a
// 401 to them has no WWW-Authenticate challenge (no browser dialog), while
// curl and Prometheus get the usual Basic challenge. A POST must carry
// X-Weir-Console and, when it has an Origin, the console's own: a
// cross-site page can set neither without a CORS preflight, which the
// console never grants (CSRF, also without a password on loopback).
//
// The console may import engine, sql, datum, connector (the clock) and
// pgerr; the engine never imports it.
package console
