package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// conn is one client connection. Its serve method runs the startup and
// authentication exchange synchronously, then splits in two: a reader
// goroutine that decodes frontend messages into the command queue, and the
// executor (serve's own goroutine) that runs them and writes every reply.
// Only the executor writes to the socket and touches the session; the
// reader touches nothing but the queue and the cancel hook.
type conn struct {
	srv *Server
	nc  net.Conn
	be  *pgproto3.Backend

	// Written by the executor only.
	wbuf []byte
	werr error // first write error; later writes are dropped

	user, database string
	pid            uint32
	secret         [4]byte
	sess           engine.SessionAPI
	queue          *cmdQueue

	// Protocol state, executor-only.
	txn            byte // 'I' idle, 'T' in a transaction block, 'E' failed block
	stmts          map[string]*prepStmt
	portals        map[string]*portal
	ignoreTillSync bool
	fatal          bool              // a FATAL error was sent: the connection ends
	reported       map[string]string // ParameterStatus values sent

	// readerDone is closed when the reader goroutine exits.
	readerDone chan struct{}

	// mu guards the running statement's cancel function, which the reader
	// goroutine (Terminate, a dropped connection) and the server (cancel
	// requests, shutdown) call. No I/O happens under it.
	mu struct {
		sync.Mutex
		cancel context.CancelCauseFunc
		// pending is a cancel cause that arrived while no statement ran
		// but the connection is going away (it is applied to the next one).
		closing error
		// activity is what pg_stat_activity shows of the connection.
		started    time.Time
		query      string
		queryStart time.Time
		active     bool
	}
}

// beginQuery records the statement the connection starts running, for
// pg_stat_activity; endQuery marks it finished (the text stays, as in
// PostgreSQL).
func (c *conn) beginQuery(text string) {
	c.mu.Lock()
	c.mu.query, c.mu.queryStart, c.mu.active = text, time.Now(), true
	c.mu.Unlock()
}

func (c *conn) endQuery() {
	c.mu.Lock()
	c.mu.active = false
	c.mu.Unlock()
}

// activity describes the connection for pg_stat_activity.
func (c *conn) activity() engine.Activity {
	a := engine.Activity{PID: int32(c.pid), User: c.user, Database: c.database}
	if c.sess != nil {
		a.Application, _ = c.sess.Setting("application_name")
	}
	if addr, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		a.ClientAddr, a.ClientPort = addr.IP.String(), addr.Port
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a.BackendStart, a.QueryStart, a.Query, a.State = c.mu.started, c.mu.queryStart, c.mu.query, "idle"
	if c.mu.active {
		a.State = "active"
	}
	return a
}

// Causes of a statement's cancellation.
var (
	errCancelRequest = errors.New("server: cancel request")
	errTimeout       = errors.New("server: statement timeout")
)

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:        s,
		nc:         nc,
		txn:        'I',
		stmts:      map[string]*prepStmt{},
		portals:    map[string]*portal{},
		reported:   map[string]string{},
		readerDone: make(chan struct{}),
	}
	c.be = pgproto3.NewBackend(nc, nc)
	c.be.SetMaxBodyLen(s.cfg.MaxMessageSize)
	return c
}

// serve runs the connection to its end and closes it.
func (c *conn) serve() {
	defer c.nc.Close()
	_ = c.nc.SetDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	ok, err := c.startup()
	if err != nil {
		if pe := asPgErr(err); pe != nil {
			c.sendError(pe, "FATAL", "")
			_ = c.flush()
		} else if !errors.Is(err, errClientGone) && !errors.Is(err, io.EOF) {
			c.srv.cfg.Logf("server: startup from %s: %v", c.nc.RemoteAddr(), err)
		}
		return
	}
	if !ok {
		return // a cancel request, or nothing to do
	}
	_ = c.nc.SetDeadline(time.Time{})
	defer c.sess.Close()
	c.queue = newCmdQueue(c.srv.cfg.MaxQueuedBytes)
	go c.readLoop()
	c.execLoop()
	// Make the reader stop: closing the queue ends a wait for space,
	// closing the socket ends its Receive.
	c.queue.close(nil, true)
	c.nc.Close()
	<-c.readerDone
}

// asPgErr returns err as a *pgerr.Error if it is one.
func asPgErr(err error) *pgerr.Error {
	var pe *pgerr.Error
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// startup handles the messages before authentication: SSLRequest and
// GSSEncRequest (answered, then the real startup message follows),
// CancelRequest (handled, then the connection closes) and StartupMessage.
// ok is true when a session is ready.
func (c *conn) startup() (ok bool, err error) {
	tlsDone := false
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return false, errClientGone
			}
			return false, pgerr.New(pgerr.ProtocolViolation, "invalid startup packet: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if c.srv.tlsConf == nil || tlsDone {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return false, errClientGone
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return false, errClientGone
			}
			tc := tls.Server(c.nc, c.srv.tlsConf)
			if err := tc.Handshake(); err != nil {
				return false, err
			}
			c.nc = tc
			c.be = pgproto3.NewBackend(tc, tc)
			c.be.SetMaxBodyLen(c.srv.cfg.MaxMessageSize)
			tlsDone = true
		case *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false, errClientGone
			}
		case *pgproto3.CancelRequest:
			c.srv.cancelRequest(m.ProcessID, m.SecretKey)
			return false, nil
		case *pgproto3.StartupMessage:
			return true, c.login(m)
		default:
			return false, pgerr.New(pgerr.ProtocolViolation, "unexpected startup message %T", msg)
		}
	}
}

