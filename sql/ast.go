package sql

import (
	"github.com/weir-sql/weir/datum"
)

// Pos is a position in the submitted text: a 1-based byte offset plus the
// 1-based line and column (in characters) it falls on.
type Pos struct {
	Offset, Line, Col int
}

// Statement is one parsed statement. Text is the statement's own source text
// (without the terminating ';') and Start where it begins in the submitted
// text, so errors found later (binding, planning) can be positioned.
type Statement interface {
	Source() *StmtSource
}

// StmtSource records where a statement came from.
type StmtSource struct {
	Text  string
	Start Pos
}

// Source returns s; embedding StmtSource makes a type a Statement.
func (s *StmtSource) Source() *StmtSource { return s }

// ---- DDL ----

// ColumnDef is a column in CREATE SOURCE/TABLE/SINK or a template parameter.
type ColumnDef struct {
	Name     string
	Type     datum.Type
	TypeName string // as written, e.g. "VARCHAR(20)"
	NotNull  bool
	Pos      Pos
}

// Option is one `key = 'value'` pair of a WITH (...) clause. Keys are
// lower-cased; values are the literal's text (numbers as written).
type Option struct {
	Key, Value string
	Pos        Pos
}

// Watermark is `WATERMARK FOR col AS expr`.
type Watermark struct {
	Column string
	Expr   Expr
	Pos    Pos
}

type CreateSource struct {
	StmtSource
	Name        string
	IfNotExists bool
	Columns     []ColumnDef
	Watermark   *Watermark
	// PartitionBy lists the columns of PARTITION BY (cols): a partitioned
	// log spreads rows by their hash. PartitionPos is the clause's position.
	PartitionBy  []string
	PartitionPos Pos
	With         []Option
}

type CreateTable struct {
	StmtSource
	Name        string
	IfNotExists bool
	Columns     []ColumnDef
	PrimaryKey  []string
}

type CreateSink struct {
	StmtSource
	Name        string
	IfNotExists bool
	Columns     []ColumnDef
	PrimaryKey  []string // external sinks key by it (postgres upsert, kafka record key)
	With        []Option
}

// CreateJob is CREATE JOB name [WITH (...)] AS INSERT ..., or
// CREATE JOB name FROM SNAPSHOT s [AS INSERT ...], or
// CREATE JOB name FROM TEMPLATE t [WITH (param = 'v', ...)].
type CreateJob struct {
	StmtSource
	Name         string
	With         []Option
	Insert       *Insert // nil for FROM TEMPLATE, or FROM SNAPSHOT without AS
	FromSnapshot string
	FromTemplate string
}

// CreateTemplate is CREATE TEMPLATE name (param type, ...) AS <job body>.
// Body is the raw text after AS, with ${param} placeholders unexpanded.
type CreateTemplate struct {
	StmtSource
	Name    string
	Params  []ColumnDef
	Body    string
	BodyPos Pos
}

type CreateSnapshot struct {
	StmtSource
	Name       string
	Job        string
	WithSource bool
}

// AlterJob is ALTER JOB name UPDATE AS INSERT ... [WITH MAPPING (...)].
type AlterJob struct {
	StmtSource
	Name    string
	Insert  *Insert
	Mapping []Option // old operator name -> new operator name
	With    []Option
}

// JobControl is DRAIN JOB name or CANCEL JOB name.
type JobControl struct {
	StmtSource
	Action string // "DRAIN" or "CANCEL"
	Name   string
}

// Drop is DROP {SOURCE|TABLE|SINK|JOB|SNAPSHOT|TEMPLATE} [IF EXISTS] name.
type Drop struct {
	StmtSource
	Kind     string
	Name     string
	IfExists bool
}

// Show is SHOW JOBS | TABLES | SOURCES | SINKS | SNAPSHOTS | TEMPLATES |
// <setting> | ALL. What is upper-cased for the object lists, lower-cased
// for settings.
type Show struct {
	StmtSource
	What string
}

// Explain is EXPLAIN JOB name, EXPLAIN [JOB] <CREATE JOB ...|INSERT ...|SELECT ...>,
// or EXPLAIN JOB name UPDATE AS INSERT ... [WITH MAPPING (...)].
type Explain struct {
	StmtSource
	Job    string    // EXPLAIN JOB name [UPDATE AS ...]
	Update *AlterJob // EXPLAIN JOB name UPDATE AS ...
	Stmt   Statement // EXPLAIN <statement>
}

// Set is SET [SESSION|LOCAL] name {=|TO} value[, ...] (values as text).
type Set struct {
	StmtSource
	Name   string
	Values []string
}

