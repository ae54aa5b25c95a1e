package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/natstest"
)

// TestNATSSinkDedup delivers outbox entries to a real nats-server's
// JetStream stream, then replays a random suffix of them through a new
// writer of the same name (a restart after a crash before the outbox
// deletion): the stream holds every row exactly once, in order, because
// each message's Nats-Msg-Id is writer-seq-row.
func TestNATSSinkDedup(t *testing.T) {
	srv := natstest.Start(t)
	srv.CreateStream("OUT", "out.>")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	cfg := connector.SinkConfig{Name: "nout", Connector: "nats", Options: map[string]string{"url": srv.URL, "stream": "OUT", "subject": "out.rows"},
		Schema: []connector.Column{{Name: "k", Type: datum.TypeInt8}, {Name: "v", Type: datum.TypeText}}}
	s, err := connector.OpenSink(cfg, connector.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []connector.OutboxEntry
	want := 0
	for seq := uint64(1); seq <= 20; seq++ {
		e := connector.OutboxEntry{Seq: seq}
		for i := 0; i < 1+rng.Intn(5); i++ {
			e.Rows = append(e.Rows, datum.Row{datum.NewInt(int64(want)), datum.NewString(fmt.Sprintf("row %d", want))})
			want++
		}
		entries = append(entries, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deliver := func(es []connector.OutboxEntry) {
		w, err := s.(connector.ExactlyOnceSink).OpenWriter(ctx, "weir-nout-1-abc")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := w.Deliver(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	cut := rng.Intn(len(entries))
	deliver(entries[:cut+1])
	deliver(entries[rng.Intn(cut+1):]) // the replay overlaps what was delivered
	st, err := srv.JetStream().Stream(ctx, "OUT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(want) {
		t.Fatalf("stream holds %d messages, want %d (each row once)", info.State.Msgs, want)
	}
	for i := 1; i <= want; i++ {
		m, err := st.GetMsg(ctx, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		var row struct {
			K int64  `json:"k"`
			V string `json:"v"`
		}
		if err := json.Unmarshal(m.Data, &row); err != nil || row.K != int64(i-1) {
			t.Fatalf("message %d is %q (%v), want row %d", i, m.Data, err, i-1)
		}
	}
}
