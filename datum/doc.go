// Package datum is Weir's value layer: SQL types, the Datum value, rows, and
// their text, key and value encodings.
//
// A Datum is a small struct (no interface, no pointer for fixed-width kinds),
// so rows of them are cheap to copy and to keep in hot-path maps. Timestamps
// are microseconds since the Unix epoch in UTC; dates are days since the
// epoch; intervals are microseconds plus months.
//
// Encodings:
//   - AppendKey: order-preserving and self-delimiting, for Pebble keys
//     (primary keys, group keys, timers).
//   - AppendValue/DecodeValue: compact, for state and table values.
//   - Format/Parse: PostgreSQL's text output and input formats.
//
// The package is a leaf: it imports only pgerr. It is safe for concurrent use
// (values are immutable).
package datum