// Txn is BEGIN / START TRANSACTION / COMMIT / END / ROLLBACK / ABORT.
type Txn struct {
	StmtSource
	Action string // "BEGIN", "COMMIT", "ROLLBACK"
}

// Copy is COPY table [(cols)] FROM STDIN [WITH] [(FORMAT csv, HEADER, ...)]
// or COPY ... TO STDOUT.
type Copy struct {
	StmtSource
	Table   string
	Columns []string
	From    bool // FROM STDIN (else TO STDOUT)
	Query   *Select
	Options []Option // format, header, delimiter, null, quote, escape
}

// Empty is an empty or comment-only statement.
type Empty struct{ StmtSource }

// ---- DML ----

// Insert is INSERT INTO table [(cols)] {VALUES ... | SELECT ...}.
type Insert struct {
	StmtSource
	Table      string
	TablePos   Pos
	Columns    []string
	Query      Query // *Values or *Select or *SetOp
	Returning  []SelectItem
	OnConflict *OnConflict // ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ...
}

// OnConflict is INSERT's ON CONFLICT [(cols)] DO NOTHING or
// ON CONFLICT [(cols)] DO UPDATE SET col = expr, ... (excluded.col refers to
// the row proposed for insertion).
type OnConflict struct {
	Columns   []string
	DoNothing bool
	Set       []Assignment
}

type Update struct {
	StmtSource
	Table string
	Set   []Assignment
	Where Expr
}

type Assignment struct {
	Column string
	Value  Expr
}

type Delete struct {
	StmtSource
	Table string
	Where Expr
}

// QueryStmt is a SELECT (or VALUES, or set operation) run as a statement.
type QueryStmt struct {
	StmtSource
	Query Query
}

// ---- Queries ----

// Query is *Select, *SetOp or *Values.
type Query interface{ query() }

type Select struct {
	With     []CTE
	Distinct bool
	Items    []SelectItem
	From     []TableExpr // comma-separated FROM list (implicit cross join)
	Where    Expr
	GroupBy  []Expr
	Having   Expr
	OrderBy  []OrderItem
	Limit    Expr
	Offset   Expr
	Pos      Pos
}

// SetOp is Left UNION|INTERSECT|EXCEPT [ALL] Right, with optional ORDER BY
// and LIMIT applying to the whole.
type SetOp struct {
	Op          string // "UNION", "INTERSECT", "EXCEPT"
	All         bool
	Left, Right Query
	OrderBy     []OrderItem
	Limit       Expr
	Offset      Expr
	With        []CTE
}

// Values is VALUES (..), (..).
type Values struct {
	Rows [][]Expr
	Pos  Pos
}

func (*Select) query() {}
func (*SetOp) query()  {}
func (*Values) query() {}

type CTE struct {
	Name    string
	Columns []string
	Query   Query
}

// SelectItem is `expr [AS alias]`, `*` or `t.*`.
type SelectItem struct {
	Expr      Expr
	Alias     string
	Star      bool
	StarTable string
	Pos       Pos
}

type OrderItem struct {
	Expr       Expr
	Desc       bool
	NullsFirst *bool
}

// TableExpr is *TableName, *WindowTVF, *TableFunc, *Join or *Subquery.
type TableExpr interface{ tableExpr() }

type TableName struct {
	Schema string // e.g. pg_catalog, information_schema; "" if unqualified
	Name   string
	Alias  string
	Pos    Pos
}

// WindowTVF is TUMBLE(src, ts, size [, offset]) or
// HOP(src, ts, slide, size [, offset]) in FROM (table-function form).
// Source may be written `TABLE src` too. Sizes are interval literals.
type WindowTVF struct {
	Kind    string // "TUMBLE" or "HOP"
	Source  *TableName
	TimeCol string
	Size    Expr
	Slide   Expr // HOP only
	Offset  Expr // optional
	Alias   string
	Pos     Pos
}

type Join struct {
	Kind        string // "INNER", "LEFT", "RIGHT", "FULL", "CROSS"
	Left, Right TableExpr
	On          Expr
	Using       []string
	Pos         Pos
}

type Subquery struct {
	Query   Query
	Alias   string
	Columns []string
	Pos     Pos
}

// TableFunc is a set-returning function in FROM other than the window
// functions: generate_series(1, 3) AS g(n), unnest(arr).
type TableFunc struct {
	Func       *FuncCall
	Alias      string
	Columns    []string
	Ordinality bool // WITH ORDINALITY: a last column numbering the rows
	Pos        Pos
}

func (*TableFunc) tableExpr() {}
func (*TableName) tableExpr() {}
func (*WindowTVF) tableExpr() {}
func (*Join) tableExpr()      {}
func (*Subquery) tableExpr()  {}

// ---- Expressions ----

