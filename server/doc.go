// Package server serves the PostgreSQL wire protocol (version 3.0), so that
// psql, drivers (pgx, lib/pq, psycopg2, node-postgres, pgjdbc) and BI tools
// talk to Weir as they would to PostgreSQL 13 (`weir serve`).
//
// # Layers
//
//   - Listener (server.go). Server.Serve accepts connections and starts one
//     goroutine per connection. Shutdown stops accepting, lets every
//     connection finish the statement it is running and closes it with
//     FATAL 57P01; when its context ends first it cancels what still runs
//     and cuts the sockets.
//   - Connection (conn.go). A connection first runs the startup exchange
//     synchronously: SSLRequest and GSSEncRequest (answered 'N', or TLS when
//     configured), CancelRequest (handled, then closed), StartupMessage,
//     authentication, ParameterStatus, BackendKeyData. Then it splits in
//     two goroutines: a reader that decodes frontend messages into a
//     command queue (queue.go), and an executor that takes them in order,
//     runs them against the session and writes every reply.
//   - Authentication (auth.go). Trust for loopback clients when no password
//     is configured; otherwise SCRAM-SHA-256 (github.com/xdg-go/scram) for
//     the startup message's user (clients send "" or "*" as the SCRAM user
//     name). A wrong password is FATAL 28P01.
//   - Protocol. simple.go runs Query messages statement by statement;
//     extended.go runs Parse/Bind/Describe/Execute/Close/Sync/Flush with
//     per-connection prepared statements and portals (row limits suspend a
//     portal; after an error everything up to Sync is skipped); copy.go is
//     the COPY sub-protocol (FROM STDIN in text, CSV and binary; TO
//     STDOUT). Config.LogStatement sees every statement and its error
//     (weir serve -log-statements; the client-corpus tests record what
//     pgcli, SQLAlchemy, pg_dump and pgjdbc send into testdata/clients).
//     The wire layer itself answers what belongs to the connection:
//     transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT, see below),
//     DEALLOCATE, DISCARD, LOCK TABLE (accepted in a block once the tables
//     are found: Weir has no locks), and the parsing of COPY (sqlscan.go
//     and copystmt.go: a lexical scanner, so that psql's, pgx's and
//     legacy COPY spellings all work). Everything else goes to the session
//     (engine.SessionAPI).
//   - Results (results.go, format.go). Values are encoded in the text or
//     binary format the client asked for, by the type announced in
//     RowDescription, with PostgreSQL's type OIDs; parameters and binary
//     COPY fields are decoded by their declared or inferred type.
//
// # Sessions seen from SQL
//
// A server that serves the engine (EngineBackend) is its
// engine.ActivitySource: pg_stat_activity lists each connection (process
// id, user, client address, the running or last statement and its state)
// and pg_cancel_backend cancels a connection's statement as a
// CancelRequest would.
//
// # The one rule: the reader never blocks on SQL
//
// The reader goroutine only reads, copies messages out of pgproto3's
// buffers and queues them; it never waits for a statement. So a Terminate,
// or a client that goes away, is seen while a statement runs and cancels
// it at once (queued messages are then dropped), and a CancelRequest (which
// arrives on a new connection) finds the running statement through the
// server's process-id table. The executor is the only goroutine that
// touches the session or writes to the socket. Output is buffered and
// flushed at ReadyForQuery, Flush, the start of COPY, and whenever 64 KiB
// accumulate while a result streams. The reader waits only when more than
// MaxQueuedBytes of messages are queued (a client pipelining faster than
// statements run), which is flow control, not SQL.
//
// # Errors
//
// Errors carry their SQLSTATE from where they were made (pgerr.Error); the
// wire layer flattens each once into an ErrorResponse (errors.go), turning
// the byte offset of pgerr.Error.Pos into the character position of the 'P'
// field relative to the text the client sent (a statement's offset within
// a multi-statement query is added). A canceled statement reports why:
// 57014 for a cancel request or statement_timeout, 57P01 at shutdown.
// Malformed or oversized messages end the connection with FATAL 08P01.
//
// # Transactions
//
// Weir has no multi-statement transactions: every statement takes effect
// when it runs. BEGIN, COMMIT, ROLLBACK and savepoints are accepted so that
// drivers and tools that wrap work in them keep working, and the
// ReadyForQuery status follows PostgreSQL's ('T' in a block, 'E' after an
// error in one, where only COMMIT and ROLLBACK are accepted), but ROLLBACK
// undoes nothing.
//
// # Differences from PostgreSQL
//
// Listed in the wire tests (testdata/pgtest, runnable against a real
// PostgreSQL with -pg): RowDescription has no table OIDs; DateStyle, TimeZone
// (UTC), IntervalStyle and the encodings (UTF8) are fixed; COPY's error
// context does not repeat the bad value. Numeric values are float64 inside
// Weir, so their binary form is derived from the float.
//
// # Imports
//
// server imports engine (the session API and types), sql (the COPY AST and
// the syntax check of multi-statement queries), connector (the COPY text
// and CSV decoders), datum, pgerr, pgproto3 and scram. Nothing below it
// imports server.
package server
