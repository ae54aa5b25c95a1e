// Package render prints query results the way psql does: aligned tables
// with centered headers, numbers right-aligned, a "(N rows)" footer, and an
// expanded (\x) mode. weir run, weir test and the REPL share it.
//
// It is a leaf over datum; it keeps no state and is safe for concurrent use.
package render
