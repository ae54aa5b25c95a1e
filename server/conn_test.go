package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// rawConn is a hand-driven protocol connection for tests of bad input.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

// startup logs in and waits for ReadyForQuery.
func (r *rawConn) startup() *rawConn {
	r.t.Helper()
	r.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "raw", "database": "weir"}})
	if err := r.fe.Flush(); err != nil {
		r.t.Fatal(err)
	}
	r.until("ReadyForQuery")
	return r
}

// until reads messages up to one of type typ and returns them all.
func (r *rawConn) until(typ string) []pgproto3.BackendMessage {
	r.t.Helper()
	var out []pgproto3.BackendMessage
	for {
		_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		msg, err := r.fe.Receive()
		if err != nil {
			r.t.Fatalf("waiting for %s: %v (after %d messages)", typ, err, len(out))
		}
		out = append(out, copyBackend(msg))
		if msgTypeName(msg) == typ {
			return out
		}
	}
}

func copyBackend(msg pgproto3.BackendMessage) pgproto3.BackendMessage {
	switch m := msg.(type) {
	case *pgproto3.ErrorResponse:
		c := *m
		return &c
	case *pgproto3.ParameterStatus:
		c := *m
		return &c
	case *pgproto3.BackendKeyData:
		return &pgproto3.BackendKeyData{ProcessID: m.ProcessID, SecretKey: append([]byte(nil), m.SecretKey...)}
	case *pgproto3.DataRow:
		c := &pgproto3.DataRow{}
		for _, v := range m.Values {
			c.Values = append(c.Values, append([]byte(nil), v...))
		}
		return c
	}
	return msg
}

// readAll reads until the server closes the connection and returns the
// error responses seen.
func (r *rawConn) readUntilClosed() []*pgproto3.ErrorResponse {
	r.t.Helper()
	var errs []*pgproto3.ErrorResponse
	for {
		_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		msg, err := r.fe.Receive()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatal("the server did not close the connection")
			}
			return errs
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			c := *e
			errs = append(errs, &c)
		}
	}
}

func (r *rawConn) write(b []byte) {
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// checkServing checks that the server still answers a new client.
func checkServing(t *testing.T, ts *testServer) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, ts.url("check", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("server not serving: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1 << 20})
	t.Run("huge-message", func(t *testing.T) {
		r := dialRaw(t, ts.addr).startup()
		// A Query declaring 1 GiB.
		r.write([]byte{'Q', 0x40, 0, 0, 4})
		errs := r.readUntilClosed()
		if len(errs) != 1 || errs[0].Code != "08P01" || errs[0].Severity != "FATAL" {
			t.Fatalf("got %+v", errs)
		}
	})
	t.Run("huge-startup", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.write([]byte{0x40, 0, 0, 0, 0, 3, 0, 0})
		errs := r.readUntilClosed()
		if len(errs) != 1 || errs[0].Code != "08P01" {
			t.Fatalf("got %+v", errs)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		r := dialRaw(t, ts.addr).startup()
		r.write([]byte{'Q', 0, 0, 0, 100, 'S', 'E', 'L'})
		r.nc.(*net.TCPConn).CloseWrite()
		if errs := r.readUntilClosed(); len(errs) != 0 {
			t.Fatalf("got %+v", errs)
		}
	})
	t.Run("garbage-startup", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			r := dialRaw(t, ts.addr)
			b := make([]byte, 8+mrand.IntN(200))
			_, _ = rand.Read(b)
			r.write(b)
			r.nc.(*net.TCPConn).CloseWrite()
			r.readUntilClosed()
		}
	})
	t.Run("unknown-type", func(t *testing.T) {
		r := dialRaw(t, ts.addr).startup()
		r.write([]byte{'z', 0, 0, 0, 4})
		errs := r.readUntilClosed()
		if len(errs) != 1 || errs[0].Code != "08P01" {
			t.Fatalf("got %+v", errs)
		}
	})
	t.Run("bad-message-body", func(t *testing.T) {
		r := dialRaw(t, ts.addr).startup()
		// A Bind whose parameter count promises more than the body holds.
		r.write([]byte{'B', 0, 0, 0, 10, 0, 0, 0, 0, 0, 9})
		errs := r.readUntilClosed()
		if len(errs) != 1 || errs[0].Code != "08P01" {
			t.Fatalf("got %+v", errs)
		}
	})
	t.Run("random-after-startup", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			r := dialRaw(t, ts.addr).startup()
			b := make([]byte, 1+mrand.IntN(300))
			_, _ = rand.Read(b)
			r.write(b)
			r.nc.(*net.TCPConn).CloseWrite()
			r.readUntilClosed()
		}
	})
	t.Run("syntax-errors", func(t *testing.T) {
		ctx := testCtx(t)
		conn := connectPgx(t, ts.url("fuzz", ""), pgx.QueryExecModeCacheStatement)
		words := []string{"SELECT", "FROM", "(", ")", "'", "\"", "1", "$1", ";", "--", "/*", "*/", "e'\\", "$$", "COPY", "BEGIN", "x", ",", "::", "é", "\x00"}
		for i := 0; i < 10000; i++ {
			var q strings.Builder
			for j := 0; j < 1+mrand.IntN(8); j++ {
				q.WriteString(words[mrand.IntN(len(words))])
				q.WriteByte(' ')
			}
			_, _ = conn.Exec(ctx, q.String())
			if conn.IsClosed() {
				conn = connectPgx(t, ts.url("fuzz", ""), pgx.QueryExecModeCacheStatement)
			}
		}
	})
	checkServing(t, ts)
}