// login authenticates the client of m, creates its session and sends the
// server parameters, BackendKeyData and the first ReadyForQuery.
func (c *conn) login(m *pgproto3.StartupMessage) error {
	params := m.Parameters
	c.user = params["user"]
	if c.user == "" {
		return pgerr.New(pgerr.InvalidAuthorization, "no PostgreSQL user name specified in startup packet")
	}
	c.database = params["database"]
	if c.database == "" {
		c.database = c.user
	}
	if params["replication"] != "" && params["replication"] != "false" && params["replication"] != "off" {
		return pgerr.New(pgerr.FeatureNotSupported, "replication connections are not supported")
	}
	// Protocol 3.2 and _pq_ options: say we speak 3.0 and know none.
	var unknown []string
	for k := range params {
		if strings.HasPrefix(k, "_pq_.") {
			unknown = append(unknown, k)
		}
	}
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknown) > 0 {
		c.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	if err := c.authenticate(); err != nil {
		return err
	}
	c.sess = c.srv.cfg.Backend.NewSession(c.user, c.database)
	c.applyStartupParams(params)
	// The secret is set before the connection becomes reachable by
	// cancel requests, which read it without a lock.
	if _, err := rand.Read(c.secret[:]); err != nil {
		return err
	}
	c.srv.register(c)
	// pg_backend_pid() reads it (see pgcatalog).
	_ = c.sess.SetSetting("weir.backend_pid", strconv.FormatUint(uint64(c.pid), 10))
	c.reportParams(true)
	c.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return c.flush()
}

// readLoop is the reader goroutine: it decodes messages into the queue and
// never waits for SQL. Terminate and a lost client cancel the running
// statement at once.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	for {
		msg, err := c.be.Receive()
		if err != nil {
			if isClientGone(err) {
				c.queue.close(errClientGone, true)
				c.cancelStatement(errClientGone)
				// Unblock an executor stuck writing to a client that
				// stopped reading.
				c.nc.Close()
				return
			}
			// A malformed or oversized message: the stream cannot be
			// resynchronized. The executor reports it after what came
			// before, then closes.
			var tooLong *pgproto3.ExceededMaxBodyLenErr
			var pe *pgerr.Error
			if errors.As(err, &tooLong) {
				pe = pgerr.New(pgerr.ProtocolViolation, "message of %d bytes exceeds the limit of %d bytes", tooLong.ActualBodyLen, tooLong.MaxExpectedBodyLen)
			} else if strings.HasPrefix(err.Error(), "unknown message type") {
				pe = pgerr.New(pgerr.ProtocolViolation, "invalid frontend message type: %s", strings.TrimPrefix(err.Error(), "unknown message type: "))
			} else {
				pe = pgerr.New(pgerr.ProtocolViolation, "invalid frontend message: %v", err)
			}
			c.queue.push(&fatalCmd{err: pe}, nil)
			c.queue.close(errClientGone, false)
			return
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			c.queue.close(errTerminated, true)
			c.cancelStatement(errTerminated)
			c.nc.Close()
			return
		}
		cm := copyMessage(msg)
		if !c.queue.push(cm, nil) {
			return
		}
		if _, fatal := cm.(*fatalCmd); fatal {
			c.queue.close(errClientGone, false)
			return
		}
	}
}