// Expr is an unresolved scalar expression as written.
type Expr interface{ ExprPos() Pos }

// ColumnRef is [table.]name.
type ColumnRef struct {
	Table string
	Name  string
	Pos   Pos
}

// Literal is a constant. String literals are untyped (Type TypeUnknown) until
// context resolves them; typed literals (TIMESTAMP '...', DATE '...') carry
// their type. Intervals (INTERVAL '1' MINUTE, INTERVAL '1 minute') are
// Literals of TypeInterval with the value already computed.
type Literal struct {
	Value datum.Datum
	Type  datum.Type
	Pos   Pos
}

// Param is $n.
type Param struct {
	N   int
	Pos Pos
}

// BinaryExpr: Op is one of + - * / % = <> < <= > >= AND OR || LIKE ILIKE
// "NOT LIKE" "NOT ILIKE" ~ !~ ~* !~* "IS DISTINCT FROM" "IS NOT DISTINCT FROM",
// any other PostgreSQL operator as written (& | # << >> ^ ...), or a
// comparison with ANY/ALL: "= ANY", "<> ALL", ... where R is the array (or a
// *SubqueryExpr for `x < ANY (SELECT ...)`; `x = ANY (SELECT ...)` is an IN
// *SubqueryExpr).
type BinaryExpr struct {
	Op   string
	L, R Expr
	Pos  Pos
}

// UnaryExpr: Op is NOT, -, +, "IS NULL", "IS NOT NULL", "IS TRUE",
// "IS FALSE", "IS NOT TRUE", "IS NOT FALSE".
type UnaryExpr struct {
	Op  string
	X   Expr
	Pos Pos
}

// FuncCall is name(args). Star is count(*). Name is lower-cased, and
// qualified names keep their schema (pg_catalog.format_type).
type FuncCall struct {
	Name     string
	Args     []Expr
	Distinct bool
	Star     bool
	Filter   Expr        // agg FILTER (WHERE ...)
	OrderBy  []OrderItem // agg(x ORDER BY ...): the order the aggregate sees its rows in
	Over     *WindowSpec // window function call: f(...) OVER (...)
	Pos      Pos
}

// WindowSpec is the OVER (PARTITION BY ... ORDER BY ... [frame]) of a
// window function call. Frame is the frame clause as SQL text
// ("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"), "" for the default.
type WindowSpec struct {
	PartitionBy []Expr
	OrderBy     []OrderItem
	Frame       string
}

type CaseExpr struct {
	Operand Expr
	Whens   []CaseWhen
	Else    Expr
	Pos     Pos
}

type CaseWhen struct{ Cond, Then Expr }

// CastExpr is CAST(x AS t) or x::t.
type CastExpr struct {
	X        Expr
	Type     datum.Type
	TypeName string
	Pos      Pos
}

type InList struct {
	X    Expr
	List []Expr
	Not  bool
	Pos  Pos
}

type Between struct {
	X, Lo, Hi Expr
	Not       bool
	Pos       Pos
}

// SubqueryExpr is (SELECT ...) as a scalar, EXISTS (SELECT ...), or
// x IN (SELECT ...) (X set, Not for NOT IN).
type SubqueryExpr struct {
	Query  Query
	Exists bool
	X      Expr
	Not    bool
	Pos    Pos
}

// ArrayExpr is ARRAY[a, b].
type ArrayExpr struct {
	Elems []Expr
	Pos   Pos
}

// Subscript is x[i].
type Subscript struct {
	X, Index Expr
	Pos      Pos
}

// FieldSelect is (x).field, a field of a composite value.
type FieldSelect struct {
	X     Expr
	Field string
	Pos   Pos
}

func (e *FieldSelect) ExprPos() Pos  { return e.Pos }
func (e *ColumnRef) ExprPos() Pos    { return e.Pos }
func (e *Literal) ExprPos() Pos      { return e.Pos }
func (e *Param) ExprPos() Pos        { return e.Pos }
func (e *BinaryExpr) ExprPos() Pos   { return e.Pos }
func (e *UnaryExpr) ExprPos() Pos    { return e.Pos }
func (e *FuncCall) ExprPos() Pos     { return e.Pos }
func (e *CaseExpr) ExprPos() Pos     { return e.Pos }
func (e *CastExpr) ExprPos() Pos     { return e.Pos }
func (e *InList) ExprPos() Pos       { return e.Pos }
func (e *Between) ExprPos() Pos      { return e.Pos }
func (e *SubqueryExpr) ExprPos() Pos { return e.Pos }
func (e *ArrayExpr) ExprPos() Pos    { return e.Pos }
func (e *Subscript) ExprPos() Pos    { return e.Pos }
