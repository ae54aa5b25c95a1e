package console

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
)

// call makes an HTTP request to the console; header X-Weir-Console is set
// unless raw. It returns the status and the decoded JSON body.
func (r *rig) call(method, path string, body any, raw bool, user, pw string) (int, map[string]any, http.Header) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if !raw {
		req.Header.Set(consoleHeader, "1")
	}
	if user != "" || pw != "" {
		req.SetBasicAuth(user, pw)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := map[string]any{}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			r.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
		if err := json.Unmarshal(b, &out); err != nil {
			out["array"] = v
		}
		if false {
			r.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	} else {
		out["text"] = string(b)
	}
	return res.StatusCode, out, res.Header
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func errField(m map[string]any, f string) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e[f].(string)
	return s
}

// The graph parsed from EXPLAIN JOB holds exactly the operators
// weir_operators lists for the running job, stage by stage, and every
// keyed stage has the shuffle that feeds it; a join job has two.
func TestGraphMatchesOperators(t *testing.T) {
	r := newRig(t, Config{})
	r.exec(setupSQL + `
CREATE TABLE ref (device VARCHAR PRIMARY KEY, site VARCHAR);
CREATE SOURCE other (device VARCHAR NOT NULL, v BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE TABLE joined (device VARCHAR, v BIGINT, temp DOUBLE);
CREATE JOB join_job AS INSERT INTO joined
  SELECT o.device, o.v, r.temp FROM other o JOIN readings r ON o.device = r.device
  AND r.ts BETWEEN o.ts - INTERVAL '1' MINUTE AND o.ts;`)
	for _, job := range []string{"per_minute_job", "join_job"} {
		p, err := r.c.jobPage(context.Background(), job, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		inputs := map[string]int{}
		for _, e := range p.Graph.Edges {
			inputs[e.To]++
		}
		for _, st := range p.Graph.Stages {
			for _, op := range st.Ops {
				got = append(got, st.Name+" "+op.Name+" "+datum.NewBool(op.Stateful).Format())
			}
			if !strings.HasPrefix(st.Detail, "source ") && inputs[st.Name] == 0 {
				t.Errorf("%s: keyed stage %s has no incoming shuffle: %+v", job, st.Name, p.Graph.Edges)
			}
		}
		sort.Strings(got)
		want := r.rows("SELECT stage, operator, stateful FROM weir_operators WHERE job = '" + job + "'")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: graph operators\n%s\nweir_operators\n%s", job, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if job == "join_job" && len(p.Graph.Edges) != 2 {
			t.Errorf("join_job: edges %+v, want two shuffles into the join", p.Graph.Edges)
		}
	}
}

// The sampler keeps 15 minutes of samples per job, and each sample's rate
// is the rows inserted since the previous one over the sampling period
// (a random number of rows per period).
func TestSamplerWindowAndRates(t *testing.T) {
	seed := testSeed(t)
	g := &readings{rng: newRand(seed)}
	clock := connector.NewManualClock(time.Unix(1800000000, 0))
	// A sampling period the test never lets elapse by itself: it calls
	// Sample directly after advancing the clock.
	r := newRig(t, Config{Clock: clock, SampleEvery: 2 * time.Second, Window: time.Minute})
	r.exec(setupSQL)
	var want []float64
	last := int64(0)
	for i := 0; i < 40; i++ {
		n := g.rng.Intn(20)
		if n > 0 {
			r.exec(insertSQL(g.next(n)))
			r.waitEventsIn(len(g.all))
		}
		last = r.tick(clock, 2*time.Second, last)
		want = append(want, float64(n)/2)
	}
	s := r.c.series("per_minute_job", 0)
	if len(s) != 31 { // a minute of 2 s samples, both ends included
		t.Fatalf("%d samples kept, want 31", len(s))
	}
	for i, smp := range s {
		if w := want[len(want)-len(s)+i]; smp.InRate != w {
			t.Errorf("sample %d: in_rate %g, want %g", i, smp.InRate, w)
		}
		if i > 0 && smp.T-s[i-1].T != 2e6 {
			t.Errorf("sample %d: %d µs after the previous", i, smp.T-s[i-1].T)
		}
	}
	if got := r.c.series("per_minute_job", s[len(s)-3].T); len(got) != 2 {
		t.Errorf("since: %d samples, want 2", len(got))
	}
}