func isClientGone(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// execLoop is the executor: it runs messages in order until the queue
// closes, the client goes away or the server shuts down.
func (c *conn) execLoop() {
	for {
		m, err := c.queue.pop(context.Background(), c.srv.stopping)
		if err != nil {
			if errors.Is(err, errShutdown) {
				c.sendError(pgerr.New(pgerr.AdminShutdown, "terminating connection due to administrator command"), "FATAL", "")
				_ = c.flush()
			}
			return
		}
		if f, ok := m.(*fatalCmd); ok {
			c.sendError(f.err, "FATAL", "")
			_ = c.flush()
			return
		}
		c.handle(m.(*msgCmd).msg)
		if c.werr != nil || c.fatal {
			return
		}
	}
}

// handle runs one frontend message.
func (c *conn) handle(msg pgproto3.FrontendMessage) {
	if c.ignoreTillSync {
		if _, ok := msg.(*pgproto3.Sync); !ok {
			return
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		c.simpleQuery(m.String)
		c.readyForQuery()
	case *pgproto3.Parse:
		c.extended(c.parse(m))
	case *pgproto3.Bind:
		c.extended(c.bind(m))
	case *pgproto3.Describe:
		c.extended(c.describe(m))
	case *pgproto3.Execute:
		c.extended(c.execute(m))
	case *pgproto3.Close:
		c.extended(c.closeObject(m))
	case *pgproto3.Sync:
		c.ignoreTillSync = false
		if c.txn == 'I' {
			// The implicit transaction ends: its portals go with it.
			clear(c.portals)
		}
		c.readyForQuery()
	case *pgproto3.Flush:
		_ = c.flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Left over from a COPY that failed: the client is still sending.
	case *pgproto3.FunctionCall:
		c.extended(pgerr.New(pgerr.FeatureNotSupported, "the fastpath function call protocol is not supported"))
	default:
		c.extended(pgerr.New(pgerr.ProtocolViolation, "unexpected message type %T", msg))
	}
}

// extended finishes an extended-protocol message: an error is reported and
// every message up to the next Sync is skipped.
func (c *conn) extended(err error) {
	if err == nil {
		return
	}
	c.reportQueryError(err, "", 0)
	c.ignoreTillSync = true
}

// reportError sends err as an ErrorResponse; query is the text the
// error's position refers to ("" when it has none).
func (c *conn) reportError(err error, query string) { c.reportQueryError(err, query, 0) }

// reportQueryError reports err from a statement that starts offset bytes
// into query. A *queryErr in err's chain overrides the query (and adds
// its context line). A failure inside a transaction block moves it to the
// failed state.
func (c *conn) reportQueryError(err error, query string, offset int) {
	var qe *queryErr
	where := ""
	if errors.As(err, &qe) {
		where = qe.where
		if qe.query != "" {
			query, offset = qe.query, 0
		}
	}
	pe := withOffset(err, offset)
	if pe.Code == pgerr.InternalError || pe.Code == "" {
		c.srv.cfg.Logf("server: internal error: %v", err)
	}
	if c.txn == 'T' {
		c.txn = 'E'
	}
	severity := "ERROR"
	if pe.Code == pgerr.AdminShutdown {
		severity = "FATAL"
		c.fatal = true
	}
	e := errorResponse(pe, severity, query)
	e.Where = where
	c.send(e)
	if c.fatal {
		_ = c.flush()
	}
}

func (c *conn) readyForQuery() {
	c.send(&pgproto3.ReadyForQuery{TxStatus: c.txn})
	_ = c.flush()
}

// flushThreshold is the buffered output that triggers a write while a
// result streams.
const flushThreshold = 64 << 10

// send buffers a message.
func (c *conn) send(msg pgproto3.BackendMessage) {
	if c.werr != nil {
		return
	}
	b, err := msg.Encode(c.wbuf)
	if err != nil {
		c.srv.cfg.Logf("server: encoding %T: %v", msg, err)
		return
	}
	c.wbuf = b
	if len(c.wbuf) >= flushThreshold {
		_ = c.flush()
	}
}

// flush writes the buffered messages.
func (c *conn) flush() error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 4*flushThreshold {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
	if err != nil {
		c.werr = errClientGone
		c.cancelStatement(errClientGone)
	}
	return err
}

// statementContext returns the context a statement runs under: canceled
// by a cancel request, Terminate, a dropped client, shutdown or the
// session's statement_timeout. done must be called when it finishes.
func (c *conn) statementContext() (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	var stopTimer func() bool
	if d := c.statementTimeout(); d > 0 {
		t := time.AfterFunc(d, func() { cancel(errTimeout) })
		stopTimer = t.Stop
	}
	c.mu.Lock()
	c.mu.cancel = cancel
	closing := c.mu.closing
	c.mu.Unlock()
	if closing != nil {
		cancel(closing)
	}
	return ctx, func() {
		if stopTimer != nil {
			stopTimer()
		}
		c.mu.Lock()
		c.mu.cancel = nil
		c.mu.Unlock()
		cancel(nil)
	}
}

// cancelStatement cancels the running statement, if any, with cause. A
// cause that ends the connection also cancels statements started later.
func (c *conn) cancelStatement(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cause != errCancelRequest && cause != errTimeout && c.mu.closing == nil {
		c.mu.closing = cause
	}
	if c.mu.cancel != nil {
		c.mu.cancel(cause)
	}
}

// statementTimeout reads the session's statement_timeout (milliseconds,
// or a value with a unit).
func (c *conn) statementTimeout() time.Duration {
	v, ok := c.sess.Setting("statement_timeout")
	if !ok {
		return 0
	}
	return parseDurationSetting(v)
}

// stmtError turns an error from a statement that ran under ctx into what
// the client sees: a canceled statement reports why it was canceled,
// whatever error the engine returned for it.
func stmtError(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	switch context.Cause(ctx) {
	case errCancelRequest:
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	case errTimeout:
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to statement timeout")
	case errShutdown:
		return pgerr.New(pgerr.AdminShutdown, "terminating connection due to administrator command")
	}
	return err
}
