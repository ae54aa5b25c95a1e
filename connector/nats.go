package connector

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weir-sql/weir/pgerr"
)

// The 'nats' source: one JetStream stream, filtered by a subject, as one
// partition whose offsets are the stream's sequence numbers (a record's
// Offset is its stream sequence; NextOffset is one past the last read, and
// 0 means the stream's start). A reader owns a connection (reconnecting
// forever) and an ordered consumer (ephemeral, no acks, started at the
// position: jetstream.OrderedConsumer), and a fetch goroutine that hands
// messages to Read through a bounded buffer, as the Kafka reader does. A
// failing consumer (the server unreachable, the stream deleted) is made
// again after a backoff on the injected Clock, at the fetch position;
// meanwhile Read returns nothing and the job waits.

var natsMeta = map[string]metaKind{"_subject": metaSubject, "_sequence": metaOffset, "_headers": metaHeaders, "_timestamp": metaTimestamp}

var natsSourceOptions = []string{"url", "stream", "subject", "format", "ts_from"}

type natsSource struct {
	cfg     SourceConfig
	clock   Clock
	url     string
	stream  string
	subject string
	format  string
	tsCol   int

	mu     sync.Mutex
	reader *natsReader
}

var _ RawSource = (*natsSource)(nil)

func openNatsSource(cfg SourceConfig, env Env) (Source, error) {
	const what = "nats source"
	if err := checkOptions(what, cfg.Options, natsSourceOptions, nil); err != nil {
		return nil, err
	}
	s := &natsSource{cfg: cfg, clock: env.clock(), url: cfg.Options["url"], stream: cfg.Options["stream"],
		subject: cfg.Options["subject"], format: strings.ToLower(cfg.Options["format"]), tsCol: -1}
	for _, k := range []string{"url", "stream"} {
		if cfg.Options[k] == "" {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option '%s' is required", what, cfg.Name, k)
		}
	}
	switch v := strings.ToLower(cfg.Options["ts_from"]); v {
	case "":
	case "nats_timestamp":
		if cfg.TimeCol < 0 {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: ts_from = 'nats_timestamp' needs an event-time column", what, cfg.Name)
		}
		s.tsCol = cfg.TimeCol
	default:
		return nil, badOption(what, "ts_from", v, "expected 'nats_timestamp'")
	}
	if _, err := s.codec(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *natsSource) what() string { return "nats source \"" + s.cfg.Name + "\"" }

func (s *natsSource) codec() (*msgCodec, error) {
	return newMsgCodec(s.what(), s.cfg.Schema, s.format, natsMeta, s.tsCol)
}

func (s *natsSource) natsErr(err error) error {
	return pgerr.New(connectionFailure, "%s: stream %q at %s: %v", s.what(), s.stream, s.url, err)
}

func (s *natsSource) Partitions(want int) int { return 1 }
func (s *natsSource) Bounded() bool           { return false }

func (s *natsSource) connect() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(s.url, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		return nil, nil, s.natsErr(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, s.natsErr(err)
	}
	return nc, js, nil
}

func (s *natsSource) Open(p, n int, from int64) (Reader, error) {
	if p != 0 {
		return nil, pgerr.New(pgerr.InternalError, "%s has 1 partition, not %d", s.what(), n)
	}
	codec, err := s.codec()
	if err != nil {
		return nil, err
	}
	nc, js, err := s.connect()
	if err != nil {
		return nil, err
	}
	if from < 1 {
		from = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &natsReader{src: s, nc: nc, js: js, codec: codec, pos: from, fetchNext: from, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), buf: newFetchBuffer[natsMsg](kafkaBuffered)}
	s.mu.Lock()
	s.reader = r
	s.mu.Unlock()
	go r.fetch()
	return r, nil
}

// RawAt returns the data of the message at stream sequence offset: from
// the reader's last Read, else from the stream.
func (s *natsSource) RawAt(p, n int, offset int64) ([]byte, error) {
	s.mu.Lock()
	r := s.reader
	s.mu.Unlock()
	if r != nil {
		if v, ok := r.lastValue(offset); ok {
			return v, nil
		}
	}
	nc, js, err := s.connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ctx, cancel := clockContext(context.Background(), s.clock, kafkaRequestTimeout)
	defer cancel()
	st, err := js.Stream(ctx, s.stream)
	if err != nil {
		return nil, s.natsErr(err)
	}
	m, err := st.GetMsg(ctx, uint64(offset))
	if err != nil {
		return nil, s.natsErr(err)
	}
	v := m.Data
	if len(v) > MaxRecordBytes {
		v = v[:maxRawBytes]
	}
	return v, nil
}

type natsMsg struct {
	seq     int64
	subject string
	data    []byte
	headers nats.Header
	ts      int64
}

type natsReader struct {
	src       *natsSource
	nc        *nats.Conn
	js        jetstream.JetStream
	codec     *msgCodec
	pos       int64 // owned by the Read goroutine
	fetchNext int64 // owned by the fetch goroutine

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	buf  *fetchBuffer[natsMsg] // fetched, not yet read; the last Read's messages (RawAt)
	meta msgMeta
}

func (r *natsReader) setErr(err error) { r.buf.setErr(err) }

// fetch is the reader's fetch goroutine: an ordered consumer from the
// fetch position, remade after a backoff when it fails.
func (r *natsReader) fetch() {
	defer close(r.done)
	backoff := kafkaMinBackoff
	wait := func() bool {
		select {
		case <-r.src.clock.After(backoff):
			backoff = min(backoff*2, kafkaMaxBackoff)
			return true
		case <-r.ctx.Done():
			return false
		}
	}
	for r.ctx.Err() == nil {
		cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: uint64(r.fetchNext)}
		if r.src.subject != "" {
			cfg.FilterSubjects = []string{r.src.subject}
		}
		cons, err := r.js.OrderedConsumer(r.ctx, r.src.stream, cfg)
		if err != nil {
			r.setErr(err)
			if !wait() {
				return
			}
			continue
		}
		it, err := cons.Messages()
		if err != nil {
			r.setErr(err)
			if !wait() {
				return
			}
			continue
		}
		for {
			m, err := it.Next(jetstream.NextContext(r.ctx))
			if err != nil {
				it.Stop()
				if r.ctx.Err() != nil {
					return
				}
				r.setErr(err)
				break
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			seq := int64(md.Sequence.Stream)
			if seq < r.fetchNext {
				continue
			}
			backoff = kafkaMinBackoff
			r.fetchNext = seq + 1
			if !r.buf.push(r.ctx, natsMsg{seq: seq, subject: m.Subject(), data: m.Data(), headers: m.Headers(), ts: md.Timestamp.UnixMicro()}) {
				it.Stop()
				return
			}
		}
		if !wait() {
			return
		}
	}
}

func (r *natsReader) Read(buf []Record, max int) ([]Record, bool, error) {
	if max <= 0 {
		return buf, false, nil
	}
	m := &r.meta
	for _, msg := range r.buf.take(max) {
		if msg.seq < r.pos {
			continue
		}
		m.subject, m.offset, m.timestamp = msg.subject, msg.seq, msg.ts
		m.headers = m.headers[:0]
		for k, vs := range msg.headers {
			for _, v := range vs {
				m.headers = append(m.headers, msgHeader{key: k, value: []byte(v)})
			}
		}
		buf = append(buf, r.codec.decode(msg.data, m, msg.seq))
		r.pos = msg.seq + 1
	}
	return buf, false, nil
}

func (r *natsReader) lastValue(offset int64) ([]byte, bool) {
	return r.buf.lastValue(offset, func(m natsMsg) (int64, []byte) { return m.seq, m.data })
}

func (r *natsReader) Ready() <-chan struct{} { return r.buf.readyChan() }

func (r *natsReader) NextOffset() int64 { return r.pos }

// FetchErr returns the consumer's last error (nil after a message).
func (r *natsReader) FetchErr() error { return r.buf.err() }

func (r *natsReader) Close() error {
	r.cancel()
	<-r.done
	r.nc.Close()
	r.src.mu.Lock()
	if r.src.reader == r {
		r.src.reader = nil
	}
	r.src.mu.Unlock()
	return nil
}
