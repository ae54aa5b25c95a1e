package server

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// testServer is a server on 127.0.0.1:0 for one test.
type testServer struct {
	srv  *Server
	addr string
	be   Backend
	done chan error
}

// startServer starts a server with cfg (Backend defaults to a fresh fake)
// and stops it when the test ends.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Backend == nil {
		cfg.Backend = newTestBackend(t)
	}
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: New(cfg), addr: ln.Addr().String(), be: cfg.Backend, done: make(chan error, 1)}
	go func() { ts.done <- ts.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ts
}

// url returns a connection URL for user (password may be empty).
func (ts *testServer) url(user, password string) string {
	u := "postgres://" + user
	if password != "" {
		u += ":" + password
	}
	return u + "@" + ts.addr + "/weir?sslmode=disable"
}
