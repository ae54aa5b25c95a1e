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
)

// kafkaBenchEvents is the number of records BenchmarkKafkaTumble reads.
const kafkaBenchEvents = 400_000

// BenchmarkKafkaTumble measures a Kafka source feeding a TUMBLE count per
// key: JSON records over 4 partitions (10,000 devices, 100,000 records per
// second of event time) are produced to a kfake broker running in its
// own process (so the CPU measured is Weir's, not the broker's) before the
// clock starts; the job reads them, decodes the JSON, counts per device
// and 1-second window into a keyed table and commits, until every
// partition's watermark passes the last window. It reports events per
// CPU-second of the Weir process, events per wall-second and bytes
// allocated per event.
func BenchmarkKafkaTumble(b *testing.B) {
	broker := kafkatest.StartProcess(b)
	const parts = 4
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	endTS := base + int64(kafkaBenchEvents)*10 + 3600*oSec
	var cpu, wall time.Duration
	var alloc uint64
	for i := 0; i < b.N; i++ {
		topic := fmt.Sprintf("bench%d", i)
		broker.CreateTopic(topic, parts)
		batch := make([]*kgo.Record, 0, 10000)
		for n := 0; n < kafkaBenchEvents; n++ {
			v := fmt.Sprintf(`{"device": "d%d", "temp": %d.5, "ts": %q}`, n*7919%10000, n%100, datum.FormatTimestamp(base+int64(n)*10))
			batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(n % parts), Value: []byte(v)})
			if len(batch) == cap(batch) {
				broker.Produce(batch...)
				batch = batch[:0]
			}
		}
		for p := 0; p < parts; p++ {
			batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(p),
				Value: []byte(fmt.Sprintf(`{"device": "end", "ts": %q}`, datum.FormatTimestamp(endTS)))})
		}
		broker.Produce(batch...)

		dir := b.TempDir()
		e, err := Open(Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, BundleSize: benchBundle})
		if err != nil {
			b.Fatal(err)
		}
		s := e.NewSession()
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		c0, w0 := cpuTime(), time.Now()
		ctx := context.Background()
		if _, err := s.Exec(ctx, fmt.Sprintf(`CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', brokers = '%s', topic = '%s', format = 'json');
CREATE TABLE counts (w TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (w, device));
CREATE JOB j AS INSERT INTO counts SELECT window_start, device, count(*) FROM TUMBLE(readings, ts, INTERVAL '1' SECOND)
  GROUP BY window_start, window_end, device;`, broker.Addr(), topic)); err != nil {
			b.Fatal(err)
		}
		if err := e.runningJob("j").WaitWatermark(ctx, endTS-oDelay); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		wall += time.Since(w0)
		runtime.ReadMemStats(&ms1)
		alloc += ms1.TotalAlloc - ms0.TotalAlloc
		if in := e.runningJob("j").Status().EventsIn; in != kafkaBenchEvents+parts {
			b.Fatalf("read %d events, want %d", in, kafkaBenchEvents+parts)
		}
		e.Close()
	}
	total := float64(kafkaBenchEvents) * float64(b.N)
	b.ReportMetric(total/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(total/wall.Seconds(), "events/s")
	b.ReportMetric(float64(alloc)/total, "B/event")
	b.ReportMetric(0, "ns/op")
}
