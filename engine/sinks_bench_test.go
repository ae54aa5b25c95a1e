package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
	"github.com/weir-sql/weir/internal/pgtest"
	"github.com/weir-sql/weir/internal/sinktest"
)

const sinkBenchEvents = 200_000

// benchKafkaToSink measures a job reading a 4-partition Kafka topic
// (kfake, in this process: its CPU is counted too, so the figures are
// conservative), TUMBLE count per key, into an exactly-once sink: events
// per CPU-second of the process, wall-clock events/s, and bytes allocated
// per event, from the job's start until every window is delivered.
func benchKafkaToSink(b *testing.B, sinkDDL func(b *testing.B, c *kafkatest.Cluster) string) {
	c := kafkatest.Start(b)
	c.CreateTopic("ev", 4)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	var recs []*kgo.Record
	for i := 0; i < sinkBenchEvents; i++ {
		ts := base + int64(i)*1000
		recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(i % 4),
			Value: []byte(fmt.Sprintf(`{"device": "d%d", "ts": %q}`, i%1000, datum.FormatTimestamp(ts)))})
	}
	endTS := base + int64(sinkBenchEvents)*1000 + 3600*oSec
	for p := 0; p < 4; p++ {
		recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(p),
			Value: []byte(fmt.Sprintf(`{"device": "zz_end", "ts": %q}`, datum.FormatTimestamp(endTS)))})
	}
	for i := 0; i < len(recs); i += 10_000 {
		c.Produce(recs[i:min(i+10_000, len(recs))]...)
	}
	var cpu, wall time.Duration
	var alloc uint64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		e, err := Open(Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, BundleSize: benchBundle})
		if err != nil {
			b.Fatal(err)
		}
		script := fmt.Sprintf(`CREATE SOURCE ev (device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', brokers = '%s', topic = 'ev', format = 'json');
`, c.Addr()) + sinkDDL(b, c) + `CREATE JOB bench AS INSERT INTO out SELECT window_start, device, count(*)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;
`
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		c0, w0 := cpuTime(), time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if _, err := e.NewSession().Exec(ctx, script); err != nil {
			b.Fatal(err)
		}
		rj := e.runningJob("bench")
		if err := rj.WaitWatermark(ctx, endTS-oDelay); err != nil {
			b.Fatal(err)
		}
		if ok, err := rj.WaitFor(ctx, func() bool { return rj.OutboxRows() == 0 }); !ok || err != nil {
			b.Fatalf("outbox not delivered: %v", err)
		}
		cancel()
		cpu += cpuTime() - c0
		wall += time.Since(w0)
		runtime.ReadMemStats(&ms1)
		alloc += ms1.TotalAlloc - ms0.TotalAlloc
		e.Close()
	}
	total := float64(sinkBenchEvents) * float64(b.N)
	b.ReportMetric(total/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(total/wall.Seconds(), "events/s")
	b.ReportMetric(float64(alloc)/total, "B/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkKafkaTumbleToKafka: Kafka → TUMBLE count per key → Kafka
// (transactional sink).
func BenchmarkKafkaTumbleToKafka(b *testing.B) {
	n := 0
	benchKafkaToSink(b, func(b *testing.B, c *kafkatest.Cluster) string {
		n++
		topic := fmt.Sprintf("out%d", n)
		c.CreateTopic(topic, 4)
		return fmt.Sprintf(`CREATE SINK out (window_start TIMESTAMP NOT NULL, device VARCHAR NOT NULL, n BIGINT, PRIMARY KEY (window_start, device))
  WITH (connector = 'kafka', brokers = '%s', topic = '%s');
`, c.Addr(), topic)
	})
}

// BenchmarkKafkaTumbleToPostgres: Kafka → TUMBLE count per key →
// PostgreSQL (upsert by key, progress in the same transaction).
func BenchmarkKafkaTumbleToPostgres(b *testing.B) {
	pg := pgtest.Start(b)
	n := 0
	benchKafkaToSink(b, func(b *testing.B, c *kafkatest.Cluster) string {
		n++
		table := fmt.Sprintf("out%d", n)
		sinktest.Exec(b, pg.URL, fmt.Sprintf("CREATE TABLE %s (window_start timestamp, device text, n bigint, PRIMARY KEY (window_start, device))", table))
		return fmt.Sprintf(`CREATE SINK out (window_start TIMESTAMP NOT NULL, device VARCHAR NOT NULL, n BIGINT, PRIMARY KEY (window_start, device))
  WITH (connector = 'postgres', url = '%s', table = '%s');
`, pg.URL, table)
	})
}
