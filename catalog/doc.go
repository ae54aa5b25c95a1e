// Package catalog keeps Weir's definitions (sources, tables, sinks, jobs and
// their history, templates, snapshots) durable in the engine's Pebble store.
//
// # Layer
//
// The catalog sits above state (the Pebble store) and below the planner and
// the engine. It imports datum, pgerr and state only; it never imports sql,
// planner, executor or server. Objects arrive already validated: the planner
// turns CREATE statements into catalog objects (planner.BindCreateSource and
// friends), the engine stores them here.
//
// # Key layout (prefix byte 'c', see state/doc.go)
//
//	'c' 'n'                        the next unallocated id (8 bytes BE)
//	'c' 'o' name                   a source, table or sink (one namespace), JSON
//	'c' 'j' id(8 BE)               one job launch (a job id), JSON
//	'c' 't' name                   a template, JSON
//	'c' 's' name                   a snapshot, JSON
//
// Values are JSON: definitions are small and rarely written, and JSON keeps
// them readable in a debugger and tolerant of added fields.
//
// # Lifecycle
//
// Open loads every definition into memory once; reads never touch the store
// after that. Every change is written in one atomic batch and applied to the
// in-memory maps only after the batch has committed, so a crash between the
// two loses nothing that was acknowledged. NewMemory builds a catalog with no
// store at all (weir check, tests).
//
// # Concurrency
//
// A Catalog is safe for concurrent use. Writers are serialized by writeMu,
// which is held across the store commit; readers take mu (an RWMutex over the
// in-memory maps) only, and no I/O happens under mu. Objects returned by
// getters are copies: callers may keep and modify them.
//
// Time never comes from the clock here: callers fill in StartedAt, EndedAt
// and CreatedAt.
package catalog
