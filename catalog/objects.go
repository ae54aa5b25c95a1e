package catalog

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/weir-sql/weir/datum"
)

// Column is one column of a source, table or sink (or a template parameter).
type Column struct {
	Name    string
	Type    datum.Type
	NotNull bool
}

// columnJSON is Column's stored form: the type by its SQL name, so stored
// definitions do not depend on datum.Type's numbering.
type columnJSON struct {
	Name    string
	Type    string
	NotNull bool `json:",omitempty"`
}

// MarshalJSON stores the type by name.
func (c Column) MarshalJSON() ([]byte, error) {
	return json.Marshal(columnJSON{Name: c.Name, Type: c.Type.String(), NotNull: c.NotNull})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *Column) UnmarshalJSON(b []byte) error {
	var j columnJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, ok := datum.ParseTypeName(j.Type)
	if !ok {
		return fmt.Errorf("catalog: column %q has unknown type %q", j.Name, j.Type)
	}
	*c = Column{Name: j.Name, Type: t, NotNull: j.NotNull}
	return nil
}

// Source is a stream definition (CREATE SOURCE).
type Source struct {
	ID      uint64
	Name    string
	Columns []Column
	// WatermarkColumn is the WATERMARK FOR column ("" if the source has
	// none); WatermarkSQL its expression as written, for SHOW and EXPLAIN.
	WatermarkColumn string
	WatermarkSQL    string
	// WatermarkDelay is how far the watermark trails the largest event time
	// read, in microseconds: `ts - INTERVAL '5' SECOND` gives 5e6, `ts` 0.
	// The planner computes it when it binds the CREATE SOURCE.
	WatermarkDelay int64
	// Options are the WITH options, keys lower-case ("connector", "path", ...).
	Options map[string]string
	// SQL is the CREATE SOURCE statement text.
	SQL string
}

// Connector returns the source's connector, "log" when WITH left it out.
func (s *Source) Connector() string {
	if c := s.Options["connector"]; c != "" {
		return c
	}
	return "log"
}

// TimeCol returns the index of the watermark column, or -1.
func (s *Source) TimeCol() int { return columnIndex(s.Columns, s.WatermarkColumn) }

// Table is a result or reference table (CREATE TABLE). With a primary key
// rows are upserted by it; without, appended.
type Table struct {
	ID         uint64
	Name       string
	Columns    []Column
	PrimaryKey []int // column indexes, in key order; nil for append-only
	SQL        string
}

// Sink is an external output (CREATE SINK).
type Sink struct {
	ID      uint64
	Name    string
	Columns []Column
	Options map[string]string
	SQL     string
	// PrimaryKey holds the indexes of the PRIMARY KEY columns (external
	// sinks upsert or key records by it).
	PrimaryKey []int `json:",omitempty"`
}

// Connector returns the sink's connector ("blackhole", "stdout", "file",
// "postgres", "kafka", "nats").
func (s *Sink) Connector() string { return s.Options["connector"] }

// Job states. A job is live while RUNNING, UPDATING or DRAINING. UPDATED
// ends a launch that an ALTER JOB ... UPDATE replaced (its successor has
// PrevID = its ID).
const (
	JobRunning   = "RUNNING"
	JobUpdating  = "UPDATING"
	JobUpdated   = "UPDATED"
	JobDraining  = "DRAINING"
	JobDrained   = "DRAINED"
	JobCancelled = "CANCELLED"
	JobDone      = "DONE"
	JobFailed    = "FAILED"
)

// IsLiveState reports whether a job in state s is still running (its name
// is taken).
func IsLiveState(s string) bool {
	return s == JobRunning || s == JobUpdating || s == JobDraining
}

