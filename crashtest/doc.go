// Package crashtest holds Weir's crash tests with real processes: `weir run
// --resume` on a data directory is killed with SIGKILL at random moments,
// and at the edges of store commits (WEIR_CRASH_COMMIT makes the process
// kill itself right before a batch is applied or right after it is
// durable), and restarted until its job finishes; the results must equal an
// oracle exactly, and acknowledged INSERTs must never be lost. It has no
// non-test code. `make stress` runs it with -stress (a million events).
package crashtest
