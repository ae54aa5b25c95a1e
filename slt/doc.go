// Package slt runs sqllogictest files against a fresh embedded engine per
// file: the format teams use to test their .sql jobs in CI (weir test).
//
// Records are separated by blank lines:
//
//	statement ok | statement error [regexp] | statement count N
//	query <types> [nosort|rowsort|valuesort] [retry N backoff DURATION]
//	<sql>
//	----
//	<expected rows, one per line, values separated by single spaces>
//
// and query error [regexp] followed by the query alone. An error's regexp is
// matched against "SQLSTATE: message", so `statement error 42P01` checks the
// code and `statement error 42703: column "x"` the message too. A query with
// retry N is run again, up to N more times, BACKOFF apart, until its result
// matches: for results that streaming jobs produce without a watermark to
// wait for (non-windowed aggregates, late panes).
//
// plus hash-threshold N, halt, skipif/onlyif <engine>, and the directives
// streaming tests need:
//
//	advance-watermark SOURCE TIMESTAMP   append a watermark punctuation to a
//	                                     log source and wait until every job
//	                                     reading it has processed up to it
//	wait-job NAME                        wait until a job has ended
//	advance-time DURATION                move processing time forward (Go
//	                                     syntax: 10s, 1m30s)
//
// A file that uses advance-time runs on a manual processing-time clock that
// starts at ManualClockStart (2024-01-01 00:00:00 UTC) and moves only when
// the file says so: emit_early panes, idle_timeout, now() and the jobs'
// started_at are then deterministic. Other files run on the system clock.
//
// Values print as: NULL, "(empty)" for an empty string, integers plainly,
// R (floating) columns with 3 decimals, booleans t/f. With Rewrite set, the
// runner writes the actual results back into the file instead of comparing.
//
// A file runs on one goroutine; the package imports engine, connector
// (for the manual clock), datum and pgerr.
package slt
