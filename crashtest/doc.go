// Package crashtest holds Weir's crash tests with real processes: `weir run
// --resume` on a data directory is killed with SIGKILL at random moments,
// and at the edges of store commits (WEIR_CRASH_COMMIT makes the process
// kill itself right before a batch is applied or right after it is
// durable), and restarted until its job finishes; the results must equal an
// oracle exactly, and acknowledged INSERTs must never be lost. The
// exactly-once sinks are tested the same way with `weir serve` reading
// Kafka (a kfake broker in its own process) and writing a Kafka sink and a
// PostgreSQL table, also killed right before and after the sinks' external
// commits (WEIR_CRASH_SINK). It has no non-test code. `make stress` runs it
// with -stress (a million events).
package crashtest
