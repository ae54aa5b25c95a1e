package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
	"github.com/weir-sql/weir/internal/pgtest"
	"github.com/weir-sql/weir/internal/sinktest"
)

// serveProc is a running `weir serve`.
type serveProc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	stderr bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe starts `weir serve` on data and waits until it accepts SQL
// (or dies).
func startServe(t *testing.T, dir, data, addr string, env []string) *serveProc {
	t.Helper()
	p := &serveProc{done: make(chan struct{})}
	p.cmd = exec.Command(weirBin, "serve", "--data", data, "--listen", addr, "--http", "")
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p
}

// connect waits (up to a minute) for the server to accept a connection;
// nil when the process died first.
func (p *serveProc) connect(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, "postgres://weir@"+addr+"/weir?sslmode=disable")
		cancel()
		if err == nil {
			return conn
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(20 * time.Millisecond): // the listener is not up yet
		}
	}
	t.Fatalf("weir serve did not accept connections:\n%s", p.stderr.String())
	return nil
}

// kill SIGKILLs the process (if still alive) and reports whether it had
// died by itself (a crash hook).
func (p *serveProc) kill() (selfKilled bool) {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return false
}

// TestCrashServeKafkaSinks runs real `weir serve` processes reading a
// 4-partition Kafka topic (kfake as its own process, so it survives every
// kill) with two windowed jobs, one writing a Kafka sink and one appending
// to a PostgreSQL table, and kills weir with SIGKILL at random moments, or
// lets it kill itself at bundle commit edges (WEIR_CRASH_COMMIT) and at
// the sinks' external commit edges (WEIR_CRASH_SINK), restarting it on the
// same data directory until both outputs are complete. The input arrives
// in chunks between the first 20 runs (100 under -stress), so every one of
// them has work to be killed in. Then the topic, as
// a read_committed consumer sees it, and the table must equal the oracle:
// nothing lost, nothing twice.
func TestCrashServeKafkaSinks(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	perPart, minKills := 4000, 20
	if *stressFlag {
		perPart, minKills = 40_000, 100
	}
	pg := pgtest.Start(t)
	kafka := kafkatest.StartProcess(t)
	const parts = 4
	kafka.CreateTopic("ev", parts)
	kafka.CreateTopic("kout", 3)
	sinktest.Exec(t, pg.URL, "CREATE TABLE pout (window_start timestamp, device text, n bigint, total bigint)")

	// Readings per partition, out of order by less than the watermark
	// delay (none late), interleaved; then an end marker per partition far
	// ahead in event time, so every window of the data fires.
	const sec = int64(1_000_000)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	type agg struct{ n, total int64 }
	want := map[string]*agg{}
	var recs []*kgo.Record
	for i := 0; i < perPart; i++ {
		for p := 0; p < parts; p++ {
			ts := base + int64(i)*10_000 - rng.Int63n(2*sec)
			dev := fmt.Sprintf("dev%02d", rng.Intn(30))
			v := rng.Int63n(1000)
			start := ts - ((ts%(10*sec))+10*sec)%(10*sec)
			k := datum.FormatTimestamp(start) + " " + dev
			if want[k] == nil {
				want[k] = &agg{}
			}
			want[k].n++
			want[k].total += v
			recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(p),
				Value: []byte(fmt.Sprintf(`{"device": %q, "v": %d, "ts": %q}`, dev, v, datum.FormatTimestamp(ts)))})
		}
	}
	end := base + int64(perPart)*10_000 + 3600*sec
	for p := 0; p < parts; p++ {
		recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(p),
			Value: []byte(fmt.Sprintf(`{"device": "zz_end", "v": 0, "ts": %q}`, datum.FormatTimestamp(end)))})
	}
	// The input arrives in minKills chunks, one before each of the first
	// runs, so at least minKills runs (each killed) have work to do.
	produced := 0
	produceChunk := func(run int) {
		upTo := len(recs) * run / minKills
		if run >= minKills {
			upTo = len(recs)
		}
		if upTo > produced {
			kafka.Produce(recs[produced:upTo]...)
			produced = upTo
		}
	}
	var wantLines []string
	for k, a := range want {
		wantLines = append(wantLines, fmt.Sprintf("%s %d %d", k, a.n, a.total))
	}

	dir := t.TempDir()
	addr := freePort(t)
	ddl := fmt.Sprintf(`CREATE SOURCE ev (device VARCHAR NOT NULL, v BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'ev', format = 'json');
CREATE SINK kout (window_start TIMESTAMP NOT NULL, device VARCHAR NOT NULL, n BIGINT, total BIGINT, PRIMARY KEY (window_start, device))
  WITH (connector = 'kafka', brokers = '%[1]s', topic = 'kout', format = 'json');
CREATE SINK pout (window_start TIMESTAMP, device VARCHAR, n BIGINT, total BIGINT)
  WITH (connector = 'postgres', url = '%[2]s', table = 'pout', mode = 'append');
CREATE JOB kj WITH (parallelism = '2') AS INSERT INTO kout SELECT window_start, device, count(*), sum(v)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) WHERE device <> 'zz_end' GROUP BY window_start, window_end, device;
CREATE JOB pj WITH (parallelism = '2') AS INSERT INTO pout SELECT window_start, device, count(*), sum(v)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) WHERE device <> 'zz_end' GROUP BY window_start, window_end, device`, kafka.Addr(), pg.URL)
	env := []string{"WEIR_BUNDLE_SIZE=30"}
	complete := func() (nk, np int) {
		return len(kafka.ConsumeAll("kout", true)), len(sinktest.PGLines(t, pg.URL, "SELECT n FROM pout"))
	}

	// The first run creates the jobs, then every run is killed after a
	// random time (or kills itself) and restarted, until both outputs hold
	// as many windows as the oracle.
	runs, kills, selfKills := 0, 0, 0
	for {
		runs++
		if runs > 40*minKills {
			t.Fatalf("outputs incomplete after %d runs", runs)
		}
		runEnv := env
		if runs%2 == 0 {
			runEnv = append(env[:len(env):len(env)], "WEIR_CRASH_COMMIT=before=0.003,after=0.003", "WEIR_CRASH_SINK=before=0.05,after=0.05",
				"WEIR_CRASH_SEED="+strconv.FormatInt(rng.Int63(), 10))
		}
		produceChunk(runs)
		p := startServe(t, dir, "data", addr, runEnv)
		conn := p.connect(t, addr)
		if conn == nil {
			selfKills++ // died at a commit edge while resuming
			continue
		}
		if runs == 1 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			for _, stmt := range strings.Split(ddl, ";\n") {
				if _, err := conn.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			cancel()
		}
		conn.Close(context.Background())
		select {
		case <-p.done:
		case <-time.After(time.Duration(30+rng.Intn(270)) * time.Millisecond):
		}
		if p.kill() {
			selfKills++
		} else {
			kills++
		}
		if strings.Contains(p.stderr.String(), "panic") {
			t.Fatalf("weir serve panicked:\n%s", p.stderr.String())
		}
		if produced < len(recs) {
			continue
		}
		if nk, np := complete(); nk >= len(wantLines) && np >= len(wantLines) {
			break
		}
	}
	got := sinktest.JSONLines(t, kafka.ConsumeAll("kout", true), []string{"window_start", "device", "n", "total"})
	if over, under := compareRows(wantLines, got); len(over)+len(under) > 0 {
		t.Fatalf("read_committed topic differs from the oracle: %d records over, %d under (%d expected)\nover:  %v\nunder: %v",
			len(over), len(under), len(wantLines), head(over, 5), head(under, 5))
	}
	got = sinktest.PGLines(t, pg.URL, "SELECT window_start, device, n, total FROM pout")
	if over, under := compareRows(wantLines, got); len(over)+len(under) > 0 {
		t.Fatalf("PostgreSQL table differs from the oracle: %d rows over, %d under (%d expected)\nover:  %v\nunder: %v",
			len(over), len(under), len(wantLines), head(over, 5), head(under, 5))
	}
	if kills+selfKills < minKills {
		t.Fatalf("only %d kills (want %d)", kills+selfKills, minKills)
	}
	t.Logf("%d runs of weir serve: %d SIGKILLs, %d self-kills at commit and sink edges; %d events over %d partitions; %d windows exactly once in Kafka and PostgreSQL",
		runs, kills, selfKills, len(recs), parts, len(wantLines))

}
