package crashtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/state"
)

var (
	stressFlag = flag.Bool("stress", false, "run the crash tests at full size (a million events, more kills)")
	seedFlag   = flag.Int64("seed", 0, "run with this seed (default: the time)")
)

// weirBin is the weir binary under test, built by TestMain from this tree.
var weirBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "weir-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	weirBin = filepath.Join(dir, "weir")
	build := exec.Command("go", "build", "-o", weirBin, "github.com/weir-sql/weir/cmd/weir")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: building weir:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testSeed(t *testing.T) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -args -seed %d)", seed, seed)
	return seed
}

// runResult is how one weir process ended.
type runResult struct {
	exited     bool // exited by itself (code below)
	code       int
	killed     bool // we sent SIGKILL
	selfKilled bool // it died of SIGKILL we did not send (WEIR_CRASH_COMMIT)
	stdout     string
	stderr     string
	elapsed    time.Duration
}

// runWeir runs the weir binary in dir and kills it with SIGKILL after
// killAfter (0: never; a 10-minute limit still applies).
func runWeir(t *testing.T, dir string, env []string, killAfter time.Duration, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(weirBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	limit := 10 * time.Minute
	if killAfter > 0 {
		limit = killAfter
	}
	var res runResult
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		res.killed = true
		<-done
	}
	res.elapsed = time.Since(start)
	res.stdout, res.stderr = stdout.String(), stderr.String()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		if !res.killed {
			res.selfKilled = true
		}
	case ws.Exited():
		res.exited, res.code, res.killed = true, ws.ExitStatus(), false
	default:
		t.Fatalf("weir %v ended oddly: %v\n%s", args, cmd.ProcessState, res.stderr)
	}
	if killAfter == 0 && res.killed {
		t.Fatalf("weir %v did not finish in %v", args, limit)
	}
	return res
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const windowSQL = `CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (connector = 'file', path = 'readings.csv', format = 'csv');
-- No primary key: every pane is appended, so a pane emitted twice shows.
CREATE TABLE per_window (window_start TIMESTAMP, device VARCHAR, n BIGINT, total BIGINT, top BIGINT);
CREATE JOB crashjob WITH (parallelism = '3') AS INSERT INTO per_window
  SELECT window_start, device, count(*), sum(rpm), max(rpm)
  FROM TUMBLE(readings, ts, INTERVAL '10' SECOND)
  GROUP BY window_start, window_end, device;
`

type winAgg struct{ n, total, top int64 }

