package engine

import (
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/sql"
)

// Column is a result column.
type Column struct {
	Name string
	Type datum.Type
}

// Result is the outcome of one statement.
type Result struct {
	// Columns is nil for statements that return no rows (DDL, INSERT).
	Columns []Column
	Rows    []datum.Row
	// Tag is the PostgreSQL command tag: "SELECT 3", "INSERT 0 1",
	// "CREATE SOURCE", "SET", ...
	Tag string
	// Notices are informational messages (NOTICE level) for the client.
	Notices []string
}

// Prepared is a parsed, bound statement ready to execute with parameters
// (the extended protocol's prepared statement).
type Prepared struct {
	Stmt sql.Statement
	// ParamTypes are the inferred types of $1..$n (TypeUnknown where
	// nothing constrains one: the client's value is then taken as text).
	ParamTypes []datum.Type
	// Columns describes the result rows (nil if the statement returns none).
	Columns []Column
}

// VirtualTable is a read-only relation computed on demand (system tables,
// pg_catalog, information_schema). Rows is called at query time.
// Activity is a client session as pg_stat_activity shows it.
type Activity struct {
	PID          int32
	User         string
	Database     string
	Application  string
	ClientAddr   string
	ClientPort   int
	BackendStart time.Time
	QueryStart   time.Time // zero before the first statement
	State        string    // "active" while a statement runs, else "idle"
	Query        string    // the running statement, or the last one
}

// ActivitySource lists the sessions of a server and cancels their
// statements (the wire server is one; pg_stat_activity and
// pg_cancel_backend read it).
type ActivitySource interface {
	Activity() []Activity
	// CancelBackend cancels the statement running in the session with
	// that process id; false if there is no such session.
	CancelBackend(pid int32) bool
}

type VirtualTable struct {
	Schema  string // "" (public), "pg_catalog", "information_schema"
	Name    string
	Columns []Column
	Rows    func(e *Engine) ([]datum.Row, error)
}
