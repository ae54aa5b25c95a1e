package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-sql/weir/engine"
)

// Backend creates a session per client connection. EngineBackend adapts an
// *engine.Engine; tests use fakes.
type Backend interface {
	// NewSession returns a fresh session for a client that logged in as
	// user to database (Weir has one database: any name is accepted).
	NewSession(user, database string) engine.SessionAPI
}

// Config configures a Server.
type Config struct {
	// Listen is the address ListenAndServe listens on (default
	// DefaultListen).
	Listen string
	// Backend creates sessions. Required.
	Backend Backend
	// Password, when set, makes every connection authenticate with
	// SCRAM-SHA-256 using it, under any user name.
	Password string
	// Users maps user names to passwords. When set, only these users may
	// log in (with SCRAM-SHA-256), plus any user with Password if that is
	// set too.
	Users map[string]string
	// TrustRemote trusts connections from non-loopback addresses when no
	// password is configured. Off by default: without a password only
	// loopback clients are let in.
	TrustRemote bool
	// TLSCertFile and TLSKeyFile enable TLS (clients' SSLRequest is
	// answered 'S'); TLSConfig overrides them.
	TLSCertFile, TLSKeyFile string
	TLSConfig               *tls.Config
	// Logf receives connection-level messages (nil: discarded).
	Logf func(format string, args ...any)
	// MaxMessageSize bounds one frontend message's body in bytes (default
	// DefaultMaxMessageSize). A larger declared length closes the
	// connection with a protocol error.
	MaxMessageSize int
	// MaxQueuedBytes bounds the messages a connection's reader queues
	// ahead of its executor (default 8 MiB).
	MaxQueuedBytes int
	// AuthTimeout bounds the startup and authentication exchange (default
	// one minute, PostgreSQL's authentication_timeout).
	AuthTimeout time.Duration
	// LogStatement, when set, is called with the text of every statement
	// a client sends (each statement of a simple query as it runs, each
	// Parse message's query) and the error it ended with (nil on
	// success). The client-corpus tests record what real programs send
	// with it. It is called from connection goroutines, concurrently.
	LogStatement func(text string, err error)
}

// Defaults.
const (
	DefaultListen         = "127.0.0.1:5433"
	DefaultMaxMessageSize = 64 << 20
	defaultMaxQueuedBytes = 8 << 20
	defaultAuthTimeout    = time.Minute
)

// ServerVersion is the server_version reported to clients: a PostgreSQL
// 13 version that drivers parse (libpq reads "13.9" as 130009), followed
// by what the server really is.
const ServerVersion = "13.9 (Weir 0.1)"

// VersionString is what version() returns; SQLAlchemy parses it.
const VersionString = "PostgreSQL 13.9 (Weir 0.1) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Server serves the PostgreSQL wire protocol. Create it with New, run it
// with Serve or ListenAndServe, stop it with Shutdown.
type Server struct {
	cfg     Config
	tlsConf *tls.Config
	cfgErr  error
	auth    *authenticator

	// stopping is closed by Shutdown: connections stop at their next
	// message boundary.
	stopping chan struct{}
	stopOnce sync.Once
	nextPID  atomic.Uint32

	// conns tracks live connections; the WaitGroup counts their goroutines.
	wg sync.WaitGroup

	// mu guards the listener and connection sets. No I/O under it.
	mu struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		byPID     map[uint32]*conn
		closed    bool
	}
}

// New returns a server for cfg. Configuration errors (an unreadable TLS
// key) are returned by Serve.
func New(cfg Config) *Server {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxQueuedBytes <= 0 {
		cfg.MaxQueuedBytes = defaultMaxQueuedBytes
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = defaultAuthTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{cfg: cfg, stopping: make(chan struct{})}
	if eb, ok := cfg.Backend.(engineBackend); ok {
		eb.e.SetActivitySource(s)
	}
	s.mu.listeners = map[net.Listener]struct{}{}
	s.mu.conns = map[*conn]struct{}{}
	s.mu.byPID = map[uint32]*conn{}
	// Process ids start at a random point so that they do not look like
	// the previous run's (cancel keys of stale clients miss).
	var b [2]byte
	_, _ = rand.Read(b[:])
	s.nextPID.Store(1000 + uint32(binary.BigEndian.Uint16(b[:])))
	switch {
	case cfg.Backend == nil:
		s.cfgErr = errors.New("server: Config.Backend is required")
	case cfg.TLSConfig != nil:
		s.tlsConf = cfg.TLSConfig
	case cfg.TLSCertFile != "" || cfg.TLSKeyFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			s.cfgErr = fmt.Errorf("server: loading TLS certificate: %w", err)
		} else {
			s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	if s.cfgErr == nil {
		s.auth, s.cfgErr = newAuthenticator(cfg)
	}
	return s
}

// ListenAndServe listens on Config.Listen and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or an accept error. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfgErr != nil {
		ln.Close()
		return s.cfgErr
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.stopping:
				return ErrServerClosed
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logf("server: accept: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, nc)
		if !s.track(c) {
			nc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.serve()
		}()
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, c)
	if s.mu.byPID[c.pid] == c {
		delete(s.mu.byPID, c.pid)
	}
}

// register makes c reachable by CancelRequest; it picks c's process id.
func (s *Server) register(c *conn) {
	c.mu.Lock()
	c.mu.started = time.Now()
	c.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		pid := s.nextPID.Add(1) & 0x7fffffff
		if _, taken := s.mu.byPID[pid]; pid != 0 && !taken {
			c.pid = pid
			s.mu.byPID[pid] = c
			return
		}
	}
}

// Activity lists the connections that have started a session (for
// pg_stat_activity), by process id.
func (s *Server) Activity() []engine.Activity {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.mu.byPID))
	for _, c := range s.mu.byPID {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]engine.Activity, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.activity())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// CancelBackend cancels the statement running on the connection with
// process id pid (pg_cancel_backend); false if there is none.
func (s *Server) CancelBackend(pid int32) bool {
	s.mu.Lock()
	c := s.mu.byPID[uint32(pid)]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.cancelStatement(errCancelRequest)
	return true
}

// cancelRequest handles a CancelRequest: the statement running on the
// connection with that process id and secret key is canceled. Wrong keys
// are ignored silently, as PostgreSQL does.
func (s *Server) cancelRequest(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.mu.byPID[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret[:], secret) != 1 {
		s.cfg.Logf("server: ignoring cancel request for process %d", pid)
		return
	}
	c.cancelStatement(errCancelRequest)
}

// Shutdown stops accepting connections, lets each connection finish the
// statement it is running and then closes it (clients get FATAL 57P01).
// When ctx is done first, running statements are canceled and the
// remaining connections closed. It returns when every connection is gone;
// the error is ctx's if it had to force them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.mu.Lock()
	s.mu.closed = true
	for ln := range s.mu.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.cancelStatement(errShutdown)
	}
	// Give canceled statements a moment to report, then cut the sockets.
	select {
	case <-done:
		return ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	for _, c := range conns {
		c.nc.Close()
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cfg.Logf("server: shutdown: some sessions did not stop")
	}
	return ctx.Err()
}
