package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

//go:embed static
var staticFiles embed.FS

// Config configures a Console.
type Config struct {
	// Engine is the engine the console shows and controls. Required.
	Engine *engine.Engine
	// Clock is processing time: the sampler's ticks, sample times and
	// watermark lag (default: the system clock; pass the engine's).
	Clock connector.Clock
	// SampleEvery is the sampler's period (default 2s); Window the span of
	// samples kept per job (default 15 minutes).
	SampleEvery, Window time.Duration
	// Authorize checks HTTP basic credentials; nil lets every request in
	// (weir serve without --password, on loopback).
	Authorize func(user, password string) bool
	// Logf receives background messages (nil: discarded).
	Logf func(format string, args ...any)
}

// Console serves the monitoring console. Create it with New, serve
// Handler, and Close it when the HTTP server has shut down.
type Console struct {
	cfg  Config
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu struct {
		sync.Mutex
		rings map[string]*ring // by job name
		// dead caches the dead letters per job name, read at deadAt
		// (data.go: deadLetterCounts).
		dead   map[string]int64
		deadAt int64
	} // guarded by mu; no I/O under it
}

// New returns a console and starts its sampler.
func New(cfg Config) *Console {
	if cfg.Clock == nil {
		cfg.Clock = connector.SystemClock()
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 2 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	c := &Console{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	c.mu.rings = map[string]*ring{}
	go c.sampleLoop()
	return c
}

// Close stops the sampler and waits for it.
func (c *Console) Close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

func (c *Console) now() int64 { return c.cfg.Clock.Now().UnixMicro() }

// Handler returns the console's routes:
//
//	GET  /, /job/{name}               the page (static, embedded)
//	GET  /static/...                  its script and style sheet
//	GET  /healthz                     "ok" (no authentication)
//	GET  /metrics                     Prometheus text (metrics.go)
//	GET  /jobs                        weir_jobs as JSON (every launch)
//	GET  /api/jobs                    the job list (newest launch per name)
//	GET  /api/jobs/{name}[?since=us][&tables=1]  the job page's data
//	POST /api/jobs/{name}/drain       DRAIN JOB
//	POST /api/jobs/{name}/cancel      CANCEL JOB
//	POST /api/jobs/{name}/snapshot    CREATE SNAPSHOT {"name", "with_source"}
//	POST /api/jobs/{name}/check-update  EXPLAIN JOB name UPDATE AS {"sql"}
//	POST /api/jobs/{name}/update      ALTER JOB name UPDATE AS {"sql"}
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(staticFiles, "static")
	index := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		b, _ := fs.ReadFile(sub, "index.html")
		w.Write(b)
	}
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /job/{name}", index)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", c.auth(http.HandlerFunc(c.serveMetrics)))
	mux.Handle("GET /jobs", c.auth(http.HandlerFunc(c.serveJobsJSON)))
	mux.Handle("GET /api/jobs", c.auth(c.api(func(r *http.Request) (any, error) {
		all, err := c.jobs(r.Context())
		if err != nil {
			return nil, err
		}
		list := latest(all)
		for _, j := range list {
			j.SQL = ""
		}
		return map[string]any{"jobs": list, "now": c.now()}, nil
	})))
	mux.Handle("GET /api/jobs/{name}", c.auth(c.api(func(r *http.Request) (any, error) {
		p, err := c.jobPage(r.Context(), r.PathValue("name"), r.URL.Query().Get("tables") != "")
		if err != nil {
			return nil, err
		}
		if s := r.URL.Query().Get("since"); s != "" {
			since, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, pgerr.New(pgerr.InvalidParameterValue, "since: not a number of microseconds: %q", s)
			}
			p.Series = c.series(p.Job.Name, since)
		}
		return p, nil
	})))
	post := func(action string, h func(r *http.Request, name string, body *actionBody) (any, error)) {
		mux.Handle("POST /api/jobs/{name}/"+action, c.auth(c.csrf(c.api(func(r *http.Request) (any, error) {
			var body actionBody
			if r.ContentLength != 0 {
				if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
					return nil, pgerr.New(pgerr.InvalidParameterValue, "request body: %v", err)
				}
			}
			return h(r, r.PathValue("name"), &body)
		}))))
	}
	post("drain", func(r *http.Request, name string, _ *actionBody) (any, error) {
		return c.control(r.Context(), "DRAIN", name)
	})
	post("cancel", func(r *http.Request, name string, _ *actionBody) (any, error) {
		return c.control(r.Context(), "CANCEL", name)
	})
	post("snapshot", func(r *http.Request, name string, b *actionBody) (any, error) {
		return c.snapshot(r.Context(), name, b.Name, b.WithSource)
	})
	post("check-update", func(r *http.Request, name string, b *actionBody) (any, error) {
		return c.checkUpdate(r.Context(), name, b.SQL)
	})
	post("update", func(r *http.Request, name string, b *actionBody) (any, error) {
		return c.update(r.Context(), name, b.SQL)
	})
	return mux
}

