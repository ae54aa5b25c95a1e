// Package planner turns parsed SQL into plans: logical plans for queries and
// DML, and stage graphs (physical plans) for streaming jobs.
//
// # Layer
//
// The planner sits between the parser (sql) and the components that run
// plans: the engine (DDL, batch statements) and the executor (jobs). It
// imports sql, catalog, expr, datum and pgerr only; never executor, engine,
// server, state or connector. Plans are plain data: the executor consumes
// physical.go with one type switch, and nothing here runs.
//
// # Pipeline
//
//	sql AST ──bind (bind*.go)──► logical plan (logical.go) ──stages.go──► JobPlan (physical.go)
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
//   - PlanJob compiles a job's INSERT ... SELECT into stages: stateless
//     operators fuse; an aggregation splits at a shuffle by its group key,
//     with a Partial (combiner) half before and the Merge half after.
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
