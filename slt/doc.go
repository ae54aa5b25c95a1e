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
// plus hash-threshold N, halt, skipif/onlyif <engine>, and the directives
// streaming tests need:
//
//	advance-watermark SOURCE TIMESTAMP   append a watermark punctuation to a
//	                                     log source and wait until every job
//	                                     reading it has processed up to it
//	wait-job NAME                        wait until a job has ended
//
// Values print as: NULL, "(empty)" for an empty string, integers plainly,
// R (floating) columns with 3 decimals, booleans t/f. With Rewrite set, the
// runner writes the actual results back into the file instead of comparing.
//
// A Runner is used by one goroutine; it imports engine and render.
package slt
