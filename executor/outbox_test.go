package executor

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
	"github.com/weir-sql/weir/internal/pgtest"
	"github.com/weir-sql/weir/internal/sinktest"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// outSinkSchema is the row windowJob's last stage produces, named as the
// external sinks' columns.
var outSinkSchema = plan.Schema{
	{Name: "device", Type: datum.TypeVarchar, NotNull: true},
	{Name: "window_start", Type: datum.TypeTimestamp, NotNull: true},
	{Name: "window_end", Type: datum.TypeTimestamp},
	{Name: "n", Type: datum.TypeInt8},
	{Name: "total", Type: datum.TypeInt8},
	{Name: "tmin", Type: datum.TypeFloat8},
	{Name: "tmax", Type: datum.TypeFloat8},
	{Name: "tavg", Type: datum.TypeFloat8},
	{Name: "nrpm", Type: datum.TypeInt8},
}

var outSinkCols = []string{"device", "window_start", "window_end", "n", "total", "tmin", "tmax", "tavg", "nrpm"}

const outPGTable = `CREATE TABLE %s (device text NOT NULL, window_start timestamp NOT NULL, window_end timestamp,
	n bigint, total bigint, tmin double precision, tmax double precision, tavg double precision, nrpm bigint %s)`

// sinkWindowJob is windowJob writing into an external sink.
func sinkWindowJob(path string, spec plan.WindowSpec, delay, lateness int64, connectorName string, opts map[string]string, key []int) *plan.JobPlan {
	jplan := windowJob(path, spec, delay, 99, lateness)
	ops := jplan.Stages[1].Ops
	ops[len(ops)-1] = &plan.SinkOp{OpBase: plan.OpBase{Name: "sink_out", Schema: outSinkSchema}, Target: "out", TargetID: 99,
		Connector: connectorName, Options: opts, PrimaryKey: key}
	return jplan
}

// outboxCase is one exactly-once sink run: a bounded windowed job whose
// delivery loop "dies" (testHooks.sinkDie) right before or right after
// the external commit a few times, each followed by a restart of the
// executor on the same store, until the job ends DONE.
type outboxCase struct {
	plan    *plan.JobPlan
	crashes int
	bundle  int
}

