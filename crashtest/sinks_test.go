package crashtest

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/internal/kafkatest"
	"github.com/weir-sql/weir/internal/pgtest"
	"github.com/weir-sql/weir/internal/sinktest"
)

const sinksSQL = `CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (connector = 'file', path = 'readings.csv', format = 'csv');
CREATE SINK kout (window_start TIMESTAMP NOT NULL, device VARCHAR NOT NULL, n BIGINT, total BIGINT, top BIGINT,
  PRIMARY KEY (window_start, device))
  WITH (connector = 'kafka', brokers = '${brokers}', topic = '${topic}', format = 'json');
-- No key: rows are appended, so a window delivered twice shows.
CREATE SINK pout (window_start TIMESTAMP, device VARCHAR, n BIGINT, total BIGINT, top BIGINT)
  WITH (connector = 'postgres', url = '${pgurl}', table = '${table}', mode = 'append');
CREATE JOB kjob WITH (parallelism = '3') AS INSERT INTO kout
  SELECT window_start, device, count(*), sum(rpm), max(rpm)
  FROM TUMBLE(readings, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;
CREATE JOB pjob WITH (parallelism = '3') AS INSERT INTO pout
  SELECT window_start, device, count(*), sum(rpm), max(rpm)
  FROM TUMBLE(readings, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;
`

// TestCrashExternalSinks runs two windowed jobs with `weir run --resume`,
// one writing a Kafka sink (transactions, on a kfake broker running as its
// own process, so it outlives every weir kill) and one appending to a
// PostgreSQL table (a real server), and kills weir with SIGKILL at random
// moments, at bundle commit edges (WEIR_CRASH_COMMIT) and right before and
// after the sinks' external commits (WEIR_CRASH_SINK), restarting until
// both jobs are DONE. The topic as a read_committed consumer sees it and
// the PostgreSQL table must both equal the oracle: no window lost, none
// twice. At least 100 kills; each round uses a fresh data directory, topic
// and table. Runs under -stress only.
func TestCrashExternalSinks(t *testing.T) {
	if !*stressFlag {
		t.Skip("under -stress only (make stress): TestCrashServeKafkaSinks covers the sinks in make test's time budget")
	}
	rng := rand.New(rand.NewSource(testSeed(t)))
	n, bundle, minKills := 30_000, "200", 20
	if *stressFlag {
		n, bundle, minKills = 300_000, "500", 100
	}
	pg := pgtest.Start(t)
	kafka := kafkatest.StartProcess(t)
	dir := t.TempDir()
	want, _ := writeReadings(t, filepath.Join(dir, "readings.csv"), n, rng)
	writeFile(t, filepath.Join(dir, "job.sql"), sinksSQL)
	env := []string{"WEIR_BUNDLE_SIZE=" + bundle}

	made := map[string]bool{}
	args := func(data string) []string {
		name := strings.ReplaceAll(data, "-", "_")
		if !made[name] {
			made[name] = true
			kafka.CreateTopic("out_"+name, 3)
			sinktest.Exec(t, pg.URL, fmt.Sprintf("CREATE TABLE win_%s (window_start timestamp, device text, n bigint, total bigint, top bigint)", name))
		}
		return []string{"run", "job.sql", "--data", data, "--resume", "--param", "brokers=" + kafka.Addr(),
			"--param", "topic=out_" + name, "--param", "table=win_" + name, "--param", "pgurl=" + pg.URL}
	}
	verify := func(data string) {
		name := strings.ReplaceAll(data, "-", "_")
		got := sinktest.JSONLines(t, kafka.ConsumeAll("out_"+name, true), []string{"window_start", "device", "n", "total", "top"})
		if over, under := compareRows(want, got); len(over)+len(under) > 0 {
			t.Fatalf("%s: read_committed topic differs from the oracle: %d records over, %d under (%d expected, %d got)\nover:  %v\nunder: %v",
				data, len(over), len(under), len(want), len(got), head(over, 5), head(under, 5))
		}
		got = sinktest.PGLines(t, pg.URL, "SELECT window_start, device, n, total, top FROM win_"+name)
		if over, under := compareRows(want, got); len(over)+len(under) > 0 {
			t.Fatalf("%s: PostgreSQL table differs from the oracle: %d rows over, %d under (%d expected, %d got)\nover:  %v\nunder: %v",
				data, len(over), len(under), len(want), len(got), head(over, 5), head(under, 5))
		}
	}

	full := runWeir(t, dir, env, 0, args("calibrate")...)
	if !full.exited || full.code != 0 {
		t.Fatalf("uninterrupted run failed (%d):\n%s", full.code, full.stderr)
	}
	startup := runWeir(t, dir, env, 0, args("calibrate")...)
	if !startup.exited || startup.code != 0 {
		t.Fatalf("resuming finished jobs failed (%d):\n%s", startup.code, startup.stderr)
	}
	verify("calibrate")
	t.Logf("uninterrupted run %v, start-up %v", full.elapsed.Round(time.Millisecond), startup.elapsed.Round(time.Millisecond))
	work := max(full.elapsed-startup.elapsed, 50*time.Millisecond)
	sinkEnv := append(env[:len(env):len(env)], "WEIR_CRASH_SINK=before=0.03,after=0.03", "WEIR_CRASH_SEED="+strconv.FormatInt(rng.Int63(), 10))
	runs, kills, selfKills := killRounds(t, rng, killPlan{dir: dir, env: sinkEnv, startup: startup.elapsed, share: work / time.Duration(minKills), minKills: minKills,
		args: args,
		check: func(run int, res runResult) {
			if res.code != 0 {
				t.Fatalf("run %d exited %d:\n%s", run, res.code, res.stderr)
			}
		},
		verify: func(round, roundKills int, data string) {
			verify(data)
			t.Logf("round %d: finished after %d kills; Kafka (read_committed) and PostgreSQL equal the oracle (%d windows)", round, roundKills, len(want))
		}})
	t.Logf("%d runs: %d SIGKILLs at random moments, %d self-kills at commit and sink edges; %d events", runs, kills, selfKills, n)
}
