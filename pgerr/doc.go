// Package pgerr is the leaf error type of Weir: every user-facing error carries
// a PostgreSQL SQLSTATE code and, when it comes from SQL text, a position.
//
// Errors get their code where they are created (in the parser, the binder, the
// catalog, the executor) and are flattened exactly once, at the edge: the wire
// protocol turns them into ErrorResponse fields, the CLI into
// "FILE:LINE:COL: SQLSTATE message". Nothing in between re-wraps them.
//
// This package imports nothing from Weir and may be imported by every package.
package pgerr
