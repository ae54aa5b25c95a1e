package console

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/weir-sql/weir/datum"
)

// chromiumPath finds a Chromium (WEIR_CHROMIUM, or Debian's chromium).
func chromiumPath() string {
	if p := os.Getenv("WEIR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium driven over the DevTools protocol.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	exe := chromiumPath()
	if exe == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it): skipping the console's browser test")
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-default-apps", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	return &browser{t: t, ctx: ctx}
}

// do runs steps with a deadline.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// wait waits until the JavaScript expression is true in the page.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v\npage: %s", what, expr, err, b.eval("document.body.innerText.slice(0, 3000)"))
	}
}

// eval returns a JavaScript expression's value as text.
func (b *browser) eval(expr string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("String("+expr+")"))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return strconv.Quote(s) }

// The console in a real headless Chromium: sign in, the job list, the job
// page's operators and a watermark that advances as rows are inserted, a
// snapshot from the button (in weir_snapshots), an incompatible update
// refused by the check naming the operator, a compatible one confirmed,
// Drain (DRAINED, and the DRAINED panes in the output table equal to a
// brute-force oracle), Cancel with its confirmation, a file job's
// malformed lines as dead letters, and an unknown job name. One browser for all steps.
func TestBrowserConsole(t *testing.T) {
	b := newBrowser(t)
	seed := testSeed(t)
	g := &readings{rng: newRand(seed)}
	r := newRig(t, Config{Authorize: func(u, p string) bool { return p == "pw" }, SampleEvery: 100 * time.Millisecond})
	r.exec(setupSQL)
	csv := filepath.Join(t.TempDir(), "r.csv")
	bad := writeBadCSV(t, g.rng, csv)
	r.exec(fileJobSQL(csv))
	r.exec(insertSQL(g.next(20 + g.rng.Intn(40))))
	r.waitWatermark(g.watermark())

	// Sign in (a wrong password first), then the job list.
	b.do("open the console", chromedp.Navigate(r.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.do("wrong password", chromedp.SetValue(chromedp.CSS("#login-password"), "nope"), chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait("the login form to say the password is wrong", `document.querySelector("#login-error").textContent.includes("password authentication failed")`)
	b.do("sign in", chromedp.SetValue(chromedp.CSS("#login-password"), "pw"), chromedp.Click(chromedp.CSS("#login-submit")))
	row := `document.querySelector('#joblist tr[data-job="per_minute_job"]')`
	b.wait("the job in the list", row+` && `+row+`.innerText.includes("RUNNING") && `+row+`.innerText.includes(`+js(strconv.Itoa(len(g.all)))+`)`)

	// The job page: every operator of weir_operators in the graph.
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`#joblist a[href="/job/per_minute_job"]`))))
	cancel()
	if err != nil {
		t.Fatalf("opening the job from the list: %v", err)
	}
	ops := r.rows("SELECT operator FROM weir_operators WHERE job = 'per_minute_job'")
	if len(ops) < 3 {
		t.Fatalf("weir_operators: %q", ops)
	}
	var conds []string
	for _, op := range ops {
		conds = append(conds, `g.textContent.includes(`+js(op)+`)`)
	}
	b.wait("the operators in the graph", `(g => g && `+strings.Join(conds, " && ")+`)(document.querySelector("#graph-svg"))`)

	// The watermark advances on the page as rows are inserted.
	stageWM := func(stage string) string {
		return `(document.querySelector('#stages tr[data-stage="` + stage + `"] td.wm') || {}).textContent`
	}
	for i := 0; i < 2; i++ {
		prev := g.watermark()
		r.exec(insertSQL(g.next(30 + g.rng.Intn(60))))
		if g.watermark() <= prev {
			t.Fatalf("seed %d: %d rows did not move the generator's watermark", seed, len(g.all))
		}
		want := datum.FormatTimestamp(g.watermark())
		b.wait("the source stage's watermark "+want, stageWM("s0")+` === `+js(want))
	}
	r.waitWatermark(g.watermark())
	b.wait("the keyed stage's watermark", stageWM("s1")+` === `+js(datum.FormatTimestamp(g.watermark())))
	b.wait("samples in the throughput and worker charts", `["#chart-rate path.series-in", "#chart-workers path.series-workers"].every(s => (p => p && p.getAttribute("d").length > 20)(document.querySelector(s)))`)

	// Create snapshot (with source): the page lists it, and so does
	// weir_snapshots.
	b.do("snapshot", chromedp.Click(chromedp.CSS("#snap-source")), chromedp.Click(chromedp.CSS("#btn-snapshot")))
	b.wait("the snapshot's result", `document.querySelector("#result-ok") && document.querySelector("#result-ok").innerText.includes("CREATE SNAPSHOT")`)
	b.wait("the snapshot in the table", `document.querySelectorAll("#snapshots tr[data-snapshot]").length === 1`)
	snap := b.eval(`document.querySelector("#snapshots tr[data-snapshot]").dataset.snapshot`)
	if got := r.rows("SELECT name, job, with_source FROM weir_snapshots"); len(got) != 1 || got[0] != snap+" per_minute_job t" {
		t.Fatalf("weir_snapshots %q, the page shows %q", got, snap)
	}

	// An incompatible update: grouping by another key renames the
	// aggregation; the check refuses, naming it, and nothing changes.
	oldID := r.one("SELECT max(job_id) FROM weir_jobs WHERE name = 'per_minute_job'")
	incompatible := strings.Replace(jobQuery, "GROUP BY window_start, device", "GROUP BY window_start, device, temp", 1)
	b.do("check an incompatible update", chromedp.SetValue(chromedp.CSS("#update-sql"), incompatible), chromedp.Click(chromedp.CSS("#btn-check")))
	b.wait("the refusal", `document.querySelector("#check-problems") && document.querySelector("#check-verdict").textContent.startsWith("refused")`)
	if problems := b.eval(`document.querySelector("#check-problems").innerText`); !strings.Contains(problems, "window_agg_device") {
		t.Fatalf("the refusal does not name the operator window_agg_device:\n%s", problems)
	}
	if b.eval(`document.querySelector("#btn-update").disabled`) != "true" {
		t.Fatal("Confirm update is enabled after a refused check")
	}
	if got := r.one("SELECT job_id || ' ' || state FROM weir_jobs WHERE name = 'per_minute_job' ORDER BY job_id DESC LIMIT 1"); got != oldID+" RUNNING" {
		t.Fatalf("after a refused check: %s, want %s RUNNING", got, oldID)
	}

	shot := filepath.Join(t.TempDir(), "console-job.png")
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the job page: %s (%d bytes)", shot, len(png))
	if dst := os.Getenv("WEIR_CONSOLE_SCREENSHOT"); dst != "" { // docs/console.png: the first screenful
		b.eval("window.scrollTo(0, 0)")
		view, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, view, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A compatible update: checked (the aggregation matched, the filter
	// added), then confirmed; the state carries over.
	good := strings.Replace(jobQuery, "GROUP BY", "WHERE temp >= 0 GROUP BY", 1)
	b.do("check a compatible update", chromedp.SetValue(chromedp.CSS("#update-sql"), good), chromedp.Click(chromedp.CSS("#btn-check")))
	b.wait("the acceptance", `document.querySelector("#check-verdict") && document.querySelector("#check-verdict").textContent.startsWith("accepted")`)
	fits := b.eval(`[...document.querySelectorAll("#check-operators tr")].map(r => r.innerText.replace(/\s+/g, " ")).join("\n")`)
	for _, want := range []string{"matched window_agg_device -> window_agg_device: carried", "added s0.filter: new"} {
		if !strings.Contains(fits, want) {
			t.Errorf("the check's operators lack %q:\n%s", want, fits)
		}
	}
	b.do("confirm the update", chromedp.Click(chromedp.CSS("#btn-update")))
	b.wait("the update's result", `document.querySelector("#result-ok") && document.querySelector("#result-ok").innerText.includes("ALTER JOB")`)
	if got := r.rows("SELECT state FROM weir_jobs WHERE name = 'per_minute_job'"); strings.Join(got, ",") != "RUNNING,UPDATED" {
		t.Fatalf("after the update weir_jobs has %q", got)
	}
	r.exec(insertSQL(g.next(30 + g.rng.Intn(30))))
	r.waitWatermark(g.watermark())
	b.wait("the watermark after the update", stageWM("s0")+` === `+js(datum.FormatTimestamp(g.watermark())))

	// Drain: DRAINED on the page and in weir_jobs; the output table holds
	// the oracle's windows, the open ones as DRAINED panes.
	wm := g.watermark()
	b.do("drain", chromedp.Click(chromedp.CSS("#btn-drain")))
	b.wait("DRAINED", `document.querySelector("#state").textContent === "DRAINED"`)
	if got := r.one("SELECT state FROM weir_jobs WHERE name = 'per_minute_job' ORDER BY job_id DESC LIMIT 1"); got != "DRAINED" {
		t.Fatalf("weir_jobs: %s, want DRAINED", got)
	}
	want := g.oracle(wm)
	if got := r.rows("SELECT * FROM per_minute"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("per_minute:\n%s\noracle:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(want, "\n"), "DRAINED") {
		t.Fatalf("the oracle has no DRAINED pane:\n%s", strings.Join(want, "\n"))
	}
	pageRows := `[...document.querySelectorAll("#output-rows tbody tr")].map(r => [...r.cells].map(c => c.textContent).join(" ")).sort().join("\n")`
	b.wait("the DRAINED panes in the output table", pageRows+` === `+js(strings.Join(sorted(want), "\n")))
	if b.eval(`document.querySelector("#btn-drain").disabled`) != "true" {
		t.Error("Drain is enabled on a drained job")
	}

	// Cancel asks first: No leaves the job running, Yes cancels it.
	r.exec(`CREATE TABLE cancel_out (device VARCHAR, temp DOUBLE);
CREATE JOB cancel_me AS INSERT INTO cancel_out SELECT device, temp FROM readings`)
	b.do("open the job to cancel", chromedp.Navigate(r.srv.URL+"/job/cancel_me"))
	b.wait("the job running", `document.querySelector("#state").textContent === "RUNNING" && !document.querySelector("#btn-cancel").disabled`)
	b.do("cancel, then no", chromedp.Click(chromedp.CSS("#btn-cancel")), chromedp.WaitVisible(chromedp.CSS("#btn-cancel-no")), chromedp.Click(chromedp.CSS("#btn-cancel-no")))
	if got := r.one("SELECT state FROM weir_jobs WHERE name = 'cancel_me'"); got != "RUNNING" {
		t.Fatalf("after Cancel, No: %s", got)
	}
	b.do("cancel, then yes", chromedp.Click(chromedp.CSS("#btn-cancel")), chromedp.WaitVisible(chromedp.CSS("#btn-cancel-yes")), chromedp.Click(chromedp.CSS("#btn-cancel-yes")))
	b.wait("CANCELLED", `document.querySelector("#state").textContent === "CANCELLED" && document.querySelector("#result-ok") !== null`)
	if got := r.one("SELECT state FROM weir_jobs WHERE name = 'cancel_me'"); got != "CANCELLED" {
		t.Fatalf("weir_jobs after Cancel, Yes: %s", got)
	}

	// The file job's malformed lines, raw, in its dead letters.
	b.do("open the file job", chromedp.Navigate(r.srv.URL+"/job/file_job"))
	b.wait("the dead letters", `document.querySelector("#state").textContent === "DONE" && document.querySelectorAll("#deadletters tbody tr").length === `+strconv.Itoa(len(bad)))
	raws := b.eval(`[...document.querySelectorAll("#deadletters td.raw")].map(c => c.textContent).sort().join("\n")`)
	var want2 []string
	for _, l := range bad {
		want2 = append(want2, printable([]byte(l)))
	}
	if raws != strings.Join(sorted(want2), "\n") {
		t.Errorf("raw dead letters on the page:\n%s\nwant\n%s", raws, strings.Join(sorted(want2), "\n"))
	}

	// An unknown job name.
	b.do("open an unknown job", chromedp.Navigate(r.srv.URL+"/job/nope"))
	b.wait("the unknown job's error", `document.querySelector("#job-error").textContent.includes('42704: job "nope" does not exist')`)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
