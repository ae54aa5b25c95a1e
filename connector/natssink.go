package connector

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// The nats sink publishes to a JetStream stream with the official client
// (nats.go's jetstream API). JetStream has no transactions, so exactly-once
// rests on its deduplication: every message carries the header
// Nats-Msg-Id = "<writer>-<seq>-<row>", which depends only on the outbox
// entry and the row's place in it (both fixed at the bundle's commit), and
// the server drops a message whose id it has seen within the stream's
// duplicate window (2 minutes by default). A replay after a crash re-sends
// only entries not yet deleted from the outbox, i.e. at most the last
// delivery, normally seconds old; a crashed job that stays down for longer
// than the window can duplicate that one delivery. Delivered is therefore
// always 0: the outbox, not the server, says what is left.
//
// The value is the row as JSON (format 'json', the default) or a CSV line;
// a deletion carries the header Weir-Op: delete and the key columns.
var natsSinkOptions = []string{"url", "stream", "subject", "format"}

type natsSink struct {
	cfg     SinkConfig
	url     string
	subject string
	stream  string
	enc     *kafkaSink // the same row encodings as the kafka sink
	n       atomic.Int64
}

func openNATSSink(cfg SinkConfig) (Sink, error) {
	const what = "nats sink"
	if err := checkOptions(what, cfg.Options, natsSinkOptions, nil); err != nil {
		return nil, err
	}
	s := &natsSink{cfg: cfg, url: cfg.Options["url"], subject: cfg.Options["subject"], stream: cfg.Options["stream"]}
	if s.url == "" {
		s.url = nats.DefaultURL
	}
	if s.subject == "" {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'subject' is required", what, cfg.Name)
	}
	s.enc = &kafkaSink{cfg: cfg}
	switch f := strings.ToLower(cfg.Options["format"]); f {
	case "", "json":
	case "csv":
		s.enc.csv = true
	default:
		return nil, badOption(what, "format", f, "expected 'json' or 'csv'")
	}
	return s, nil
}

func (s *natsSink) Write(rows []datum.Row) error {
	return pgerr.New(pgerr.InternalError, "nats sink %s: rows must be delivered through a writer", s.cfg.Name)
}
func (s *natsSink) Count() int64 { return s.n.Load() }
func (s *natsSink) Close() error { return nil }

func (s *natsSink) OpenWriter(ctx context.Context, writer string) (SinkWriter, error) {
	nc, err := nats.Connect(s.url, nats.Name(writer), nats.Timeout(5*time.Second), nats.MaxReconnects(-1))
	if err != nil {
		return nil, Retryf("nats sink %s: connecting to %s: %v", s.cfg.Name, s.url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, Retryf("nats sink %s: %v", s.cfg.Name, err)
	}
	if s.stream != "" {
		if _, err := js.Stream(ctx, s.stream); err != nil {
			nc.Close()
			if err == jetstream.ErrStreamNotFound {
				return nil, pgerr.New(pgerr.UndefinedObject, "nats sink %s: stream %q does not exist", s.cfg.Name, s.stream).
					WithHint("Create it first, e.g. nats stream add %s --subjects '%s'.", s.stream, s.subject)
			}
			return nil, Retryf("nats sink %s: looking up stream %s: %v", s.cfg.Name, s.stream, err)
		}
	}
	return &natsWriter{s: s, nc: nc, js: js, writer: writer}, nil
}

type natsWriter struct {
	s      *natsSink
	nc     *nats.Conn
	js     jetstream.JetStream
	writer string
}

func (w *natsWriter) Delivered(ctx context.Context) (uint64, error) { return 0, nil }

func (w *natsWriter) Deliver(ctx context.Context, entries []OutboxEntry) error {
	s := w.s
	var futs []jetstream.PubAckFuture
	n := 0
	for ei := range entries {
		e := &entries[ei]
		prefix := w.writer + "-" + strconv.FormatUint(e.Seq, 10) + "-"
		for i, r := range e.Rows {
			m := nats.NewMsg(s.subject)
			if e.Deleted(i) {
				m.Header.Set("Weir-Op", "delete")
				m.Data = s.enc.encode(nil, r, s.cfg.PrimaryKey)
			} else {
				m.Data = s.enc.encode(nil, r, nil)
			}
			f, err := w.js.PublishMsgAsync(m, jetstream.WithMsgID(prefix+strconv.Itoa(i)))
			if err != nil {
				return Retryf("nats sink %s: publish: %v", s.cfg.Name, err)
			}
			futs = append(futs, f)
			n++
		}
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return Retryf("nats sink %s: publish: %v", s.cfg.Name, err)
		case <-ctx.Done():
			return Retry(ctx.Err())
		}
	}
	s.n.Add(int64(n))
	return nil
}

func (w *natsWriter) Close() error {
	w.nc.Close()
	return nil
}
