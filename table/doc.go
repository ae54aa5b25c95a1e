// Package table stores the rows of Weir's tables (the targets jobs write
// results into, and reference data users INSERT, UPDATE and DELETE) in the
// engine's one Pebble store, so that a job's table writes commit in the same
// atomic batch as the state changes and input acknowledgements that caused
// them.
//
// Key layout (prefix byte 't', see state/doc.go):
//
//	't' tableID(8 BE) 0x01 <order-preserving key encoding of the primary key>   keyed tables
//	't' tableID(8 BE) 0x02 writer(8 BE) seq(8 BE)                               append-only tables
//
// Values are datum.AppendRow encodings of the whole row. Appends are keyed by
// the writer that produced them (a job's stage range, or the SQL session
// layer) and that writer's committed sequence, so a retried bundle rewrites
// the same keys instead of appending twice.
//
// The package holds no state of its own; it is a set of functions over a
// state.Store and state.Batch. It imports datum and state only.
package table
