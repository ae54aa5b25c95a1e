package kafkatest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func values(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%d/%d=%s", r.Partition, r.Offset, r.Value))
	}
	return out
}

// TestClusterRestartKeepsData: records produced before a Restart are all
// there after it, and an Outage drops requests without losing anything.
func TestClusterRestartKeepsData(t *testing.T) {
	c := Start(t)
	c.CreateTopic("t", 2)
	c.Produce(&kgo.Record{Topic: "t", Partition: 0, Value: []byte("a")}, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("b")})
	end := c.Outage()
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err := cl.Ping(ctx)
	cancel()
	if err == nil {
		t.Fatal("a request succeeded during the outage")
	}
	end()
	c.Restart()
	c.Produce(&kgo.Record{Topic: "t", Partition: 0, Value: []byte("c")})
	vs := values(c.ConsumeAll("t", false))
	sort.Strings(vs)
	if got := fmt.Sprint(vs); got != "[0/0=a 0/1=c 1/0=b]" {
		t.Fatalf("after restart: %s", got)
	}
}

// TestConsumeAllReadCommitted: a read_committed ConsumeAll returns the
// committed transaction's records and not the aborted one's, and ends
// although the partitions end in transaction markers.
func TestConsumeAllReadCommitted(t *testing.T) {
	c := Start(t)
	c.CreateTopic("t", 1)
	cl := c.Client(kgo.TransactionalID("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, r := range c.ConsumeAll("t", true) {
		got = append(got, string(r.Value))
	}
	if fmt.Sprint(got) != "[0 2]" {
		t.Fatalf("read_committed: %v", got)
	}
	if n := len(c.ConsumeAll("t", false)); n != 3 {
		t.Fatalf("read_uncommitted: %d records, want 3", n)
	}
}

// TestProcessKillRestart: a broker process killed with SIGKILL and
// restarted on its data directory has every acknowledged record.
func TestProcessKillRestart(t *testing.T) {
	p := StartProcess(t)
	p.CreateTopic("t", 1)
	for i := 0; i < 3; i++ {
		p.Produce(&kgo.Record{Topic: "t", Value: []byte(fmt.Sprint(i))})
	}
	p.Kill()
	p.Restart()
	p.Produce(&kgo.Record{Topic: "t", Value: []byte("3")})
	if got := fmt.Sprint(values(p.ConsumeAll("t", false))); got != "[0/0=0 0/1=1 0/2=2 0/3=3]" {
		t.Fatalf("after kill and restart: %s", got)
	}
}
