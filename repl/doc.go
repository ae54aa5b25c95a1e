// Package repl is Weir's interactive shell (`weir`, `weir repl`): psql's
// manners over an embedded engine session or a server connection.
//
// # Use
//
//	err := repl.Run(ctx, repl.Config{Session: eng.NewSession(), DataDir: dir})
//	err := repl.Run(ctx, repl.Config{ConnectURL: "postgres://localhost:5433/weir"})
//
// Run returns nil after \q or end of input, and ErrStopped (already printed)
// when a script stopped at an error.
//
// # Layers
//
// A lineReader supplies lines: github.com/chzyer/readline on a terminal
// (editing, history in ~/.weir_history with Ctrl-R search, tab completion),
// plain reads otherwise. The shell feeds each line to its own small lexer
// (lexer.go), which knows where statements end (';' outside quotes,
// comments, dollar quotes and parentheses), what a continuation line is
// waiting for (the prompt shows it), and where a backslash starts a
// meta-command. Each finished statement goes to the session's Exec on its
// own, so an error's position refers to that statement's text, and results
// are printed with render.Table. Meta-commands (meta.go, describe.go) read
// the catalog through ordinary statements (SHOW TABLES, SHOW SOURCES,
// SHOW SINKS, weir_jobs, EXPLAIN JOB), so they work the same in both modes;
// the object list is cached for completion and refreshed after DDL
// (objects.go). Remote (remote.go) is the client mode: a pgx connection
// behind engine.SessionAPI.
//
// # Modes
//
// Interactive (In is a terminal, or Config.Interactive): prompts, colors
// when Out is a terminal and NO_COLOR is unset, errors leave the session
// usable. Script (piped input): no prompts or colors, statements run in
// order, and the first error stops the run (nothing after it runs).
//
// # Concurrency
//
// Run's goroutine does everything but two things: readline calls the
// completer from its own goroutine while the main one waits at the prompt
// (session use is serialized by shell.sessMu), and a goroutine turns
// Ctrl-C (SIGINT, or Config.Interrupt) into canceling the running
// statement's context. At the prompt the terminal is in raw mode, so
// Ctrl-C reaches readline as a key and clears the line instead.
//
// The package is a frontend: besides readline and pgx it imports engine
// (for the SessionAPI contract), render, datum, pgerr and sql, and nothing
// imports it but cmd/weir.
package repl
