package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// The postgres sink writes into a table of a real PostgreSQL database
// through pgx (the driver the project already uses for its wire tests):
// upserted by the sink's PRIMARY KEY (INSERT ... ON CONFLICT DO UPDATE),
// or appended with COPY. Each Deliver is one PostgreSQL transaction that
// also sets the writer's row of the progress table
//
//	weir_sink_progress (sink text, writer text, seq bigint, PRIMARY KEY (sink, writer))
//
// (created when missing; the name is the progress_table option), so the
// rows and the last delivered outbox sequence commit together: a replay
// after a crash finds seq and skips what it covers. The transaction locks
// the writer's progress row first (SELECT ... FOR UPDATE), so even two
// processes delivering for one writer apply each entry once.
var postgresSinkOptions = []string{"url", "table", "mode", "progress_table"}

type postgresSink struct {
	cfg      SinkConfig
	url      string
	table    string // as given: "name" or "schema.name"
	progress string
	upsert   bool
	n        atomic.Int64
}

func openPostgresSink(cfg SinkConfig) (Sink, error) {
	const what = "postgres sink"
	if err := checkOptions(what, cfg.Options, postgresSinkOptions, nil); err != nil {
		return nil, err
	}
	s := &postgresSink{cfg: cfg, url: cfg.Options["url"], table: cfg.Options["table"], progress: cfg.Options["progress_table"]}
	if s.url == "" {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'url' is required (postgres://user@host:port/db)", what, cfg.Name)
	}
	if _, err := pgx.ParseConfig(s.url); err != nil {
		return nil, badOption(what, "url", s.url, err.Error())
	}
	if s.table == "" {
		s.table = cfg.Name
	}
	if s.progress == "" {
		s.progress = "weir_sink_progress"
	}
	switch m := strings.ToLower(cfg.Options["mode"]); m {
	case "":
		s.upsert = len(cfg.PrimaryKey) > 0
	case "upsert":
		if len(cfg.PrimaryKey) == 0 {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: mode 'upsert' needs a PRIMARY KEY on the sink", what, cfg.Name).
				WithHint("Declare PRIMARY KEY (...) in CREATE SINK, or use mode = 'append'.")
		}
		s.upsert = true
	case "append":
	default:
		return nil, badOption(what, "mode", m, "expected 'upsert' or 'append'")
	}
	return s, nil
}

// Write is not used: the executor delivers through OpenWriter.
func (s *postgresSink) Write(rows []datum.Row) error {
	return pgerr.New(pgerr.InternalError, "postgres sink %s: rows must be delivered through a writer", s.cfg.Name)
}
func (s *postgresSink) Count() int64 { return s.n.Load() }
func (s *postgresSink) Close() error { return nil }

func (s *postgresSink) OpenWriter(ctx context.Context, writer string) (SinkWriter, error) {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return nil, pgFailure(err, "postgres sink %s: connecting", s.cfg.Name)
	}
	w := &pgWriter{s: s, conn: conn, writer: writer}
	if err := w.prepare(ctx); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return w, nil
}

type pgWriter struct {
	s      *postgresSink
	conn   *pgx.Conn
	writer string
	target pgx.Identifier
	cols   []string // quoted column names
	insert string   // the INSERT's head: INSERT INTO t (cols) VALUES
	tail   string   // ON CONFLICT ... DO UPDATE SET ...
	delete string   // DELETE FROM t WHERE (pk) = ($1, ...)
	oids   []uint32 // the target columns' types, for COPY
}