// tick advances the clock by d once the sampler waits on it, and waits for
// the sample taken after last (micros); it returns the new sample's time.
func (r *rig) tick(clock *connector.ManualClock, d time.Duration, last int64) int64 {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for clock.Waiters() == 0 {
		if time.Now().After(deadline) {
			r.t.Fatal("the sampler does not wait on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	clock.Advance(d)
	for {
		if s := r.c.series("per_minute_job", last); len(s) > 0 {
			return s[len(s)-1].T
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the sampler did not sample after its period elapsed on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitEventsIn waits until the job has read n events.
func (r *rig) waitEventsIn(n int) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if got := r.one("SELECT events_in FROM weir_jobs WHERE name = 'per_minute_job' ORDER BY job_id DESC LIMIT 1"); got == strconv.Itoa(n) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the job did not read %d events", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Unknown jobs, actions on a finished job, malformed bodies, statements
// smuggled into the update form and cross-site posts get clear errors with
// a SQLSTATE; nothing changes.
func TestBadInput(t *testing.T) {
	r := newRig(t, Config{})
	r.exec(setupSQL)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/jobs/nope"}, {"POST", "/api/jobs/nope/drain"}, {"POST", "/api/jobs/nope/cancel"},
		{"POST", "/api/jobs/nope/snapshot"}, {"POST", "/api/jobs/nope/check-update"}, {"POST", "/api/jobs/nope/update"},
	} {
		body := any(nil)
		if c.method == "POST" {
			body = map[string]any{"sql": jobQuery}
		}
		st, m, _ := r.call(c.method, c.path, body, false, "", "")
		if st != http.StatusNotFound || errCode(m) != "42704" || !strings.Contains(errField(m, "message"), `"nope"`) {
			t.Errorf("%s %s: %d %v, want 404 42704 naming the job", c.method, c.path, st, m)
		}
	}
	// A syntax error in the update form points into the form's text.
	st, m, _ := r.call("POST", "/api/jobs/per_minute_job/check-update", map[string]any{"sql": "INSERT INTO per_minute\nSELECT FROM FROM"}, false, "", "")
	if st != http.StatusBadRequest || errCode(m) != "42601" || m["error"].(map[string]any)["line"] != float64(2) {
		t.Errorf("syntax error: %d %v, want 400 42601 on line 2", st, m)
	}
	// A second statement is refused, not run.
	st, m, _ = r.call("POST", "/api/jobs/per_minute_job/update", map[string]any{"sql": jobQuery + "; DROP TABLE per_minute"}, false, "", "")
	if st != http.StatusBadRequest || errCode(m) != "42601" {
		t.Errorf("two statements: %d %v, want 400 42601", st, m)
	}
	r.one("SELECT count(*) FROM weir_jobs WHERE name = 'per_minute_job' AND state = 'RUNNING'")
	if got := r.rows("SELECT count(*) FROM per_minute"); len(got) != 1 {
		t.Errorf("per_minute after the refused update: %q", got)
	}
	st, m, _ = r.call("POST", "/api/jobs/per_minute_job/snapshot", "not an object", false, "", "")
	if st != http.StatusBadRequest || errCode(m) != "22023" {
		t.Errorf("malformed body: %d %v, want 400 22023", st, m)
	}
	// Cross-site: no console header, or a foreign Origin.
	st, m, _ = r.call("POST", "/api/jobs/per_minute_job/cancel", nil, true, "", "")
	if st != http.StatusForbidden || errCode(m) != "42501" {
		t.Errorf("post without the console header: %d %v, want 403", st, m)
	}
	req, _ := http.NewRequest("POST", r.srv.URL+"/api/jobs/per_minute_job/cancel", nil)
	req.Header.Set(consoleHeader, "1")
	req.Header.Set("Origin", "http://evil.example")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("post from a foreign origin: %v %v, want 403", res.StatusCode, err)
	}
	if got := r.one("SELECT state FROM weir_jobs WHERE name = 'per_minute_job'"); got != "RUNNING" {
		t.Fatalf("after refused requests the job is %s", got)
	}
	// Drain, then drain, cancel and snapshot the drained job.
	st, m, _ = r.call("POST", "/api/jobs/per_minute_job/drain", nil, false, "", "")
	if st != http.StatusOK || m["job"].(map[string]any)["state"] != "DRAINED" {
		t.Fatalf("drain: %d %v", st, m)
	}
	for _, a := range []string{"drain", "cancel", "snapshot", "check-update", "update"} {
		st, m, _ = r.call("POST", "/api/jobs/per_minute_job/"+a, map[string]any{"sql": jobQuery}, false, "", "")
		if st != http.StatusConflict || errCode(m) != "55000" || !strings.Contains(errField(m, "message"), "not running") {
			t.Errorf("%s of a drained job: %d %v, want 409 55000 not running", a, st, m)
		}
		if a != "check-update" && !strings.Contains(errField(m, "detail"), "is DRAINED") {
			t.Errorf("%s of a drained job: detail %q, want the state weir_jobs shows", a, errField(m, "detail"))
		}
	}
	if got := r.one("SELECT state FROM weir_jobs WHERE name = 'per_minute_job'"); got != "DRAINED" {
		t.Fatalf("weir_jobs: %s, want DRAINED", got)
	}
	_, m, _ = r.call("GET", "/api/jobs/per_minute_job", nil, false, "", "")
	if m["job"].(map[string]any)["state"] != "DRAINED" {
		t.Errorf("job page state %v, want DRAINED", m["job"])
	}
}

// Concurrent presses of Drain, Cancel and Create snapshot while rows flow:
// every answer is a success or a clear lifecycle error, the job ends in
// one state that the page and weir_jobs agree on, and weir_snapshots holds
// exactly the snapshots reported created.
func TestConcurrentPresses(t *testing.T) {
	seed := testSeed(t)
	g := &readings{rng: newRand(seed)}
	r := newRig(t, Config{})
	r.exec(setupSQL)
	r.exec(insertSQL(g.next(200)))
	var wg sync.WaitGroup
	type answer struct {
		action string
		status int
		body   map[string]any
	}
	answers := make(chan answer, 64)
	actions := []string{"snapshot", "snapshot", "drain", "snapshot", "cancel", "drain", "snapshot", "snapshot"}
	g.rng.Shuffle(len(actions), func(i, j int) { actions[i], actions[j] = actions[j], actions[i] })
	for i, a := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"name": fmt.Sprintf("snap_%d", i), "with_source": i%2 == 0}
			st, m, _ := r.call("POST", "/api/jobs/per_minute_job/"+a, body, false, "", "")
			answers <- answer{a, st, m}
		}()
	}
	wg.Add(1)
	go func() { // rows keep arriving; inserts into the source never fail
		defer wg.Done()
		for i := 0; i < 5; i++ {
			r.exec(insertSQL(g.next(20)))
		}
	}()
	wg.Wait()
	close(answers)
	var created []string
	for a := range answers {
		switch {
		case a.status == http.StatusOK:
			if a.action == "snapshot" {
				created = append(created, a.body["snapshot"].(string))
			}
		case a.status == http.StatusConflict && errCode(a.body) == "55000":
		default:
			t.Errorf("%s: %d %v: want success or 409 55000", a.action, a.status, a.body)
		}
	}
	sort.Strings(created)
	got := r.rows("SELECT name FROM weir_snapshots")
	if strings.Join(got, ",") != strings.Join(created, ",") {
		t.Errorf("weir_snapshots %q, reported created %q", got, created)
	}
	state := r.one("SELECT state FROM weir_jobs WHERE name = 'per_minute_job'")
	if state != "DRAINED" && state != "CANCELLED" {
		t.Fatalf("weir_jobs: %s, want DRAINED or CANCELLED", state)
	}
	_, m, _ := r.call("GET", "/api/jobs/per_minute_job", nil, false, "", "")
	if m["job"].(map[string]any)["state"] != state {
		t.Errorf("job page state %v, weir_jobs %s", m["job"].(map[string]any)["state"], state)
	}
	_, m, _ = r.call("GET", "/api/jobs", nil, false, "", "")
	if jobs := m["jobs"].([]any); len(jobs) != 1 || jobs[0].(map[string]any)["state"] != state {
		t.Errorf("job list %v, weir_jobs %s", m["jobs"], state)
	}
}

// With a password every request but the page and /healthz needs it:
// curl and Prometheus get a Basic challenge, the page's own requests a
// bare 401 (its login form asks), and the right password gets in.
func TestAuth(t *testing.T) {
	r := newRig(t, Config{Authorize: func(u, p string) bool { return p == "s3cret" }})
	r.exec(setupSQL)
	for _, path := range []string{"/metrics", "/jobs", "/api/jobs", "/api/jobs/per_minute_job"} {
		st, _, h := r.call("GET", path, nil, true, "", "")
		if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s without credentials: %d %q, want 401 with a Basic challenge", path, st, h.Get("WWW-Authenticate"))
		}
		st, m, h := r.call("GET", path, nil, false, "weir", "wrong")
		if st != http.StatusUnauthorized || h.Get("WWW-Authenticate") != "" || errCode(m) != "28P01" {
			t.Errorf("%s from the page, wrong password: %d %q %v, want a bare 401 28P01", path, st, h.Get("WWW-Authenticate"), m)
		}
		if st, _, _ := r.call("GET", path, nil, false, "anyone", "s3cret"); st != http.StatusOK {
			t.Errorf("%s with the password: %d", path, st)
		}
	}
	if st, _, _ := r.call("POST", "/api/jobs/per_minute_job/cancel", nil, false, "", ""); st != http.StatusUnauthorized {
		t.Errorf("cancel without credentials: %d", st)
	}
	if got := r.one("SELECT state FROM weir_jobs"); got != "RUNNING" {
		t.Errorf("after an unauthorized cancel the job is %s", got)
	}
	for _, path := range []string{"/", "/job/per_minute_job", "/static/app.js", "/healthz"} {
		if st, _, _ := r.call("GET", path, nil, true, "", ""); st != http.StatusOK {
			t.Errorf("%s: %d, want 200 without credentials", path, st)
		}
	}
}

