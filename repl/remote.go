package repl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// connectionFailure is SQLSTATE 08006 (connection_failure).
const connectionFailure = "08006"

// Remote is a session on a running server — Weir's, or any PostgreSQL —
// over the wire protocol: a pgx connection behind engine.SessionAPI, so the
// shell works the same in both modes. Exec uses the simple query protocol
// (so a text of several statements runs as one), reads every value in text
// format and converts it with datum.Parse by the column's type OID.
// Canceling Exec's context sends the server a cancel request; if the
// connection is lost, the next Exec reconnects.
//
// A Remote is used by one goroutine at a time.
type Remote struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn

	// mu guards notices, which pgconn hands to OnNotice while Exec reads.
	mu      sync.Mutex
	notices []string
}

var _ engine.SessionAPI = (*Remote)(nil)

// Connect opens a Remote on url (postgres://user@host:port/db?sslmode=...
// or "host=... port=..."; PG* environment variables fill in the rest, as
// for psql).
func Connect(ctx context.Context, url string) (*Remote, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("repl: %w", err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	r := &Remote{cfg: cfg}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		r.mu.Lock()
		r.notices = append(r.notices, n.Message)
		r.mu.Unlock()
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		// Ctrl-C: ask the server to cancel at once; give up on the
		// connection (and reconnect on the next statement) only if it does
		// not answer.
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Remote) connect(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, r.cfg)
	if err != nil {
		return fmt.Errorf("repl: %w", err)
	}
	r.conn = conn
	return nil
}

// describe names the connection for the banner and \conninfo.
func (r *Remote) describe() string {
	s := fmt.Sprintf("database %q as user %q on %s:%d", r.cfg.Database, r.cfg.User, r.cfg.Host, r.cfg.Port)
	if v, ok := r.Setting("server_version"); ok {
		s += " (server " + v + ")"
	}
	return s
}

func (r *Remote) takeNotices() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.notices
	r.notices = nil
	return n
}

// Exec runs text (one or more statements) and returns a result per
// statement, stopping at the first error.
func (r *Remote) Exec(ctx context.Context, text string) ([]*engine.Result, error) {
	if r.conn == nil || r.conn.IsClosed() {
		if err := r.connect(ctx); err != nil {
			return nil, pgerr.New(connectionFailure, "%v", err)
		}
	}
	r.takeNotices()
	mrr := r.conn.PgConn().Exec(ctx, text)
	var results []*engine.Result
	var firstErr error
	for mrr.NextResult() {
		res, err := readResult(mrr.ResultReader())
		res.Notices = r.takeNotices()
		if err != nil {
			if len(res.Notices) > 0 {
				results = append(results, &engine.Result{Notices: res.Notices})
			}
			firstErr = err
			break
		}
		results = append(results, res)
	}
	if err := mrr.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return results, r.convertErr(ctx, firstErr, text)
	}
	return results, nil
}

// readResult reads one statement's rows and command tag.
func readResult(rr *pgconn.ResultReader) (*engine.Result, error) {
	res := &engine.Result{}
	fds := rr.FieldDescriptions()
	if fds != nil {
		res.Columns = make([]engine.Column, len(fds))
		for i, fd := range fds {
			res.Columns[i] = engine.Column{Name: fd.Name, Type: columnType(fd.DataTypeOID)}
		}
	}
	for rr.NextRow() {
		vals := rr.Values()
		row := make(datum.Row, len(vals))
		for i, v := range vals {
			var oid uint32
			if i < len(fds) {
				oid = fds[i].DataTypeOID
			}
			row[i] = textDatum(oid, v)
		}
		res.Rows = append(res.Rows, row)
	}
	tag, err := rr.Close()
	res.Tag = tag.String()
	return res, err
}

// columnType maps a type OID to a datum.Type; types Weir does not know are
// shown as text.
func columnType(oid uint32) datum.Type {
	if t := datum.TypeFromOID(oid); t != datum.TypeUnknown {
		return t
	}
	return datum.TypeText
}

// textDatum converts a value in text format (nil is NULL). Values whose
// text does not survive the round trip through datum (numeric's trailing
// zeros, a time zone suffix, types Weir lacks) keep the server's text, so
// the shell shows exactly what the server sent.
func textDatum(oid uint32, v []byte) datum.Datum {
	if v == nil {
		return datum.Null
	}
	s := string(v)
	t := datum.TypeFromOID(oid)
	if t == datum.TypeUnknown {
		return datum.NewString(s)
	}
	d, err := datum.Parse(t, s)
	if err != nil || d.Format() != s {
		return datum.NewString(s)
	}
	return d
}

// convertErr turns what pgx returned into a *pgerr.Error with the
// position as a byte offset into text (the protocol counts characters).
func (r *Remote) convertErr(ctx context.Context, err error, text string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &pgerr.Error{Code: pe.Code, Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint, Pos: byteOffset(text, int(pe.Position))}
	}
	if ctx.Err() != nil {
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	if r.conn.IsClosed() {
		return pgerr.New(connectionFailure, "connection to the server was lost (%v); the next statement reconnects", err)
	}
	return pgerr.New(connectionFailure, "%v", err)
}

// byteOffset converts a 1-based character position in text into a 1-based
// byte offset (0 stays 0).
func byteOffset(text string, pos int) int {
	if pos <= 0 {
		return 0
	}
	n := 1
	for i := range text {
		if n == pos {
			return i + 1
		}
		n++
	}
	return len(text) + 1
}

// Prepare is not offered over a client connection; the shell does not use
// it.
func (r *Remote) Prepare(context.Context, string, []datum.Type) (*engine.Prepared, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "prepared statements are not available in the shell's client mode")
}

// ExecPrepared is not offered over a client connection.
func (r *Remote) ExecPrepared(context.Context, *engine.Prepared, []datum.Datum) (*engine.Result, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "prepared statements are not available in the shell's client mode")
}

// BeginCopy is not offered over a client connection.
func (r *Remote) BeginCopy(context.Context, *sql.Copy) (engine.CopyIn, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "COPY FROM STDIN is not available in the shell's client mode")
}

// Setting returns a parameter the server reported (server_version,
// TimeZone, ...).
func (r *Remote) Setting(name string) (string, bool) {
	if r.conn == nil || r.conn.IsClosed() {
		return "", false
	}
	v := r.conn.PgConn().ParameterStatus(name)
	return v, v != ""
}

// SetSetting runs SET name = 'value' on the server.
func (r *Remote) SetSetting(name, value string) error {
	_, err := r.Exec(context.Background(), "SET "+quoteIdent(strings.ToLower(name))+" = '"+strings.ReplaceAll(value, "'", "''")+"'")
	return err
}

// Close closes the connection.
func (r *Remote) Close() {
	if r.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.conn.Close(ctx)
}
