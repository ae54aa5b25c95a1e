package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgcatalog"
	"github.com/weir-sql/weir/server"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./weir-data", "data directory")
	listen := fs.String("listen", server.DefaultListen, "Postgres wire protocol address")
	httpAddr := fs.String("http", "127.0.0.1:8433", "HTTP address for health, metrics and job pages (empty: off)")
	password := fs.String("password", "", "require SCRAM-SHA-256 authentication with this password (any user name)")
	usersFile := fs.String("users", "", "file of user:password lines (SCRAM-SHA-256)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file")
	tlsKey := fs.String("tls-key", "", "TLS key file")
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
	e, err := engine.Open(engine.Options{DataDir: *data, Stdout: stdout, BundleSize: envInt("WEIR_BUNDLE_SIZE"), CommitHook: commitCrashHook(), SinkHook: sinkCrashHook(), Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(stderr, "weir serve:", err)
		return 1
	}
	pgcatalog.Register(e)
	srv := server.New(server.Config{Listen: *listen, Backend: server.EngineBackend(e), Password: *password, Users: users,
		TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey, Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "weir serve:", err)
		e.Close()
		return 1
	}
	var hs *http.Server
	if *httpAddr != "" {
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintln(stderr, "weir serve:", err)
			ln.Close()
			e.Close()
			return 1
		}
		hs = &http.Server{Handler: httpHandler(e), ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(hl)
		fmt.Fprintf(stderr, "weir serve: HTTP on http://%s\n", hl.Addr())
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
	}
	if err := e.Close(); err != nil {
		fmt.Fprintln(stderr, "weir serve: closing:", err)
		status = 1
	}
	fmt.Fprintln(stderr, "weir serve: stopped")
	return status
}

// httpHandler serves /healthz, /metrics (Prometheus text) and /jobs (JSON).
func httpHandler(e *engine.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	query := func(r *http.Request, text string) (*engine.Result, error) {
		s := e.NewSession()
		defer s.Close()
		res, err := s.Exec(r.Context(), text)
		if err != nil {
			return nil, err
		}
		return res[len(res)-1], nil
	}
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		res, err := query(r, "SELECT name, job_id, state, events_in, events_out, late_dropped, bad_records FROM weir_jobs")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		for _, m := range []struct {
			name string
			col  int
		}{{"weir_job_events_in_total", 3}, {"weir_job_events_out_total", 4}, {"weir_job_late_dropped_total", 5}, {"weir_job_bad_records_total", 6}} {
			fmt.Fprintf(w, "# TYPE %s counter\n", m.name)
			for _, row := range res.Rows {
				fmt.Fprintf(w, "%s{job=%q,job_id=\"%s\",state=%q} %s\n", m.name, row[0].Str(), row[1].Format(), row[2].Str(), row[m.col].Format())
			}
		}
	})
	mux.HandleFunc("/jobs", func(w http.ResponseWriter, r *http.Request) {
		res, err := query(r, "SELECT * FROM weir_jobs ORDER BY job_id")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var out []map[string]string
		for _, row := range res.Rows {
			m := map[string]string{}
			for i, c := range res.Columns {
				if !row[i].IsNull() {
					m[c.Name] = row[i].Format()
				}
			}
			out = append(out, m)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	return mux
}