// prepare checks the target table against the sink's columns and makes
// the progress table.
func (w *pgWriter) prepare(ctx context.Context) error {
	s := w.s
	var oidp *int64
	if err := w.conn.QueryRow(ctx, "SELECT to_regclass($1)::oid::int8", s.table).Scan(&oidp); err != nil {
		return pgFailure(err, "postgres sink %s: looking up table %s", s.cfg.Name, s.table)
	}
	if oidp == nil {
		return pgerr.New(pgerr.UndefinedTable, "postgres sink %s: relation %q does not exist in the target database", s.cfg.Name, s.table).
			WithHint("Create the table in PostgreSQL first, with the sink's columns.")
	}
	rows, err := w.conn.Query(ctx, `SELECT attname, atttypid::regtype::text, atttypid::int8 FROM pg_attribute
		WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`, *oidp)
	if err != nil {
		return pgFailure(err, "postgres sink %s: reading the columns of %s", s.cfg.Name, s.table)
	}
	type pgCol struct {
		typ string
		oid uint32
	}
	have := map[string]pgCol{}
	for rows.Next() {
		var name, typ string
		var toid int64
		if err := rows.Scan(&name, &typ, &toid); err != nil {
			rows.Close()
			return pgFailure(err, "postgres sink %s: reading the columns of %s", s.cfg.Name, s.table)
		}
		have[name] = pgCol{typ, uint32(toid)}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return pgFailure(err, "postgres sink %s: reading the columns of %s", s.cfg.Name, s.table)
	}
	for _, c := range s.cfg.Schema {
		pc, ok := have[c.Name]
		if !ok {
			return pgerr.New(pgerr.UndefinedColumn, "postgres sink %s: column %q of relation %q does not exist in the target database", s.cfg.Name, c.Name, s.table)
		}
		if !pgTypeFits(c.Type, pc.typ) {
			return pgerr.New(pgerr.DatatypeMismatch, "postgres sink %s: column %q is %s in the sink but %s in the target table %s", s.cfg.Name, c.Name, c.Type.PGName(), pc.typ, s.table)
		}
		w.cols = append(w.cols, pgx.Identifier{c.Name}.Sanitize())
		w.oids = append(w.oids, pc.oid)
	}
	if i := strings.IndexByte(s.table, '.'); i > 0 {
		w.target = pgx.Identifier{s.table[:i], s.table[i+1:]}
	} else {
		w.target = pgx.Identifier{s.table}
	}
	t := w.target.Sanitize()
	w.insert = "INSERT INTO " + t + " (" + strings.Join(w.cols, ", ") + ") VALUES "
	if s.upsert {
		var pk, set []string
		isKey := map[int]bool{}
		for _, k := range s.cfg.PrimaryKey {
			pk = append(pk, w.cols[k])
			isKey[k] = true
		}
		for i, c := range w.cols {
			if !isKey[i] {
				set = append(set, c+" = EXCLUDED."+c)
			}
		}
		if len(set) == 0 {
			w.tail = " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO NOTHING"
		} else {
			w.tail = " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
		}
		params := make([]string, len(pk))
		for i := range pk {
			params[i] = fmt.Sprintf("$%d", i+1)
		}
		w.delete = "DELETE FROM " + t + " WHERE (" + strings.Join(pk, ", ") + ") = (" + strings.Join(params, ", ") + ")"
	}
	p := pgx.Identifier{s.progress}.Sanitize()
	_, err = w.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+p+" (sink text NOT NULL, writer text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (sink, writer))")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == pgerr.UniqueViolation || pe.Code == pgerr.DuplicateTable) {
		err = nil // made concurrently by another writer
	}
	if err != nil {
		return pgFailure(err, "postgres sink %s: creating the progress table %s", s.cfg.Name, s.progress)
	}
	return nil
}

// pgTypeFits says whether a sink column of type t can be written into a
// PostgreSQL column of type pg (its regtype name).
func pgTypeFits(t datum.Type, pg string) bool {
	switch t.Kind() {
	case datum.KindBool:
		return pg == "boolean"
	case datum.KindInt:
		return pg == "smallint" || pg == "integer" || pg == "bigint" || pg == "numeric" || pg == "oid"
	case datum.KindFloat:
		return pg == "real" || pg == "double precision" || pg == "numeric"
	case datum.KindString:
		switch pg {
		case "text", "character varying", "character", "name", "uuid", "json", "jsonb", "citext":
			return true
		}
		return false
	case datum.KindBytes:
		return pg == "bytea"
	case datum.KindTimestamp:
		return pg == "timestamp without time zone" || pg == "timestamp with time zone"
	case datum.KindDate:
		return pg == "date"
	case datum.KindInterval:
		return pg == "interval"
	}
	return false
}

func (w *pgWriter) Delivered(ctx context.Context) (uint64, error) {
	var seq int64
	err := w.conn.QueryRow(ctx, "SELECT seq FROM "+pgx.Identifier{w.s.progress}.Sanitize()+" WHERE sink = $1 AND writer = $2", w.s.cfg.Name, w.writer).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, pgFailure(err, "postgres sink %s: reading progress", w.s.cfg.Name)
	}
	return uint64(seq), nil
}

// maxParams bounds the parameters of one multi-row INSERT (PostgreSQL's
// limit is 65535).
const maxParams = 60000

func (w *pgWriter) Deliver(ctx context.Context, entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	s := w.s
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return pgFailure(err, "postgres sink %s: BEGIN", s.cfg.Name)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit a no-op
	progress := pgx.Identifier{s.progress}.Sanitize()
	var done int64 = -1
	err = tx.QueryRow(ctx, "SELECT seq FROM "+progress+" WHERE sink = $1 AND writer = $2 FOR UPDATE", s.cfg.Name, w.writer).Scan(&done)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return pgFailure(err, "postgres sink %s: locking progress", s.cfg.Name)
	}
	for len(entries) > 0 && done >= 0 && entries[0].Seq <= uint64(done) {
		entries = entries[1:] // applied already (by a predecessor)
	}
	if len(entries) == 0 {
		return nil
	}
	n := 0
	if s.upsert {
		n, err = w.upsertRows(ctx, tx, entries)
	} else {
		n, err = w.appendRows(ctx, tx, entries)
	}
	if err != nil {
		return err
	}
	last := entries[len(entries)-1].Seq
	if _, err := tx.Exec(ctx, "INSERT INTO "+progress+" (sink, writer, seq) VALUES ($1, $2, $3) ON CONFLICT (sink, writer) DO UPDATE SET seq = EXCLUDED.seq",
		s.cfg.Name, w.writer, int64(last)); err != nil {
		return pgFailure(err, "postgres sink %s: recording progress", s.cfg.Name)
	}
	if err := tx.Commit(ctx); err != nil {
		return pgFailure(err, "postgres sink %s: COMMIT", s.cfg.Name)
	}
	s.n.Add(int64(n))
	return nil
}