// /metrics parses as the Prometheus text format (the Prometheus project's
// own parser) and its per-job, per-stage and per-operator figures equal
// the system tables' once the job is idle.
func TestMetrics(t *testing.T) {
	seed := testSeed(t)
	g := &readings{rng: newRand(seed)}
	r := newRig(t, Config{})
	r.exec(setupSQL)
	r.exec(`CREATE JOB "odd ""name""\n" AS INSERT INTO per_minute SELECT window_start, device, count(*), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, device`)
	r.exec(insertSQL(g.next(50 + g.rng.Intn(100))))
	r.waitWatermark(g.watermark())
	_, m, _ := r.call("GET", "/metrics", nil, true, "", "")
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(m["text"].(string)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, m["text"])
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, mt := range f.Metric {
			got := map[string]string{}
			for _, l := range mt.Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			if mt.Counter != nil {
				return mt.Counter.GetValue(), true
			}
			return mt.Gauge.GetValue(), true
		}
		return 0, false
	}
	res := r.exec("SELECT name, job_id, events_in FROM weir_jobs")[0]
	for _, row := range res.Rows {
		l := map[string]string{"job": row[0].Str(), "job_id": row[1].Format()}
		if v, ok := value("weir_job_events_in_total", l); !ok || v != float64(row[2].Int()) {
			t.Errorf("weir_job_events_in_total%v = %v (%v), want %d", l, v, ok, row[2].Int())
		}
	}
	ops := r.exec("SELECT job, job_id, stage, operator, watermark, state_bytes FROM weir_operators")[0]
	for _, row := range ops.Rows {
		l := map[string]string{"job": row[0].Str(), "job_id": row[1].Format(), "stage": row[2].Str(), "operator": row[3].Str()}
		if v, ok := value("weir_operator_state_bytes", l); !ok || v != float64(row[5].Int()) {
			t.Errorf("weir_operator_state_bytes%v = %v (%v), want %d", l, v, ok, row[5].Int())
		}
		wm, err := datum.ParseTimestamp(row[4].Str())
		if err != nil {
			t.Fatal(err)
		}
		delete(l, "operator")
		if v, ok := value("weir_stage_watermark_seconds", l); !ok || math.Abs(v-float64(wm)/1e6) > 1e-6 {
			t.Errorf("weir_stage_watermark_seconds%v = %v (%v), want %v", l, v, ok, float64(wm)/1e6)
		}
		if wm != g.watermark() {
			t.Errorf("stage %v watermark %s, want %s", l, row[4].Str(), datum.FormatTimestamp(g.watermark()))
		}
	}
	rng := r.exec("SELECT job, job_id, stage, sum(events) AS e, sum(backlog) AS b, count(*) AS n FROM weir_key_ranges GROUP BY job, job_id, stage")[0]
	for _, row := range rng.Rows {
		l := map[string]string{"job": row[0].Str(), "job_id": row[1].Format(), "stage": row[2].Str()}
		for name, want := range map[string]int64{"weir_stage_events_total": row[3].Int(), "weir_stage_backlog_rows": row[4].Int(), "weir_stage_ranges": row[5].Int()} {
			if v, ok := value(name, l); !ok || v != float64(want) {
				t.Errorf("%s%v = %v (%v), want %d", name, l, v, ok, want)
			}
		}
	}
	if _, ok := value("weir_job_events_in_total", map[string]string{"job": "odd \"name\"\\n"}); !ok {
		t.Errorf("a job name with quotes and a backslash is not a label value as given: %v", fams["weir_job_events_in_total"])
	}
}

