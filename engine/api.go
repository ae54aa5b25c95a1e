package engine

import (
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
type VirtualTable struct {
	Schema  string // "" (public), "pg_catalog", "information_schema"
	Name    string
	Columns []Column
	Rows    func(e *Engine) ([]datum.Row, error)
}