// TestTerminateCancels checks that Terminate during a running statement
// cancels it and closes the session at once: the reader goroutine sees it.
func TestTerminateCancels(t *testing.T) {
	be := newFakeBackend()
	ts := startServer(t, Config{Backend: be})
	r := dialRaw(t, ts.addr).startup()
	r.fe.Send(&pgproto3.Query{String: "SELECT pg_sleep(30)"})
	r.fe.Send(&pgproto3.Terminate{})
	if err := r.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.readUntilClosed()
	for be.openSessions() != 0 {
		if time.Since(start) > 5*time.Second {
			t.Fatal("session still open after Terminate")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientGoneCancels checks that a client that disconnects mid-statement
// gets its statement canceled.
func TestClientGoneCancels(t *testing.T) {
	be := newFakeBackend()
	ts := startServer(t, Config{Backend: be})
	r := dialRaw(t, ts.addr).startup()
	r.fe.Send(&pgproto3.Query{String: "SELECT pg_sleep(30)"})
	_ = r.fe.Flush()
	time.Sleep(50 * time.Millisecond)
	r.nc.Close()
	start := time.Now()
	for be.openSessions() != 0 {
		if time.Since(start) > 5*time.Second {
			t.Fatal("session still open after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdown(t *testing.T) {
	be := newFakeBackend()
	ts := startServer(t, Config{Backend: be})
	ctx := testCtx(t)
	idle := connectPgx(t, ts.url("idle", ""), pgx.QueryExecModeCacheStatement)
	busy := connectPgx(t, ts.url("busy", ""), pgx.QueryExecModeCacheStatement)
	slow := connectPgx(t, ts.url("slow", ""), pgx.QueryExecModeCacheStatement)
	var wg sync.WaitGroup
	var busyErr, slowErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, busyErr = busy.Exec(ctx, "SELECT pg_sleep(0.3)")
	}()
	go func() {
		defer wg.Done()
		_, slowErr = slow.Exec(ctx, "SELECT pg_sleep(60)")
	}()
	time.Sleep(100 * time.Millisecond)
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	err := ts.srv.Shutdown(sctx)
	if err == nil {
		t.Fatal("Shutdown should report that it had to cancel the slow statement")
	}
	if time.Since(start) > 8*time.Second {
		t.Fatal("Shutdown took too long")
	}
	wg.Wait()
	if busyErr != nil {
		t.Fatalf("the running statement should have finished: %v", busyErr)
	}
	if pgCode(slowErr) != "57P01" {
		t.Fatalf("slow statement: want 57P01, got %v", slowErr)
	}
	if err := idle.Ping(ctx); err == nil {
		t.Fatal("idle connection still open")
	}
	if n := be.openSessions(); n != 0 {
		t.Fatalf("%d sessions open", n)
	}
	if _, err := pgx.Connect(ctx, ts.url("late", "")); err == nil {
		t.Fatal("connected after Shutdown")
	}
}

// TestCancelWrongKey checks that a cancel request with a wrong key is
// ignored.
func TestCancelWrongKey(t *testing.T) {
	ts := startServer(t, Config{})
	r := dialRaw(t, ts.addr)
	r.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "raw"}})
	_ = r.fe.Flush()
	var key *pgproto3.BackendKeyData
	for _, m := range r.until("ReadyForQuery") {
		if k, ok := m.(*pgproto3.BackendKeyData); ok {
			key = &pgproto3.BackendKeyData{ProcessID: k.ProcessID, SecretKey: append([]byte(nil), k.SecretKey...)}
		}
	}
	if key == nil || len(key.SecretKey) != 4 {
		t.Fatalf("no BackendKeyData: %+v", key)
	}
	r.fe.Send(&pgproto3.Query{String: "SELECT pg_sleep(0.5)"})
	_ = r.fe.Flush()
	c2 := dialRaw(t, ts.addr)
	bad := binary.BigEndian.AppendUint32(nil, 16)
	bad = binary.BigEndian.AppendUint32(bad, 80877102)
	bad = binary.BigEndian.AppendUint32(bad, key.ProcessID)
	bad = append(bad, key.SecretKey[0]^0xff, key.SecretKey[1], key.SecretKey[2], key.SecretKey[3])
	c2.write(bad)
	c2.readUntilClosed()
	for _, m := range r.until("ReadyForQuery") {
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("canceled with a wrong key: %s", e.Message)
		}
	}
}

func TestStartupParams(t *testing.T) {
	ts := startServer(t, Config{})
	r := dialRaw(t, ts.addr)
	// An SSLRequest and a GSSEncRequest are answered 'N' first.
	r.write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	var b [1]byte
	if _, err := io.ReadFull(r.nc, b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("SSLRequest: %q %v", b, err)
	}
	r.write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30})
	if _, err := io.ReadFull(r.nc, b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("GSSEncRequest: %q %v", b, err)
	}
	r.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "u1", "database": "anything", "application_name": "app",
			"options": "-c search_path=foo --extra-float-digits=3"}})
	_ = r.fe.Flush()
	params := map[string]string{}
	for _, m := range r.until("ReadyForQuery") {
		if p, ok := m.(*pgproto3.ParameterStatus); ok {
			params[p.Name] = p.Value
		}
	}
	want := map[string]string{
		"server_version": ServerVersion, "client_encoding": "UTF8", "server_encoding": "UTF8",
		"standard_conforming_strings": "on", "DateStyle": "ISO, MDY", "integer_datetimes": "on",
		"TimeZone": "UTC", "application_name": "app", "IntervalStyle": "postgres",
		"session_authorization": "u1", "is_superuser": "on",
	}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("%s = %q, want %q", k, params[k], v)
		}
	}
	r.fe.Send(&pgproto3.Query{String: "SHOW search_path"})
	_ = r.fe.Flush()
	found := false
	for _, m := range r.until("ReadyForQuery") {
		if d, ok := m.(*pgproto3.DataRow); ok {
			found = string(d.Values[0]) == "foo"
		}
	}
	if !found {
		t.Error("options -c search_path=foo not applied")
	}
}