// The job page lists a file job's malformed lines as dead letters with
// their raw bytes (exactly the lines written) and an error each, and the
// job list counts them.
func TestDeadLetters(t *testing.T) {
	seed := testSeed(t)
	rng := newRand(seed)
	r := newRig(t, Config{})
	path := filepath.Join(t.TempDir(), "r.csv")
	bad := writeBadCSV(t, rng, path)
	r.exec(fileJobSQL(path))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.e.WaitJob(ctx, "file_job"); err != nil {
		t.Fatal(err)
	}
	p, err := r.c.jobPage(ctx, "file_job", true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range p.DeadLetters {
		raw, err := hex.DecodeString(d.RawHex)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimRight(string(raw), "\r\n"))
		if d.Error == "" || d.Source != "file_readings" {
			t.Errorf("dead letter %+v: want its error and source", d)
		}
		if want := printable(raw); d.RawText != want {
			t.Errorf("raw_text %q, want %q", d.RawText, want)
		}
	}
	sort.Strings(got)
	want := sorted(bad)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dead letters on the page:\n%q\nmalformed lines written:\n%q", got, want)
	}
	if p.Job.State != "DONE" || p.Job.DeadLetters != int64(len(bad)) || p.Job.BadRecords != int64(len(bad)) {
		t.Errorf("job %+v: want DONE with %d dead letters and bad records", p.Job, len(bad))
	}
	if s := printable([]byte("d\xff4,x\x01y\\")); s != `d\xff4,x\x01y\\` {
		t.Errorf("printable: %q", s)
	}
}