// upsertRows applies the entries' rows by primary key: only each key's
// last operation matters (and one INSERT ... ON CONFLICT may not touch a
// row twice), so rows are reduced to it first.
func (w *pgWriter) upsertRows(ctx context.Context, tx pgx.Tx, entries []OutboxEntry) (int, error) {
	type op struct {
		row datum.Row
		del bool
	}
	last := map[string]int{}
	var ops []op
	var kb []byte
	for ei := range entries {
		e := &entries[ei]
		for i, r := range e.Rows {
			kb = kb[:0]
			for _, k := range w.s.cfg.PrimaryKey {
				kb = datum.AppendRow(kb, datum.Row{r[k]})
			}
			if j, ok := last[string(kb)]; ok {
				ops[j] = op{r, e.Deleted(i)}
				continue
			}
			last[string(kb)] = len(ops)
			ops = append(ops, op{r, e.Deleted(i)})
		}
	}
	var ups []datum.Row
	for _, o := range ops {
		if !o.del {
			ups = append(ups, o.row)
			continue
		}
		args := make([]any, len(w.s.cfg.PrimaryKey))
		for i, k := range w.s.cfg.PrimaryKey {
			args[i] = pgValue(o.row[k])
		}
		if _, err := tx.Exec(ctx, w.delete, args...); err != nil {
			return 0, pgFailure(err, "postgres sink %s: DELETE", w.s.cfg.Name)
		}
	}
	ncol := len(w.cols)
	per := max(1, maxParams/max(ncol, 1))
	var sb strings.Builder
	args := make([]any, 0, min(len(ups), per)*ncol)
	for start := 0; start < len(ups); start += per {
		chunk := ups[start:min(start+per, len(ups))]
		sb.Reset()
		sb.WriteString(w.insert)
		args = args[:0]
		for i, r := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for c := 0; c < ncol; c++ {
				if c > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "$%d", len(args)+1)
				args = append(args, pgValue(r[c]))
			}
			sb.WriteByte(')')
		}
		sb.WriteString(w.tail)
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return 0, pgFailure(err, "postgres sink %s: INSERT", w.s.cfg.Name)
		}
	}
	return len(ops), nil
}

// appendRows COPYs the entries' rows (deletions have no meaning without a
// key and are skipped).
func (w *pgWriter) appendRows(ctx context.Context, tx pgx.Tx, entries []OutboxEntry) (int, error) {
	var rows [][]any
	for ei := range entries {
		e := &entries[ei]
		for i, r := range e.Rows {
			if e.Deleted(i) {
				continue
			}
			vals := make([]any, len(r))
			for c, d := range r {
				vals[c] = pgValue(d)
			}
			rows = append(rows, vals)
		}
	}
	names := make([]string, len(w.s.cfg.Schema))
	for i, c := range w.s.cfg.Schema {
		names[i] = c.Name
	}
	if _, err := tx.CopyFrom(ctx, w.target, names, pgx.CopyFromRows(rows)); err != nil {
		return 0, pgFailure(err, "postgres sink %s: COPY", w.s.cfg.Name)
	}
	return len(rows), nil
}

func (w *pgWriter) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.conn.Close(ctx)
}

// pgValue converts a datum to a value pgx encodes for the target column.
func pgValue(d datum.Datum) any {
	switch d.Kind() {
	case datum.KindNull:
		return nil
	case datum.KindBool:
		return d.Bool()
	case datum.KindInt:
		return d.Int()
	case datum.KindFloat:
		return d.Float()
	case datum.KindString:
		return d.Str()
	case datum.KindBytes:
		return d.Bytes()
	case datum.KindTimestamp:
		return time.UnixMicro(d.Micros()).UTC()
	case datum.KindDate:
		return time.Unix(d.Int()*86400, 0).UTC()
	case datum.KindInterval:
		return pgtype.Interval{Months: d.Months(), Microseconds: d.Micros(), Valid: true}
	}
	return d.Format()
}

// pgFailure classifies an error from PostgreSQL: a server error keeps its
// SQLSTATE and fails the job, except for the classes a retry can get past
// (connection exceptions 08, transaction rollbacks 40 such as a deadlock,
// insufficient resources 53, operator intervention 57: a server shutting
// down); an error without SQLSTATE (the network) is retried.
func pgFailure(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "40", "53", "57":
			return Retryf("%s: %s (SQLSTATE %s)", what, pe.Message, pe.Code)
		}
		e := pgerr.New(pe.Code, "%s: %s", what, pe.Message)
		if pe.Detail != "" {
			e = e.WithDetail("%s", pe.Detail)
		}
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) || pgconn.SafeToRetry(err) || errors.Is(err, context.DeadlineExceeded) {
		return Retryf("%s: %v", what, err)
	}
	// Anything else from the driver (connection closed mid-way, EOF):
	// the server may come back.
	return Retryf("%s: %v", what, err)
}