func runOutboxCase(t *testing.T, c outboxCase, rng *rand.Rand, dir string) (edges [2]int) {
	t.Helper()
	st, err := state.Open(filepath.Join(dir, "store"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	meta := JobMeta{Name: "sinkjob", ID: 1, StateNS: 11}
	for run := 0; ; run++ {
		crash := run < c.crashes
		after := run%2 == 1
		dieAt := int64(1 + rng.Intn(2))
		var n atomic.Int64
		died := make(chan struct{})
		var once sync.Once
		hooks := &testHooks{deliverRows: 10, sinkDie: func(_ *sinkWriter, isAfter bool) bool {
			if !crash || isAfter != after || n.Add(1) != dieAt {
				return false
			}
			once.Do(func() { close(died) })
			return true
		}}
		cfg := Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: c.bundle,
			MaxOutboxRows: 200, hooks: hooks, Logf: t.Logf}
		x := New(cfg)
		j, err := x.Start(c.plan, meta)
		if err != nil {
			t.Fatal(err)
		}
		if crash {
			select {
			case <-died:
				if after {
					edges[1]++
				} else {
					edges[0]++
				}
			case <-j.Done():
			case <-time.After(time.Minute):
				t.Fatal("no delivery within a minute")
			}
			j.Stop()
			x.Close()
			continue
		}
		select {
		case <-j.Done():
		case <-time.After(2 * time.Minute):
			t.Fatal("job did not finish")
		}
		outcome, err := j.Outcome()
		if err != nil || outcome != StateDone {
			t.Fatalf("job ended %s: %v", outcome, err)
		}
		if n := j.OutboxRows(); n != 0 {
			t.Fatalf("job DONE with %d rows still in its outbox", n)
		}
		x.Close()
		// Nothing may be left in the outbox on disk either.
		pre := outboxPrefix(meta.StateNS, 99)
		left := 0
		_ = st.Scan(pre, state.PrefixEnd(pre), func(_, _ []byte) error { left++; return nil })
		if left != 0 {
			t.Fatalf("%d outbox entries left on disk", left)
		}
		return edges
	}
}

// TestOutboxPostgresExactlyOnce: a windowed job appends its windows to a
// real PostgreSQL table (no key: a repeated delivery would show as a
// duplicate row); crashes right before and right after the PostgreSQL
// COMMIT, each followed by a restart, must neither lose nor repeat a row.
// Then the same with lateness (LATE panes) upserted by primary key: the
// table holds each window's last pane, equal to the oracle.
func TestOutboxPostgresExactlyOnce(t *testing.T) {
	pg := pgtest.Start(t)
	for _, seed := range seeds(t, 2) {
		for _, keyed := range []bool{false, true} {
			t.Run(fmt.Sprintf("keyed=%v/seed=%d", keyed, seed), func(t *testing.T) {
				t.Logf("seed %d (re-run with -seed %d)", seed, seed)
				rng := rand.New(rand.NewSource(seed))
				const delay = 5_000_000
				evs := genEvents(rng, 2000+rng.Intn(2000), 5+rng.Intn(40), delay)
				dir := t.TempDir()
				path := filepath.Join(dir, "readings.csv")
				writeCSV(t, path, evs, 10, rng)
				spec := plan.WindowSpec{Kind: plan.Tumble, Size: 60_000_000, Slide: 60_000_000}
				lateness := int64(0)
				if keyed {
					lateness = 2 * 60_000_000
				}
				want, _ := oracle(evs, spec, delay, lateness)
				table := fmt.Sprintf("out_%d_%v", seed%100000, keyed)
				pk := ""
				var key []int
				if keyed {
					pk, key = ", PRIMARY KEY (device, window_start)", []int{0, 1}
				}
				sinktest.Exec(t, pg.URL, fmt.Sprintf(outPGTable, table, pk))
				jplan := sinkWindowJob(path, spec, delay, lateness, "postgres", map[string]string{"url": pg.URL, "table": table}, key)
				jplan.Stages[1].Parallelism = 3
				edges := runOutboxCase(t, outboxCase{plan: jplan, crashes: 4, bundle: 40}, rng, dir)
				got := sinktest.PGLines(t, pg.URL, "SELECT "+strings.Join(outSinkCols, ", ")+" FROM "+table)
				wantLines := formatOracle(want, spec)
				if !sameLines(wantLines, got) {
					t.Fatalf("seed %d: PostgreSQL table differs from the oracle\n%s", seed, diffLines(wantLines, got))
				}
				t.Logf("%d windows; crashes before / after the PostgreSQL commit: %d / %d", len(wantLines), edges[0], edges[1])
			})
		}
	}
}

// TestOutboxKafkaExactlyOnce: the same job into a Kafka topic of an
// in-process kfake cluster, through Kafka transactions: a read_committed
// consumer sees every window exactly once despite crashes before and
// after the transaction's commit (a restarted writer fences its
// predecessor and reads its progress back from the transactional offset
// commit).
func TestOutboxKafkaExactlyOnce(t *testing.T) {
	for _, seed := range seeds(t, 2) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d (re-run with -seed %d)", seed, seed)
			cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.NumBrokers(1), kfake.SeedTopics(3, "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			brokers := cluster.ListenAddrs()
			rng := rand.New(rand.NewSource(seed))
			const delay = 5_000_000
			evs := genEvents(rng, 2000+rng.Intn(2000), 5+rng.Intn(40), delay)
			dir := t.TempDir()
			path := filepath.Join(dir, "readings.csv")
			writeCSV(t, path, evs, 10, rng)
			spec := plan.WindowSpec{Kind: plan.Tumble, Size: 60_000_000, Slide: 60_000_000}
			want, _ := oracle(evs, spec, delay, 0)
			jplan := sinkWindowJob(path, spec, delay, 0, "kafka", map[string]string{"brokers": strings.Join(brokers, ","), "topic": "out"}, []int{0, 1})
			jplan.Stages[1].Parallelism = 3
			edges := runOutboxCase(t, outboxCase{plan: jplan, crashes: 4, bundle: 40}, rng, dir)
			recs := sinktest.ReadCommitted(t, brokers, "out")
			got := sinktest.JSONLines(t, recs, outSinkCols)
			wantLines := formatOracle(want, spec)
			if !sameLines(wantLines, got) {
				t.Fatalf("seed %d: read_committed topic differs from the oracle\n%s", seed, diffLines(wantLines, got))
			}
			for _, r := range recs {
				if !strings.HasPrefix(string(r.Key), `{"device":`) {
					t.Fatalf("record key %q is not the primary key", r.Key)
				}
			}
			t.Logf("%d windows; crashes before / after the Kafka commit: %d / %d", len(wantLines), edges[0], edges[1])
		})
	}
}

