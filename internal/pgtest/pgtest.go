// Package pgtest starts throwaway PostgreSQL servers for tests: a real
// server (Debian's postgresql package, found on PATH or under
// /usr/lib/postgresql/*/bin) made with initdb in a temporary directory and
// started with pg_ctl on a free loopback port. PostgreSQL refuses to run as
// root, so when the test runs as root the server runs as the postgres user
// (runuser). Nothing here is mocked; a machine without PostgreSQL skips the
// test with a message saying why.
//
// Each Start makes its own cluster and stops it (immediate mode) in the
// test's cleanup, so tests never share state. A cluster costs about a
// second to make; a package that needs many databases should Start once
// and create databases or schemas in it.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Server is a running throwaway PostgreSQL.
type Server struct {
	URL  string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	Port int
	Dir  string // cluster directory (holds data/, the socket and log)
	Bin  string // directory of postgres, initdb, pg_ctl
}

// FindBin returns the path of a PostgreSQL server program (initdb, pg_ctl,
// postgres): on PATH, else the newest /usr/lib/postgresql/*/bin.
func FindBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found (install Debian's postgresql package)", name)
}

// Start starts a server for t, or skips t when PostgreSQL is not installed
// or cannot start here. The server stops when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	initdb, err := FindBin("initdb")
	if err != nil {
		t.Skip("PostgreSQL is not installed: ", err)
	}
	pgctl, err := FindBin("pg_ctl")
	if err != nil {
		t.Skip("PostgreSQL is not installed: ", err)
	}
	dir, err := os.MkdirTemp("", "weir-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(name string, args ...string) error {
		var cmd *exec.Cmd
		if os.Geteuid() == 0 {
			pgUser, err := user.Lookup("postgres")
			if err != nil {
				return fmt.Errorf("running as root and there is no postgres user: %v", err)
			}
			uid, _ := strconv.Atoi(pgUser.Uid)
			gid, _ := strconv.Atoi(pgUser.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				return err
			}
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		} else {
			cmd = exec.Command(name, args...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", filepath.Base(name), err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"); err != nil {
		t.Skip("initdb failed: ", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", port, dir)
	if err := run(pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		t.Skip("pg_ctl start failed: ", err)
	}
	t.Cleanup(func() { _ = run(pgctl, "-D", data, "-m", "immediate", "stop") })
	return &Server{
		URL:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		Port: port,
		Dir:  dir,
		Bin:  filepath.Dir(initdb),
	}
}
