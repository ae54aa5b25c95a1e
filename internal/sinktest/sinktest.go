// Package sinktest reads what Weir's exactly-once sinks wrote, for tests:
// a Kafka topic through a read_committed consumer (franz-go), a
// PostgreSQL query through pgx, each rendered as sorted text lines that
// compare with an oracle's. It is test support only (imported by _test
// files); it starts nothing: the tests bring their own kfake cluster
// (github.com/twmb/franz-go/pkg/kfake) and PostgreSQL (internal/pgtest).
//
// Rendering: NULL is "NULL", a float is %.6g, a timestamp is
// datum.FormatTimestamp's text, anything else its plain text; columns are
// joined by single spaces.
package sinktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/weir-sql/weir/datum"
)

// endKey marks the sentinel records ReadCommitted appends.
const endKey = "weir-sinktest-end"

// ReadCommitted returns every committed record of topic (all partitions)
// as a read_committed consumer sees it. It first appends one sentinel
// record to each partition and consumes until it has seen all of them, so
// it returns exactly what was committed before the call, with no timing
// guess; the sentinels are left out.
func ReadCommitted(t testing.TB, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	parts := 0
	for {
		req := &kgo.Record{Topic: topic, Key: []byte(endKey), Partition: int32(parts)}
		if err := prod.ProduceSync(ctx, req).FirstErr(); err != nil {
			if parts == 0 {
				t.Fatalf("sinktest: producing the end marker to %s: %v", topic, err)
			}
			break // past the last partition
		}
		parts++
		if parts > 1024 {
			t.Fatal("sinktest: too many partitions")
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out []*kgo.Record
	seen := map[int32]bool{}
	for len(seen) < parts {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("sinktest: reading %s: saw the end of %d of %d partitions before the deadline", topic, len(seen), parts)
		}
		for _, e := range fs.Errors() {
			t.Logf("sinktest: fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == endKey && r.Value == nil {
				seen[r.Partition] = true
				return
			}
			out = append(out, r)
		})
	}
	return out
}

// JSONLines renders JSON object values (the kafka sink's format 'json')
// as lines of the named columns; a tombstone (nil value) renders as
// "DELETE <key>".
func JSONLines(t testing.TB, recs []*kgo.Record, cols []string) []string {
	t.Helper()
	var lines []string
	for _, r := range recs {
		if r.Value == nil {
			lines = append(lines, "DELETE "+string(r.Key))
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("sinktest: record %s/%d@%d is not a JSON object: %v: %q", r.Topic, r.Partition, r.Offset, err, r.Value)
		}
		parts := make([]string, len(cols))
		for i, c := range cols {
			switch v := m[c].(type) {
			case nil:
				parts[i] = "NULL"
			case json.Number:
				if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
					parts[i] = strconv.FormatInt(n, 10)
				} else if f, err := v.Float64(); err == nil {
					parts[i] = fmt.Sprintf("%.6g", f)
				} else {
					parts[i] = string(v)
				}
			case string:
				parts[i] = strings.Replace(v, "T", " ", 1)
			default:
				parts[i] = fmt.Sprint(v)
			}
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	sort.Strings(lines)
	return lines
}

// PGLines runs query on the database at url and renders its rows.
func PGLines(t testing.TB, url, query string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, query)
	if err != nil {
		t.Fatalf("sinktest: %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				parts[i] = "NULL"
			case float64:
				parts[i] = fmt.Sprintf("%.6g", v)
			case float32:
				parts[i] = fmt.Sprintf("%.6g", v)
			case time.Time:
				parts[i] = datum.FormatTimestamp(v.UnixMicro())
			default:
				parts[i] = fmt.Sprint(v)
			}
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

// Exec runs statements on the database at url.
func Exec(t testing.TB, url string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("sinktest: %s: %v", s, err)
		}
	}
}
