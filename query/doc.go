// Package query is Weir's batch evaluator: it runs a bound logical plan
// (planner.Node) to completion over materialized rows and returns the
// result. It serves every ordinary SELECT on tables, system tables and
// pg_catalog virtual tables (from psql, BI tools, the REPL and weir run),
// the SELECT of INSERT ... SELECT, and the row selection of UPDATE and
// DELETE. Streaming jobs never come here: they are compiled into stages
// and run by the executor.
//
// # Layer
//
// query sits beside the executor, below the engine. It imports planner,
// catalog, expr, datum and pgerr (and the standard library) only; the
// engine supplies the rows of each relation through Env.Scan, so query
// never touches storage, connectors or the catalog's store.
//
// # Semantics
//
// Results follow PostgreSQL: three-valued logic in WHERE, HAVING and ON
// (NULL is not true); NULL join keys never match; DISTINCT, GROUP BY and
// set operations treat NULLs as equal (rows are grouped by hash, then
// compared with datum.Compare); ORDER BY puts NULLs last ascending and
// first descending unless told otherwise, and sorts stably; a negative
// LIMIT or OFFSET is 2201W or 2201X, a NULL one means none; an aggregate
// without GROUP BY over no rows gives one row (count 0, sum NULL); UNION,
// INTERSECT and EXCEPT without ALL remove duplicates and with ALL keep
// l+r, min(l, r) and max(l-r, 0) copies. Row order is unspecified unless
// the plan sorts; the evaluator is nonetheless deterministic (groups and
// distinct rows come out in order of first appearance).
//
// A windowed aggregation or a TUMBLE/HOP table function in an ad hoc query
// computes every window over all rows: each window's row is complete, so
// pane_timing is 'ON_TIME' and pane_index 0. Rows with a NULL event time
// belong to no window.
//
// Subqueries (planner.Subquery: scalar, EXISTS, [NOT] IN, ARRAY) that are
// uncorrelated run once per Run, reading only the rows they need, and are
// replaced by their result before the expression holding them is compiled.
// A correlated subquery (it reads the enclosing query's row through
// planner.OuterRef) becomes an expr.Apply of its Outer values: for each row
// it runs its plan afresh with those values pushed on the runner's stack of
// enclosing rows (an OuterRef of depth d reads the d-th from the top), so
// nested correlation reaches any level out. Relations read inside
// correlated subqueries are scanned once per Run and kept. A plan node
// reached twice (a WITH query used twice) runs once; its rows are kept.
//
// Window functions (planner.Window) materialize their input, sort it by
// each function's partition and ordering (stably), and compute ranking
// functions from positions and aggregates over each row's frame: ROWS
// frames with offsets, RANGE frames whose bounds are UNBOUNDED or CURRENT
// ROW (peers), PostgreSQL's default RANGE UNBOUNDED PRECEDING to CURRENT
// ROW. Rows come out in the first function's order.
//
// Set-returning functions (planner.SetFunc: generate_series, unnest,
// generate_subscripts, information_schema._pg_expandarray) run per input
// row; one streams, several run in lockstep (the shorter padded with
// NULLs), as in PostgreSQL 10 and later.
//
// A filter fixing every primary key column of a keyed table to a constant
// (k = 5, k = $1) reads that one row through Env.Lookup when the engine
// supplies it, instead of scanning the table; the whole condition is still
// checked on the row.
//
// # Execution
//
// Nodes push rows to their consumer (a callback per node), so filters,
// projections, the probe side of joins, UNION ALL and DISTINCT stream, and a
// LIMIT stops its input as soon as it has its rows. Sort, aggregation, the
// build side of joins and the right side of INTERSECT/EXCEPT materialize. A
// LIMIT above a Sort keeps only the first LIMIT+OFFSET rows in a heap.
// Joins hash on the a = b conjuncts of ON whose sides read one input each
// (building the right input, or the left one for RIGHT joins), check
// conditions on one side once per row of that side, and fall back to
// nested loops when there is no equality. Rows flow by reference: filters
// and sorts pass input rows on without copying them, and rows are never
// modified after they are produced, so results may share rows with what
// Env.Scan returned.
//
// # Lifecycle
//
// Run(ctx, plan, env) compiles each node's expressions when the node
// starts, evaluates the plan and returns its rows; nothing outlives the
// call. Run on an Insert, Update or Delete returns the rows of its Input
// (the rows to insert, the matched rows of the target); UpdateRows also
// computes an UPDATE's new rows. Compile and CompilePredicate prepare an
// expression the way Run does (parameters, now(), subqueries run once) for
// callers that evaluate it over rows of their own, such as the engine
// matching stored rows for UPDATE and DELETE. Parameters come from
// Env.Params (converted as expr.BindParams does); now() is Env.Now, read at
// most once per Run so a statement sees one time.
//
// # Concurrency
//
// A Run is single-goroutine and shares nothing mutable with other Runs:
// any number may run concurrently over the same plan (plans are never
// modified) as long as Env.Scan is safe for concurrent use. Run looks at
// ctx every few thousand rows and fails with 57014 (query_canceled) when it
// is done.
package query
