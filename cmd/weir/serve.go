package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weir-sql/weir/console"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgcatalog"
	"github.com/weir-sql/weir/server"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./weir-data", "data directory")
	listen := fs.String("listen", server.DefaultListen, "Postgres wire protocol address")
	httpAddr := fs.String("http", "127.0.0.1:8433", "HTTP address of the console, /metrics and /healthz (empty: off)")
	password := fs.String("password", "", "require SCRAM-SHA-256 authentication with this password (any user name)")
	usersFile := fs.String("users", "", "file of user:password lines (SCRAM-SHA-256)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file")
	tlsKey := fs.String("tls-key", "", "TLS key file")
	logStatements := fs.Bool("log-statements", false, "log every statement clients send, and its error, to stderr (like PostgreSQL's log_statement = all)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weir serve [--data DIR] [--listen ADDR] [--http ADDR]\n\n"+
			"Serves the Postgres wire protocol (psql, drivers, BI tools). SIGTERM shuts down cleanly:\n"+
			"running jobs stop at their last commit and resume on restart.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if pw := os.Getenv("WEIR_PASSWORD"); *password == "" && pw != "" {
		*password = pw
	}
	var users map[string]string
	if *usersFile != "" {
		raw, err := os.ReadFile(*usersFile)
		if err != nil {
			fmt.Fprintln(stderr, "weir serve:", err)
			return 1
		}
		users = map[string]string{}
		for _, line := range strings.Split(string(raw), "\n") {
			if u, p, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && u != "" {
				users[u] = p
			}
		}
	}
	logf := func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
	e, err := engine.Open(engine.Options{DataDir: *data, Stdout: stdout, BundleSize: envInt("WEIR_BUNDLE_SIZE"), CommitHook: commitCrashHook(), SinkHook: sinkCrashHook(), Logf: logf})
	if err != nil {
		fmt.Fprintln(stderr, "weir serve:", err)
		return 1
	}
	pgcatalog.Register(e)
	cfg := server.Config{Listen: *listen, Backend: server.EngineBackend(e), Password: *password, Users: users,
		TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey, Logf: logf}
	if *logStatements {
		var mu sync.Mutex
		cfg.LogStatement = func(text string, err error) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "statement: %s\n", text)
			if err != nil {
				fmt.Fprintf(stderr, "error: %v\n", err)
			}
		}
	}
	srv := server.New(cfg)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "weir serve:", err)
		e.Close()
		return 1
	}
	var hs *http.Server
	var con *console.Console
	if *httpAddr != "" {
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintln(stderr, "weir serve:", err)
			ln.Close()
			e.Close()
			return 1
		}
		con = console.New(console.Config{Engine: e, Authorize: authorizer(*password, users), Logf: logf})
		hs = &http.Server{Handler: con.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(hl)
		fmt.Fprintf(stderr, "weir serve: console, metrics and health on http://%s\n", hl.Addr())
	}
	fmt.Fprintf(stderr, "weir serve: Postgres protocol on %s (data %s)\n", ln.Addr(), *data)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	status := 0
	select {
	case <-sigs:
	case err := <-errc:
		if err != nil {
			fmt.Fprintln(stderr, "weir serve:", err)
			status = 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if hs != nil {
		_ = hs.Shutdown(ctx)
		con.Close()
	}
	if err := e.Close(); err != nil {
		fmt.Fprintln(stderr, "weir serve: closing:", err)
		status = 1
	}
	fmt.Fprintln(stderr, "weir serve: stopped")
	return status
}

// authorizer checks the console's HTTP basic credentials against the
// passwords the Postgres protocol's SCRAM uses (--password: any user name;
// --users: that user's), in constant time; nil when none is set.
func authorizer(password string, users map[string]string) func(user, pw string) bool {
	if password == "" && len(users) == 0 {
		return nil
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	return func(user, pw string) bool {
		if want, ok := users[user]; ok && eq(pw, want) {
			return true
		}
		return password != "" && eq(pw, password)
	}
}
