package engine

// This file fixes the Session API that frontends (server/, repl/, slt/,
// cmd/weir) use. Implementations live in session.go.

import (
	"context"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/sql"
)

// CopyIn receives the rows of a COPY ... FROM STDIN. The frontend decodes
// the client's data (text, CSV or binary) with Columns' types and calls
// Write with batches of rows; Close commits everything durably and returns
// the command tag ("COPY n"); Abort discards.
type CopyIn interface {
	Columns() []Column
	Write(rows []datum.Row) error
	Close() (*Result, error)
	Abort()
}

// SessionAPI is what a Session offers; it exists to document the contract
// (frontends may depend on it to test against a fake).
type SessionAPI interface {
	// Exec runs every statement of text in order (the simple query
	// protocol) and returns the results of those that ran; it stops at the
	// first error, which carries a SQLSTATE and a position relative to text.
	Exec(ctx context.Context, text string) ([]*Result, error)
	// Prepare parses and binds exactly one statement. paramTypes are the
	// types the client declared ($n beyond them, or TypeUnknown, are
	// inferred).
	Prepare(ctx context.Context, text string, paramTypes []datum.Type) (*Prepared, error)
	// ExecPrepared executes a prepared statement with parameter values.
	ExecPrepared(ctx context.Context, p *Prepared, params []datum.Datum) (*Result, error)
	// BeginCopy starts a COPY ... FROM STDIN.
	BeginCopy(ctx context.Context, stmt *sql.Copy) (CopyIn, error)
	// Setting returns a session setting (SHOW x), SetSetting changes one.
	Setting(name string) (string, bool)
	SetSetting(name, value string) error
	Close()
}