func TestRemoteTrust(t *testing.T) {
	// A non-loopback client without a password is refused; the test
	// fakes the remote address with a listener wrapper.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Backend: newFakeBackend(), Logf: t.Logf})
	go srv.Serve(remoteListener{ln})
	defer srv.Shutdown(context.Background())
	_, err = pgx.Connect(testCtx(t), "postgres://x@"+ln.Addr().String()+"/db?sslmode=disable")
	if pgCode(err) != "28000" {
		t.Fatalf("want 28000, got %v", err)
	}
}

type remoteListener struct{ net.Listener }

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c}, nil
}

type remoteConn struct{ net.Conn }

func (remoteConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5555} }

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	ts := startServer(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile, Password: "pw"})
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, "postgres://u:pw@"+ts.addr+"/db?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("not a TLS connection: %T", conn.PgConn().Conn())
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Bad TLS files are reported by Serve.
	srv := New(Config{Backend: newFakeBackend(), TLSCertFile: filepath.Join(dir, "none"), TLSKeyFile: keyFile})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := srv.Serve(ln); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("want a TLS error, got %v", err)
	}
}

func writeSelfSigned(t *testing.T, dir string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestPipelineBackpressure sends many queries without reading replies: the
// reader queues them within its budget and the server keeps up.
func TestPipelineBackpressure(t *testing.T) {
	ts := startServer(t, Config{MaxQueuedBytes: 4096})
	r := dialRaw(t, ts.addr).startup()
	const n = 2000
	go func() {
		var buf bytes.Buffer
		for i := 0; i < n; i++ {
			b, _ := (&pgproto3.Query{String: fmt.Sprintf("SELECT %d", i)}).Encode(nil)
			buf.Write(b)
		}
		r.nc.Write(buf.Bytes())
	}()
	for i := 0; i < n; i++ {
		r.until("ReadyForQuery")
	}
}
