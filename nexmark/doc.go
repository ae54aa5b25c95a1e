// Package nexmark is Weir's Nexmark benchmark suite: the Nexmark queries
// q0-q5, q7, q8 and q13, and q5 as a ranking (q5_rank, ROW_NUMBER per
// window), written in Weir SQL (testdata/nexmark at the repository's top,
// each file self-contained: its sources with connector 'nexmark', a
// blackhole sink and the job), checked and measured.
//
// The package holds only tests. The oracle tests run each query on an
// embedded engine over a small, deterministic event stream (its sink turned
// into a table) and compare the table with a brute-force computation in Go
// over the same generated events, read straight from the connector. The
// benchmarks (make bench) run each query over a larger stream and report
// events per CPU-second of the whole process, generator included, bytes
// allocated per event and peak RSS, and write a CPU profile per query to
// the directory NEXMARK_PROFILE_DIR names (default: the system's temporary
// directory).
//
// It imports engine, connector and datum; nothing imports it.
package nexmark
