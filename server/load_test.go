package server

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The load test: many pgx connections run a mix of point SELECTs on a keyed
// table and INSERTs into a log source, and a job counts the source's rows.
// By default it runs briefly (a smoke test of the same code); make bench
// runs it for a minute:
//
//	go test ./server -run TestLoad -count=1 -load 60s
var (
	loadDuration = flag.Duration("load", 0, "run TestLoad for this long (default: a 2s smoke run)")
	loadConns    = flag.Int("load-conns", 64, "TestLoad: concurrent connections")
	loadInserts  = flag.Int("load-insert-pct", 20, "TestLoad: percentage of statements that are INSERTs")
)

const loadKeys = 1000

// loadStats are one connection's measurements.
type loadStats struct {
	selects, inserts []time.Duration // latency per statement
	acked            int64           // rows whose INSERT returned OK
}

func TestLoad(t *testing.T) {
	dur := *loadDuration
	if dur == 0 {
		dur = 2 * time.Second
	}
	ts, _ := startEngineServer(t, Config{Logf: func(string, ...any) {}})
	ctx := context.Background()
	setup := connectPgx(t, ts.url("load", ""), pgx.QueryExecModeCacheStatement)
	for _, s := range []string{
		"CREATE TABLE kv (k BIGINT, v VARCHAR, PRIMARY KEY (k))",
		"CREATE SOURCE log_events (id BIGINT NOT NULL, worker INT NOT NULL, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)",
		"CREATE TABLE log_counts (worker INT, n BIGINT, PRIMARY KEY (worker))",
		"CREATE JOB count_log AS INSERT INTO log_counts SELECT worker, count(*) FROM log_events GROUP BY worker",
	} {
		if _, err := setup.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	rows := make([][]any, loadKeys)
	for i := range rows {
		rows[i] = []any{int64(i), "value-" + strconv.Itoa(i)}
	}
	if _, err := setup.CopyFrom(ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}

	conns := make([]*pgx.Conn, *loadConns)
	for i := range conns {
		conns[i] = connectPgx(t, ts.url("load", ""), pgx.QueryExecModeCacheStatement)
	}
	stats := make([]loadStats, len(conns))
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(dur)
	for w, c := range conns {
		wg.Add(1)
		go func(w int, c *pgx.Conn) {
			defer wg.Done()
			st := &stats[w]
			rng := rand.New(rand.NewSource(int64(w) + 1))
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for seq := int64(0); time.Now().Before(stop); seq++ {
				t0 := time.Now()
				if rng.Intn(100) < *loadInserts {
					id := int64(w)<<32 | seq
					if _, err := c.Exec(ctx, "INSERT INTO log_events VALUES ($1, $2, $3)", id, w, base.Add(time.Duration(seq)*time.Millisecond)); err != nil {
						errs <- fmt.Errorf("insert: %w", err)
						return
					}
					st.inserts = append(st.inserts, time.Since(t0))
					st.acked++
					continue
				}
				k := rng.Int63n(loadKeys)
				var v string
				if err := c.QueryRow(ctx, "SELECT v FROM kv WHERE k = $1", k).Scan(&v); err != nil {
					errs <- fmt.Errorf("select %d: %w", k, err)
					return
				}
				if v != "value-"+strconv.FormatInt(k, 10) {
					errs <- fmt.Errorf("select %d: got %q", k, v)
					return
				}
				st.selects = append(st.selects, time.Since(t0))
			}
		}(w, c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	var all, sel, ins []time.Duration
	var acked int64
	for _, st := range stats {
		sel = append(sel, st.selects...)
		ins = append(ins, st.inserts...)
		acked += st.acked
	}
	all = append(append(all, sel...), ins...)
	report := fmt.Sprintf("load: %d connections, %s: %d statements, %.0f statements/s; p50 %s, p99 %s (SELECT: %d, p99 %s; INSERT: %d, p99 %s)",
		len(conns), elapsed.Round(time.Millisecond), len(all), float64(len(all))/elapsed.Seconds(),
		percentile(all, 50), percentile(all, 99), len(sel), percentile(sel, 99), len(ins), percentile(ins, 99))
	t.Log(report)
	if *loadDuration > 0 {
		fmt.Println(report)
	}

	// Nothing lost: the job's count reaches the acknowledged rows (and
	// not more).
	deadline := time.Now().Add(60 * time.Second)
	var counted, eventsIn int64
	for {
		if err := setup.QueryRow(ctx, "SELECT coalesce(sum(n), 0) FROM log_counts").Scan(&counted); err != nil {
			t.Fatal(err)
		}
		if err := setup.QueryRow(ctx, "SELECT events_in FROM weir_jobs WHERE name = 'count_log'").Scan(&eventsIn); err != nil {
			t.Fatal(err)
		}
		if counted >= acked && eventsIn >= acked || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if counted != acked || eventsIn != acked {
		t.Fatalf("the job counted %d rows (events_in %d); %d INSERTs were acknowledged", counted, eventsIn, acked)
	}
	t.Logf("load: the job counted all %d acknowledged rows", acked)
}

// percentile returns the p-th percentile of ds (0 for none).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i].Round(time.Microsecond)
}