// actionBody is the JSON body of a POST.
type actionBody struct {
	Name       string `json:"name"`
	WithSource bool   `json:"with_source"`
	SQL        string `json:"sql"`
}

// apiError is an error as the API returns it: the engine's SQLSTATE,
// message, detail, hint and position.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
}

// posError lets an action shift an error's position into the text the
// user typed.
type posError struct {
	err       error
	line, col int
}

func (e *posError) Error() string { return e.err.Error() }

// httpStatus maps a SQLSTATE to an HTTP status.
func httpStatus(code string) int {
	switch {
	case code == pgerr.UndefinedObject || code == pgerr.UndefinedTable:
		return http.StatusNotFound
	case code == pgerr.ObjectNotInPrerequisiteState || code == pgerr.DuplicateObject:
		return http.StatusConflict
	case code == pgerr.QueryCanceled:
		return http.StatusServiceUnavailable
	case strings.HasPrefix(code, "42"), strings.HasPrefix(code, "22"), code == pgerr.InvalidParameterValue, code == pgerr.FeatureNotSupported:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// api adapts a handler returning a value or an error to JSON.
func (c *Console) api(h func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			var pos *posError
			line, col := 0, 0
			if errors.As(err, &pos) {
				err, line, col = pos.err, pos.line, pos.col
			}
			pe := pgerr.Wrap(err)
			if line == 0 {
				line, col = pe.Line, pe.Col
			}
			w.WriteHeader(httpStatus(pe.Code))
			json.NewEncoder(w).Encode(map[string]any{"error": apiError{Code: pe.Code, Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint, Line: line, Col: col}})
			return
		}
		json.NewEncoder(w).Encode(v)
	})
}

// consoleHeader marks requests made by the console's own page.
const consoleHeader = "X-Weir-Console"

// auth requires HTTP basic credentials when the console has Authorize.
func (c *Console) auth(h http.Handler) http.Handler {
	if c.cfg.Authorize == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pw, ok := r.BasicAuth()
		if ok && c.cfg.Authorize(user, pw) {
			h.ServeHTTP(w, r)
			return
		}
		if r.Header.Get(consoleHeader) == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="weir", charset="UTF-8"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		msg := "password authentication failed"
		if !ok {
			msg = "authentication required: weir serve runs with --password"
		}
		json.NewEncoder(w).Encode(map[string]any{"error": apiError{Code: pgerr.InvalidPassword, Message: msg}})
	})
}

// csrf refuses a POST that a cross-site page could have sent: it must
// carry X-Weir-Console and, if it has an Origin, the console's own.
func (c *Console) csrf(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := r.Header.Get(consoleHeader) == ""
		if o := r.Header.Get("Origin"); o != "" {
			if u, err := url.Parse(o); err != nil || u.Host != r.Host {
				bad = true
			}
		}
		if bad {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]any{"error": apiError{Code: pgerr.InsufficientPrivilege,
				Message: "cross-site request refused: console actions need the X-Weir-Console header and the console's own Origin"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveJobsJSON serves weir_jobs as a JSON array of objects (every launch,
// every column as text), as weir serve always has at /jobs.
func (c *Console) serveJobsJSON(w http.ResponseWriter, r *http.Request) {
	res, err := c.exec(r.Context(), "SELECT * FROM weir_jobs ORDER BY job_id")
	if err != nil {
		http.Error(w, errorText(err), http.StatusInternalServerError)
		return
	}
	out := []map[string]string{}
	for _, row := range res.Rows {
		m := map[string]string{}
		for i, col := range res.Columns {
			if !row[i].IsNull() {
				m[col.Name] = row[i].Format()
			}
		}
		out = append(out, m)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// requestTimeout bounds an action that waits (a drain waits for the job to
// end): the engine goes on after it; the page then shows the state.
const requestTimeout = 5 * time.Minute

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, requestTimeout)
}
