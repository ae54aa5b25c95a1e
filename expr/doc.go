// Package expr is Weir's expression layer: typed scalar and aggregate
// expressions.
//
// # Trees
//
// An expression is a plain data tree (Col, Const, Param, Call, Case, Cast;
// AggFunc for aggregates) built by the planner's binder and printed with
// String in EXPLAIN output and in derived operator names (printing is
// deterministic). Every node has a SQL type (datum.Type).
//
// # Lifecycle
//
//  1. Resolve. The binder builds nodes bottom-up with ResolveCall (operators
//     and functions), ResolveCast, ResolveCase and ResolveAgg. They apply
//     PostgreSQL's type rules: overload resolution with implicit casts and
//     preferred types, untyped literals (Const of TypeUnknown) parsed as the
//     type the context wants, common types for CASE/COALESCE/IN
//     (CommonType). Errors carry SQLSTATEs (42883 undefined function, 42804
//     datatype mismatch, 42725 ambiguous, 42846 no such cast, 22P02/22007
//     bad literal).
//  2. Rewrite. Walk and Transform visit and rewrite trees; BindParams
//     replaces $n with values; Fold evaluates constant sub-expressions
//     (errors are left for run time).
//  3. Compile. Compile/CompileWith turn a tree into an Evaluator,
//     CompilePredicate into a filter (NULL is false). The hot cases
//     (column reads, comparisons of a column with a constant, integer and
//     float arithmetic, AND/OR/NOT) are specialized closures that do not
//     allocate; there is no reflection and no per-row lookup.
//  4. Aggregate. NewAcc (one aggregate) and NewAccSet (all aggregates of a
//     group, one allocation per group) accumulate pre-evaluated argument
//     values; partial states merge (combiner lifting) and encode for
//     durable state.
//
// Semantics are PostgreSQL's (three-valued logic, integer overflow and
// division errors, casts, LIKE, date_trunc/extract, string functions), with
// Weir's representation: NUMERIC is a float64, timestamps are UTC
// microseconds (no session time zone), intervals are months plus
// microseconds, strings compare bytewise (C collation). now() reads the
// clock given in Env, never the wall clock.
//
// # Where Weir differs from PostgreSQL
//
//   - NUMERIC is a float64: NUMERIC arithmetic results (and casts to
//     NUMERIC) are rounded to 15 significant digits, so 0.1 + 0.2 = 0.3;
//     REAL is computed in double precision.
//   - sum of integers is BIGINT (22003 on overflow); avg, variance and
//     stddev of integers and floats are DOUBLE.
//   - round(double, int) and trunc(double, int) exist (half away from
//     zero on the shortest decimal form, like NUMERIC).
//   - Regular expressions are RE2 (Go's regexp): no back-references or
//     lookaround.
//   - Intervals are months plus microseconds (no separate days), so
//     extract(hour FROM interval '25 hours') is 1.
//   - A constant argument that can never work (a date_trunc unit, a regular
//     expression) fails at compile time; errors in other constant
//     sub-expressions (1/0) are left for run time rather than raised while
//     planning.
//   - Acc.Add and Acc.Merge return the error of an overflowing sum.
//   - string_agg's delimiter must be a constant; array_agg's result is an
//     array in text form.
//   - Integer bitwise operators (& | # << >> ~) work on equal integer
//     types only.
//
// # Functions
//
// Builtins() is the immutable table of builtin functions. A server adds
// its own (version(), current_user, ...) to a clone and resolves with
// ResolveCallIn; calls remember the registry entry they were resolved
// against, so Compile needs no registry. A registered function whose
// result depends on the session gives Overload.EvalSettings instead of
// Eval: it reads the session's settings from the Env it is compiled with
// (Env.Settings), and its calls are never folded, so one plan serves
// every session (current_user reads session_authorization).
//
// Arrays are TEXT holding PostgreSQL's text form ('{a,b}', and the
// vector form '1 2' of int2vector, subscripts from 0); arrays.go has the
// constructor array(...) (ARRAY[...]), array_element (x[i]), x op ANY/ALL
// (the calls "= any", "<> all", ...), array_upper/lower/length,
// cardinality, array_to_string, string_to_array, array_agg, and records
// (row(...), record_field). An element is typed when the array's element
// type is known (ArrayElemType: ARRAY[1, 2]) and untyped otherwise, so it
// takes the type its context wants, like an untyped literal. JSON
// constructors (json_build_object, json_build_array, to_json) build JSON
// text. Set-returning functions (srf.go: generate_series, unnest,
// generate_subscripts, information_schema._pg_expandarray) are resolved
// with ResolveSetFunc and run by the batch evaluator (SetCall.Run).
//
// Apply is an expression node for the batch evaluator: a Go function of
// its arguments' values (a correlated subquery run per row). It is never
// folded.
//
// # Concurrency
//
// Trees are immutable once built (Transform copies). Evaluators and
// Predicates hold no mutable state and are safe for concurrent use; so are
// Registries nothing registers into and AccSetFactories. Acc and AccSet are
// not.
//
// This package imports only datum and pgerr from Weir.
package expr
