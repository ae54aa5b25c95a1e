// Package natstest starts throwaway NATS servers with JetStream for tests:
// the real nats-server (Debian's nats-server package), run as its own
// process with -js on a free loopback port and its store in a temporary
// directory. Nothing is mocked; a machine without nats-server skips the
// test with a message saying why.
//
// Each Start makes its own server, killed in the test's cleanup. Stop and
// Restart (same port, same store) simulate a server that goes away and
// comes back; JetStream keeps what it stored. A Server is not safe for
// concurrent Stop/Restart calls.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running nats-server.
type Server struct {
	URL  string // nats://127.0.0.1:PORT
	Port int
	Dir  string // the JetStream store directory
	bin  string
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	js   jetstream.JetStream // the helpers' connection
}

// FindBin returns the path of nats-server (on PATH or /usr/sbin, /usr/bin).
func FindBin() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("nats-server not found (install Debian's nats-server package)")
}

// Start starts a JetStream server for t, or skips t when nats-server is not
// installed. It is killed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := FindBin()
	if err != nil {
		t.Skip("NATS is not installed: ", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Port: port, Dir: t.TempDir(), bin: bin, t: t}
	if err := s.start(); err != nil {
		t.Fatal("natstest: ", err)
	}
	t.Cleanup(s.kill)
	return s
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-sd", s.Dir)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	// Ready once a client connects and JetStream answers.
	deadline := time.After(20 * time.Second)
	for {
		nc, err := nats.Connect(s.URL, nats.Timeout(time.Second))
		if err == nil {
			js, jerr := jetstream.New(nc)
			if jerr == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, jerr = js.AccountInfo(ctx)
				cancel()
			}
			nc.Close()
			if jerr == nil {
				return nil
			}
			err = jerr
		}
		select {
		case <-done:
			return fmt.Errorf("nats-server exited: %v", cmd.ProcessState)
		case <-deadline:
			s.kill()
			return fmt.Errorf("nats-server did not become ready: %v", err)
		case <-time.After(20 * time.Millisecond): // polling a starting server: no event to wait on
		}
	}
}

func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Stop ends the server (SIGTERM; JetStream flushes its store) and waits.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	s.cmd = nil
}

// Restart starts a stopped server again on the same port and store.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal("natstest: restart: ", err)
	}
}

// JetStream returns a JetStream context on a new connection, closed when
// the test ends.
func (s *Server) JetStream() jetstream.JetStream {
	s.t.Helper()
	nc, err := nats.Connect(s.URL, nats.MaxReconnects(-1))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return js
}

func (s *Server) helperJS() jetstream.JetStream {
	if s.js == nil {
		s.js = s.JetStream()
	}
	return s.js
}

// CreateStream creates a file-backed stream over subjects.
func (s *Server) CreateStream(name string, subjects ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.helperJS().CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.FileStorage}); err != nil {
		s.t.Fatal("natstest: create stream: ", err)
	}
}

// Publish publishes data on subject and waits for JetStream's ack;
// it returns the stream sequence number.
func (s *Server) Publish(subject string, data []byte) uint64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := s.helperJS().Publish(ctx, subject, data)
	if err != nil {
		s.t.Fatal("natstest: publish: ", err)
	}
	return ack.Sequence
}