// Job is one launch of a named job: every launch, update or restore of a
// name is a new Job with a new ID; PrevID links an update or restore to the
// job id it replaced.
type Job struct {
	Name string
	ID   uint64
	// StateNS namespaces the job's operator state in the store. An update
	// that carries state over may keep its predecessor's namespace.
	StateNS   uint64
	State     string
	SQL       string            // the INSERT ... SELECT the job runs
	Options   map[string]string // CREATE JOB ... WITH options
	StartedAt int64             // micros since the epoch
	EndedAt   int64             // micros; 0 while live
	Error     string            // why it FAILED
	PrevID    uint64
	// Template and Snapshot record where the job came from (FROM TEMPLATE,
	// FROM SNAPSHOT), "" otherwise.
	Template string `json:",omitempty"`
	Snapshot string `json:",omitempty"`
}

// Live reports whether the job is RUNNING, UPDATING or DRAINING.
func (j *Job) Live() bool { return IsLiveState(j.State) }

// Template is a stored, parameterized job (CREATE TEMPLATE). Body is the job
// text after AS with ${param} placeholders unexpanded.
type Template struct {
	Name   string
	Params []Column
	Body   string
	SQL    string
}

// Snapshot is a saved copy of one job's state (CREATE SNAPSHOT).
type Snapshot struct {
	Name       string
	Job        string // job name
	JobID      uint64
	WithSource bool
	CreatedAt  int64 // micros
	Dir        string
	Bytes      int64
	Operators  []string // the stateful operators it holds
	// ID names the snapshot's keyspace in the store (executor/snapshot.go).
	ID uint64 `json:",omitempty"`
	// SQL and Options are the snapshotted job's statement and WITH
	// options: CREATE JOB ... FROM SNAPSHOT plans them to match operators.
	SQL     string            `json:",omitempty"`
	Options map[string]string `json:",omitempty"`
	// Scheduled marks a snapshot taken by the job option snapshot_every
	// (only the newest snapshot_keep of them are kept).
	Scheduled bool `json:",omitempty"`
}

// RelKind says what a relation is.
type RelKind uint8

const (
	RelSource RelKind = iota + 1
	RelTable
	RelSink
	// RelSystem is a system or pg_catalog table served by the engine.
	RelSystem
)

func (k RelKind) String() string {
	switch k {
	case RelSource:
		return "source"
	case RelTable:
		return "table"
	case RelSink:
		return "sink"
	case RelSystem:
		return "system table"
	}
	return "relation"
}

// Relation is a name in FROM or INSERT INTO resolved to what it denotes:
// kind, schema and, for user objects, the definition.
type Relation struct {
	Kind    RelKind
	Schema  string // "" for user objects; "pg_catalog", "information_schema", ... for system tables
	Name    string
	ID      uint64
	Columns []Column
	// Exactly one of these is set for user objects; none for system tables.
	Source *Source
	Table  *Table
	Sink   *Sink
}

func columnIndex(cols []Column, name string) int {
	if name == "" {
		return -1
	}
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// The clone methods give callers their own copies.

func (s *Source) clone() *Source {
	c := *s
	c.Columns = slices.Clone(s.Columns)
	c.Options = maps.Clone(s.Options)
	return &c
}

func (t *Table) clone() *Table {
	c := *t
	c.Columns = slices.Clone(t.Columns)
	c.PrimaryKey = slices.Clone(t.PrimaryKey)
	return &c
}

func (s *Sink) clone() *Sink {
	c := *s
	c.Columns = slices.Clone(s.Columns)
	c.PrimaryKey = slices.Clone(s.PrimaryKey)
	c.Options = maps.Clone(s.Options)
	return &c
}

func (j *Job) clone() *Job {
	c := *j
	c.Options = maps.Clone(j.Options)
	return &c
}

func (t *Template) clone() *Template {
	c := *t
	c.Params = slices.Clone(t.Params)
	return &c
}

func (s *Snapshot) clone() *Snapshot {
	c := *s
	c.Operators = slices.Clone(s.Operators)
	c.Options = maps.Clone(s.Options)
	return &c
}