// writeReadings writes n readings (1,000 per second of event time, out of
// order by up to 2 s, below the 5 s watermark delay, so none is late in
// any partition) plus malformed lines, and returns the expected table rows
// and the number of malformed lines.
func writeReadings(t *testing.T, path string, n int, rng *rand.Rand) ([]string, int) {
	t.Helper()
	const sec = int64(1_000_000)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	want := map[string]*winAgg{}
	var buf bytes.Buffer
	buf.WriteString("device,rpm,ts\n")
	bad := 0
	for i := 0; i < n; i++ {
		if rng.Intn(2500) == 0 {
			fmt.Fprintf(&buf, "broken,%d,not-a-time\n", i)
			bad++
		}
		ts := base + int64(i)*1000 - rng.Int63n(2*sec)
		dev := fmt.Sprintf("dev%02d", rng.Intn(60))
		rpm := rng.Int63n(10_000)
		fmt.Fprintf(&buf, "%s,%d,%s\n", dev, rpm, datum.FormatTimestamp(ts))
		start := ts - ((ts%(10*sec))+10*sec)%(10*sec)
		k := datum.NewTimestamp(start).Format() + " " + dev
		a := want[k]
		if a == nil {
			a = &winAgg{}
			want[k] = a
		}
		a.n++
		a.total += rpm
		a.top = max(a.top, rpm)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for k, a := range want {
		lines = append(lines, fmt.Sprintf("%s %d %d %d", k, a.n, a.total, a.top))
	}
	sort.Strings(lines)
	return lines, bad
}

// query runs one statement on e and returns its rows as space-separated
// text, sorted.
func query(t *testing.T, e *engine.Engine, q string) []string {
	t.Helper()
	s := e.NewSession()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.Exec(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var out []string
	for _, r := range res[len(res)-1].Rows {
		parts := make([]string, len(r))
		for i, d := range r {
			parts[i] = d.Format()
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

// compareRows reports rows over (extra or repeated) and under (missing).
func compareRows(want, got []string) (over, under []string) {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	for k, c := range count {
		for ; c < 0; c++ {
			over = append(over, k)
		}
		for ; c > 0; c-- {
			under = append(under, k)
		}
	}
	sort.Strings(over)
	sort.Strings(under)
	return over, under
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TestCrashWindowedJob runs a windowed aggregation with a shuffle between
// two stages (three file partitions, three key ranges) over a bounded CSV
// source with `weir run --resume`, kills it with SIGKILL at random moments
// and, in every other run, lets it kill itself at commit edges
// (WEIR_CRASH_COMMIT), and restarts it until it finishes. The appended
// table must equal the oracle exactly (0 rows over, 0 under), every
// malformed line must be a dead letter exactly once, and the job's counters
// must be exact. At least 20 kills (100 under -stress) must land before the
// job finishes: a round that finishes with fewer is verified too and
// followed by another on a fresh data directory, with kills closer
// together. 100,000 events (1,000,000 under -stress).
func TestCrashWindowedJob(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	n, bundle, minKills := 100_000, "100", 20
	if *stressFlag {
		n, bundle, minKills = 1_000_000, "500", 100
	}
	dir := t.TempDir()
	want, bad := writeReadings(t, filepath.Join(dir, "readings.csv"), n, rng)
	writeFile(t, filepath.Join(dir, "job.sql"), windowSQL)
	env := []string{"WEIR_BUNDLE_SIZE=" + bundle}

	// Calibrate: one uninterrupted run, and a resume of the finished job
	// (the start-up cost).
	full := runWeir(t, dir, env, 0, "run", "job.sql", "--data", "calibrate", "--resume")
	if !full.exited || full.code != 0 {
		t.Fatalf("uninterrupted run failed (%d):\n%s", full.code, full.stderr)
	}
	startup := runWeir(t, dir, env, 0, "run", "job.sql", "--data", "calibrate", "--resume")
	if !startup.exited || startup.code != 0 {
		t.Fatalf("resuming a finished job failed (%d):\n%s", startup.code, startup.stderr)
	}
	verifyWindowed(t, dir, "calibrate", want, bad, n)
	t.Logf("uninterrupted run %v, start-up %v", full.elapsed.Round(time.Millisecond), startup.elapsed.Round(time.Millisecond))
	// Kill after half the start-up plus a random share of the rest of the
	// start-up and of the work, so that about 2*minKills runs are needed.
	work := full.elapsed - startup.elapsed
	if work < 50*time.Millisecond {
		work = 50 * time.Millisecond
	}
	share := work / time.Duration(minKills)
	runs, kills, selfKills := killRounds(t, rng, killPlan{dir: dir, env: env, startup: startup.elapsed, share: share, minKills: minKills,
		args: func(data string) []string { return []string{"run", "job.sql", "--data", data, "--resume"} },
		check: func(run int, res runResult) {
			if res.code != 0 {
				t.Fatalf("run %d exited %d:\n%s", run, res.code, res.stderr)
			}
		},
		verify: func(round, roundKills int, data string) {
			verifyWindowed(t, dir, data, want, bad, n)
			t.Logf("round %d: finished after %d kills; table equals the oracle (%d rows, %d dead letters)", round, roundKills, len(want), bad)
		}})
	t.Logf("%d runs: %d SIGKILLs at random moments, %d self-kills at commit edges; %d events", runs, kills, selfKills, n)
}

// killPlan is a kill test's setup for killRounds.
type killPlan struct {
	dir      string
	env      []string
	startup  time.Duration // the start-up cost of one run
	share    time.Duration // kill within startup/2 + random(startup/2 + share)
	minKills int
	args     func(data string) []string
	check    func(run int, res runResult)             // a run that exited by itself
	verify   func(round, roundKills int, data string) // a finished round
}

// killRounds runs weir on fresh data directories, one per round, killing
// it with SIGKILL at random moments and (every other run) letting it kill
// itself at commit edges (WEIR_CRASH_COMMIT), restarting until the job
// finishes; each finished round is verified. Rounds go on until the kills
// add up to minKills; a round that ends with few kills (the machine ran
// faster than calibrated) makes the next kill sooner.
func killRounds(t *testing.T, rng *rand.Rand, p killPlan) (runs, kills, selfKills int) {
	t.Helper()
	share := p.share
	for round, roundKills := 0, 0; kills+selfKills < p.minKills; round++ {
		if round > 0 && roundKills < p.minKills/4 {
			share /= 2
		}
		data := fmt.Sprintf("data-%d", round)
		roundKills = 0
		for {
			runs++
			if runs > 20*p.minKills+200 {
				t.Fatalf("no end after %d runs (%d kills): a stall?", runs, kills+selfKills)
			}
			runEnv := p.env
			if runs%2 == 0 {
				runEnv = append(runEnv[:len(runEnv):len(runEnv)], "WEIR_CRASH_COMMIT=before=0.004,after=0.004",
					"WEIR_CRASH_SEED="+strconv.FormatInt(rng.Int63(), 10))
			}
			killAfter := p.startup/2 + time.Duration(rng.Int63n(int64(p.startup/2+share)))
			res := runWeir(t, p.dir, runEnv, killAfter, p.args(data)...)
			switch {
			case res.killed:
				kills++
				roundKills++
				continue
			case res.selfKilled:
				selfKills++
				roundKills++
				continue
			}
			p.check(runs, res)
			break
		}
		p.verify(round, roundKills, data)
	}
	return runs, kills, selfKills
}

// verifyWindowed opens the data directory in this process and compares
// the job's results with the oracle.
func verifyWindowed(t *testing.T, dir, data string, want []string, bad, n int) {
	t.Helper()
	e, err := engine.Open(engine.Options{DataDir: filepath.Join(dir, data), BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := query(t, e, "SELECT window_start, device, n, total, top FROM per_window")
	if over, under := compareRows(want, got); len(over)+len(under) > 0 {
		t.Fatalf("%s: table differs from the oracle: %d rows over, %d under (%d expected, %d got)\nover:  %v\nunder: %v",
			data, len(over), len(under), len(want), len(got), head(over, 5), head(under, 5))
	}
	dl := query(t, e, "SELECT count(*), count(DISTINCT position) FROM weir_dead_letters WHERE job = 'crashjob'")
	if w := fmt.Sprintf("%d %d", bad, bad); len(dl) != 1 || dl[0] != w {
		t.Fatalf("%s: dead letters (count, distinct positions) %v, want %s", data, dl, w)
	}
	jobs := query(t, e, "SELECT state, events_in, late_dropped, bad_records FROM weir_jobs WHERE name = 'crashjob'")
	if w := fmt.Sprintf("DONE %d 0 %d", n, bad); len(jobs) != 1 || jobs[0] != w {
		t.Fatalf("%s: weir_jobs %v, want %q", data, jobs, w)
	}
}

const insertSchema = `CREATE SOURCE ev (id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
CREATE TABLE seen (id BIGINT, n BIGINT, PRIMARY KEY (id));
CREATE JOB counter AS INSERT INTO seen SELECT id, count(*) FROM ev GROUP BY id;
`

var ackRE = regexp.MustCompile(`ack:(\d+)`)

// TestCrashLogInserts has a client process, `weir run --resume` on one data
// directory, INSERT rows into a log source (Weir's durable log) and print
// an acknowledgement after each INSERT returns, while a job counts the rows
// per id through a shuffle. Each round is killed with SIGKILL at a random
// moment, or kills itself at a commit edge (WEIR_CRASH_COMMIT). Afterwards
// every acknowledged row is in the log, no row is there twice, and the job
// (resumed with the engine) counted every row of the log exactly once.
func TestCrashLogInserts(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	rounds, perRound := 24, 80
	if *stressFlag {
		rounds, perRound = 120, 150
	}
	dir := t.TempDir()
	acked := map[int64]bool{}
	kills, selfKills := 0, 0
	for r := 0; r < rounds; r++ {
		var b strings.Builder
		b.WriteString(insertSchema)
		for i := 0; i < perRound; i++ {
			id := int64(r*100_000 + 2*i)
			ts := datum.FormatTimestamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() + id*1000)
			fmt.Fprintf(&b, "INSERT INTO ev VALUES (%d, '%s'), (%d, '%s');\nSELECT 'ack:%d' AS a;\n", id, ts, id+1, ts, id)
		}
		file := fmt.Sprintf("insert-%d.sql", r)
		writeFile(t, filepath.Join(dir, file), b.String())
		var env []string
		if r%2 == 1 {
			env = []string{"WEIR_CRASH_COMMIT=before=0.01,after=0.01", "WEIR_CRASH_SEED=" + strconv.FormatInt(rng.Int63(), 10)}
		}
		killAfter := 30*time.Millisecond + time.Duration(rng.Int63n(int64(400*time.Millisecond)))
		res := runWeir(t, dir, env, killAfter, "run", file, "--data", "data", "--resume")
		switch {
		case res.killed:
			kills++
		case res.selfKilled:
			selfKills++
		default:
			t.Fatalf("round %d: weir exited %d (it should run until killed):\n%s", r, res.code, res.stderr)
		}
		n := 0
		for _, m := range ackRE.FindAllStringSubmatch(res.stdout, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			acked[id], acked[id+1] = true, true
			n++
		}
		t.Logf("round %d: %d of %d INSERTs acknowledged before the kill (%v)", r, n, perRound, res.elapsed.Round(time.Millisecond))
	}
	if kills+selfKills < 20 {
		t.Fatalf("only %d kills", kills+selfKills)
	}

	// Restart in this process: the job resumes; a watermark past every
	// row makes it catch up.
	e, err := engine.Open(engine.Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src, err := e.Catalog().GetSource("ev")
	if err != nil {
		t.Fatal(err)
	}
	inLog := map[int64]int{}
	p := binary.BigEndian.AppendUint64([]byte{'l'}, src.ID)
	if err := e.Store().Scan(p, state.PrefixEnd(p), func(k, v []byte) error {
		if len(k) != 21 || bytes.HasPrefix(v, []byte("\xffW")) {
			return nil // the truncation mark, a watermark
		}
		row, _, err := datum.DecodeRow(v)
		if err != nil {
			return err
		}
		inLog[row[0].Int()]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if inLog[id] != 1 {
			t.Fatalf("acknowledged row %d is in the log %d times", id, inLog[id])
		}
	}
	for id, c := range inLog {
		if c != 1 {
			t.Fatalf("row %d is in the log %d times", id, c)
		}
	}
	far := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	if err := e.AdvanceWatermark("ev", far); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.WaitSourceWatermark(ctx, "ev", far); err != nil {
		t.Fatal(err)
	}
	seen := query(t, e, "SELECT id, n FROM seen")
	counted := map[int64]bool{}
	for _, r := range seen {
		f := strings.Fields(r)
		id, _ := strconv.ParseInt(f[0], 10, 64)
		if f[1] != "1" {
			t.Fatalf("row %d counted %s times", id, f[1])
		}
		if inLog[id] != 1 {
			t.Fatalf("row %d counted but not in the log", id)
		}
		counted[id] = true
	}
	if len(counted) != len(inLog) {
		t.Fatalf("%d rows in the log, %d counted", len(inLog), len(counted))
	}
	t.Logf("%d rounds: %d SIGKILLs, %d self-kills; %d rows acknowledged, %d in the log (the rest committed before the kill hid their acknowledgement), all counted once",
		rounds, kills, selfKills, len(acked), len(inLog))
}