// TestOutboxPostgresTargetErrors: a missing target table or a column that
// does not match fails the job with the SQLSTATE and a reason naming it.
func TestOutboxPostgresTargetErrors(t *testing.T) {
	pg := pgtest.Start(t)
	sinktest.Exec(t, pg.URL,
		fmt.Sprintf(outPGTable, "wrong_type", ", n2 int"),
		"ALTER TABLE wrong_type ALTER COLUMN total TYPE text",
		"CREATE TABLE missing_col (device text, window_start timestamp)")
	rng := rand.New(rand.NewSource(1))
	evs := genEvents(rng, 300, 5, 5_000_000)
	dir := t.TempDir()
	path := filepath.Join(dir, "readings.csv")
	writeCSV(t, path, evs, 0, rng)
	spec := plan.WindowSpec{Kind: plan.Tumble, Size: 60_000_000, Slide: 60_000_000}
	for _, c := range []struct{ table, code, says string }{
		{"no_such_table", pgerr.UndefinedTable, `relation "no_such_table" does not exist`},
		{"missing_col", pgerr.UndefinedColumn, `column "window_end" of relation "missing_col" does not exist`},
		{"wrong_type", pgerr.DatatypeMismatch, `column "total" is bigint in the sink but text`},
	} {
		st, err := state.Open(filepath.Join(dir, c.table), state.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		x := New(Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}})
		jplan := sinkWindowJob(path, spec, 5_000_000, 0, "postgres", map[string]string{"url": pg.URL, "table": c.table}, nil)
		j, err := x.Start(jplan, JobMeta{Name: "bad", ID: 1, StateNS: 3})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-j.Done():
		case <-time.After(time.Minute):
			t.Fatal("job did not fail")
		}
		outcome, runErr := j.Outcome()
		if outcome != StateFailed || pgerr.Code(runErr) != c.code || !strings.Contains(runErr.Error(), c.says) {
			t.Fatalf("%s: job ended %s: %v (code %s), want FAILED %s saying %q", c.table, outcome, runErr, pgerr.Code(runErr), c.code, c.says)
		}
		x.Close()
		st.Close()
	}
}

// TestOutboxKafkaOutage: the Kafka broker refuses every request for a
// second from the job's first delivery on (kafkatest's Outage drops
// connections; nothing stored is lost). The delivery loop waits and
// retries, producers wait on the bounded outbox, and once the broker is
// back the read_committed topic equals the oracle: nothing lost, nothing
// twice.
func TestOutboxKafkaOutage(t *testing.T) {
	seed := seeds(t, 1)[0]
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	c := kafkatest.Start(t)
	c.CreateTopic("out", 3)
	const delay = 5_000_000
	evs := genEvents(rng, 3000, 20, delay)
	dir := t.TempDir()
	path := filepath.Join(dir, "readings.csv")
	writeCSV(t, path, evs, 0, rng)
	spec := plan.WindowSpec{Kind: plan.Tumble, Size: 10_000_000, Slide: 10_000_000}
	want, _ := oracle(evs, spec, delay, 0)
	jplan := sinkWindowJob(path, spec, delay, 0, "kafka", map[string]string{"brokers": c.Addr(), "topic": "out"}, []int{0, 1})
	jplan.Stages[1].Parallelism = 2
	st, err := state.Open(filepath.Join(dir, "store"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var deliveries, retries atomic.Int64
	var outage sync.Once
	var hadOutage atomic.Bool
	hooks := &testHooks{deliverRows: 20, sinkDie: func(_ *sinkWriter, after bool) bool {
		if !after && deliveries.Add(1) == 1 {
			outage.Do(func() {
				hadOutage.Store(true)
				end := c.Outage()
				time.AfterFunc(time.Second, end) // the broker comes back a second later
			})
		}
		return false
	}}
	logf := func(format string, args ...any) {
		if strings.Contains(format, "retrying") {
			retries.Add(1)
		}
	}
	x := New(Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: 50, MaxOutboxRows: 100, hooks: hooks, Logf: logf})
	j, err := x.Start(jplan, JobMeta{Name: "outage", ID: 1, StateNS: 5})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("job did not finish")
	}
	if outcome, err := j.Outcome(); outcome != StateDone || err != nil {
		t.Fatalf("job ended %s: %v", outcome, err)
	}
	x.Close()
	if !hadOutage.Load() {
		t.Fatal("no delivery was attempted during the outage")
	}
	got := sinktest.JSONLines(t, c.ConsumeAll("out", true), outSinkCols)
	wantLines := formatOracle(want, spec)
	if !sameLines(wantLines, got) {
		t.Fatalf("seed %d: read_committed topic differs from the oracle after the outage\n%s", seed, diffLines(wantLines, got))
	}
	t.Logf("%d windows in %d deliveries; %d failed attempts retried during the outage", len(wantLines), deliveries.Load(), retries.Load())
}
