// Package planner turns parsed SQL into plans: logical plans for queries and
// DML, and stage graphs (physical plans) for streaming jobs.
//
// # Layer
//
// The planner sits between the parser (sql) and the components that run
// plans: the engine (DDL, batch statements) and the executor (jobs). It
// imports sql, catalog, expr, datum, pgerr and plan only; never executor,
// engine, server, state or connector. A job's physical plan is plain data
// in package plan (sql → planner → plan → executor → state): the planner
// builds it, the executor consumes it with one type switch, and nothing
// here runs.
//
// # Pipeline
//
//	sql AST ──bind (bind*.go)──► logical plan (logical.go) ──stages.go──► plan.JobPlan (package plan)
//	                                   │                                      │
//	                             ExplainLogical                     names.go, ExplainJob
//
// The steps:
//
//   - The binder resolves names against a Resolver (the catalog, wrapped by
//     the engine to add system tables) with PostgreSQL's rules and errors
//     (42P01, 42703, 42702, 42803, 42804, ...; positioned at the AST node),
//     types expressions with expr.Resolve*, and builds the logical plan.
//     Both window forms (FROM TUMBLE(src, ts, size) and GROUP BY
//     TUMBLE(ts, size)) bind to the same WindowAssign + Aggregate shape.
//   - Batch-only SQL binds to nodes jobs reject (0A000): window functions
//     (bind_window.go: f(...) OVER (...) in a select list or ORDER BY, a
//     Window node after GROUP BY/HAVING), set-returning functions
//     (bind_srf.go: in FROM, implicitly LATERAL after other FROM items,
//     and in a select list, several in lockstep, as a SetFunc node; a
//     record-returning one used whole is a record-valued column whose
//     fields (t.col).field reads), and correlated subqueries (subquery.go:
//     a name not found in a subquery's own FROM is looked up in the
//     enclosing scopes and becomes an OuterRef reading an entry of the
//     Outer list of the subquery at that level; over an aggregation such
//     entries must be group keys). Arrays are TEXT in PostgreSQL's form
//     (see expr): x[i], ARRAY[...], ARRAY(SELECT ...), x op ANY/ALL
//     (array or subquery). Casts of text to the OID alias types
//     ('pg_class'::regclass, ::regtype, ::regproc, ::regnamespace,
//     ::regrole) call the registry's regclassin & co. (pgcatalog registers
//     them; without them they are plain OID casts), and x::regclass::text
//     calls regclassout & co.
//   - Batch plans (BindQuery, BindStatement's queries and INSERT ... SELECT)
//     then pass through optimize.go: WHERE conjuncts and one-sided join
//     conditions move down to the join inputs they read (FROM a, b WHERE
//     a.x = b.y becomes a hash-joinable inner join), never across an outer
//     join's null-extended side, an aggregation, a window or a projection
//     that computes. Jobs are compiled from the plan as bound.
//   - PlanJob compiles a job's INSERT ... SELECT into stages: stateless
//     operators fuse; an aggregation splits at a shuffle by its group key,
//     with a Partial (combiner) half before and the Merge half after; a
//     join of two streams (or UNION ALL) is a keyed stage with two inputs,
//     its state bounded by the event-time conditions it finds, and a join
//     with a table a lookup fused into the stream's stage (stages.go,
//     stages_join.go, physical_join.go).
//   - assignNames gives every operator its stable name (names.go): state is
//     keyed by it and updates match operators by it.
//   - BindCreateSource and friends check DDL and produce catalog objects.
//
// # Lifecycle and concurrency
//
// Every entry point is a pure function of its arguments: a binder lives for
// one call. Entry points are safe for concurrent use as long as the
// Resolver is (the catalog is). Plans are immutable once returned.
package planner
