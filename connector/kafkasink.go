package connector

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// The kafka sink produces with franz-go (kgo), the pure-Go Kafka client
// with full transaction support. A writer is a transactional producer
// whose transactional id is the writer's name, so a restarted writer's
// InitProducerID bumps the epoch, fences its predecessor and aborts the
// predecessor's open transaction. Each Deliver is one Kafka transaction
// holding the entries' records and, through AddOffsetsToTxn and
// TxnOffsetCommit, an offset commit for the consumer group named after the
// writer (topic: the sink's topic, partition 0, offset: the last entry's
// sequence). The records and that commit become visible together, so the
// group's committed offset is exactly the last delivered sequence a
// read_committed consumer can see; a restarted writer fetches it
// (OffsetFetch with require_stable) and skips what it covers.
//
// Records: the value is the row as a JSON object (format 'json', the
// default) or a CSV line (format 'csv'); the key is the row's PRIMARY KEY
// columns in the same format when the sink declares one (no key
// otherwise). A deletion (an updating stream retracting a key) is a
// tombstone: the key with a null value. An updated window row is a new
// record with the same key, so a compacted topic keeps the last pane.
var kafkaSinkOptions = []string{"brokers", "topic", "format"}

type kafkaSink struct {
	cfg     SinkConfig
	brokers []string
	topic   string
	csv     bool
	n       atomic.Int64
}

func openKafkaSink(cfg SinkConfig) (Sink, error) {
	const what = "kafka sink"
	if err := checkOptions(what, cfg.Options, kafkaSinkOptions, nil); err != nil {
		return nil, err
	}
	s := &kafkaSink{cfg: cfg, topic: cfg.Options["topic"]}
	for _, b := range strings.Split(cfg.Options["brokers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.brokers = append(s.brokers, b)
		}
	}
	if len(s.brokers) == 0 {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'brokers' is required ('host:port,...')", what, cfg.Name)
	}
	if s.topic == "" {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'topic' is required", what, cfg.Name)
	}
	switch f := strings.ToLower(cfg.Options["format"]); f {
	case "", "json":
	case "csv":
		s.csv = true
	default:
		return nil, badOption(what, "format", f, "expected 'json' or 'csv'")
	}
	return s, nil
}

func (s *kafkaSink) Write(rows []datum.Row) error {
	return pgerr.New(pgerr.InternalError, "kafka sink %s: rows must be delivered through a writer", s.cfg.Name)
}
func (s *kafkaSink) Count() int64 { return s.n.Load() }
func (s *kafkaSink) Close() error { return nil }

// encode renders a row (or its key columns) as the sink's format, without
// a line end.
func (s *kafkaSink) encode(buf []byte, row datum.Row, cols []int) []byte {
	if cols != nil {
		r := make(datum.Row, len(cols))
		schema := make([]Column, len(cols))
		for i, c := range cols {
			r[i], schema[i] = row[c], s.cfg.Schema[c]
		}
		row = r
		if !s.csv {
			return trimNL(AppendJSONL(buf, row, schema))
		}
	} else if !s.csv {
		return trimNL(AppendJSONL(buf, row, s.cfg.Schema))
	}
	return trimNL(AppendCSV(buf, row, CSVOptions{}))
}

func trimNL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

func (s *kafkaSink) OpenWriter(ctx context.Context, writer string) (SinkWriter, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(s.brokers...),
		kgo.TransactionalID(writer),
		kgo.DefaultProduceTopic(s.topic),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.UnknownTopicRetries(3),
		// A broker that stays away fails the delivery (the executor backs
		// off and retries with a new writer) instead of hanging it.
		kgo.RecordDeliveryTimeout(30*time.Second),
	)
	if err != nil {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "kafka sink %s: %v", s.cfg.Name, err)
	}
	// A missing topic is created with the broker's default partitions and
	// replication, as a broker with auto.create.topics.enable would; an
	// existing one is left alone, and a refusal (policy, permissions)
	// surfaces when producing.
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = s.topic, -1, -1
	create.Topics = append(create.Topics, ct)
	create.TimeoutMillis = 10_000
	_, _ = create.RequestWith(ctx, cl)
	// Initializing the producer id fences an older producer of this
	// transactional id and ends its open transaction.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, Retryf("kafka sink %s: initializing transactional producer %s: %v", s.cfg.Name, writer, err)
	}
	return &kafkaWriter{s: s, cl: cl, writer: writer}, nil
}

type kafkaWriter struct {
	s      *kafkaSink
	cl     *kgo.Client
	writer string
	tid    [16]byte // the topic's id, once known
}

func (w *kafkaWriter) Delivered(ctx context.Context) (uint64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = w.writer
	req.RequireStable = true
	t := kmsg.NewOffsetFetchRequestTopic()
	t.Topic = w.s.topic
	t.Partitions = []int32{0}
	req.Topics = append(req.Topics, t)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = w.writer
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic = w.s.topic
	gt.Partitions = []int32{0}
	rg.Topics = append(rg.Topics, gt)
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, w.cl)
	if err != nil {
		return 0, Retryf("kafka sink %s: fetching progress of %s: %v", w.s.cfg.Name, w.writer, err)
	}
	code, off := resp.ErrorCode, int64(-1)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 && code == 0 {
				code = p.ErrorCode
			}
			off = p.Offset
		}
	}
	for _, g := range resp.Groups {
		if g.ErrorCode != 0 && code == 0 {
			code = g.ErrorCode
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 && code == 0 {
					code = p.ErrorCode
				}
				off = p.Offset
			}
		}
	}
	if code == kerr.GroupIDNotFound.Code {
		return 0, nil // nothing delivered yet
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return 0, Retryf("kafka sink %s: fetching progress of %s: %v", w.s.cfg.Name, w.writer, err)
	}
	if off < 0 {
		return 0, nil
	}
	return uint64(off), nil
}

func (w *kafkaWriter) Deliver(ctx context.Context, entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	s := w.s
	var recs []*kgo.Record
	for ei := range entries {
		e := &entries[ei]
		for i, r := range e.Rows {
			rec := &kgo.Record{Topic: s.topic}
			if len(s.cfg.PrimaryKey) > 0 {
				rec.Key = s.encode(nil, r, s.cfg.PrimaryKey)
			}
			if !e.Deleted(i) {
				rec.Value = s.encode(nil, r, nil)
			}
			recs = append(recs, rec)
		}
	}
	if err := w.cl.BeginTransaction(); err != nil {
		return Retryf("kafka sink %s: begin transaction: %v", s.cfg.Name, err)
	}
	abort := func(step string, err error) error {
		_ = w.cl.AbortBufferedRecords(ctx)
		_ = w.cl.EndTransaction(ctx, kgo.TryAbort)
		return Retryf("kafka sink %s: %s: %v", s.cfg.Name, step, err)
	}
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return abort("produce", err)
	}
	id, epoch, err := w.cl.ProducerID(ctx)
	if err != nil {
		return abort("producer id", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = w.writer, id, epoch, w.writer
	addResp, err := add.RequestWith(ctx, w.cl)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		return abort("AddOffsetsToTxn", err)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = w.writer, w.writer, id, epoch
	commit.Generation = -1
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = s.topic
	if ct.TopicID, err = w.topicID(ctx); err != nil {
		return abort("metadata", err)
	}
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.LeaderEpoch = 0, int64(entries[len(entries)-1].Seq), -1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	commitResp, err := commit.RequestWith(ctx, w.cl)
	if err == nil {
		for _, t := range commitResp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	if err != nil {
		return abort("TxnOffsetCommit", err)
	}
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// The commit's outcome is unknown: the next writer reads the
		// progress back after fencing this one.
		return Retryf("kafka sink %s: commit: %v", s.cfg.Name, err)
	}
	s.n.Add(int64(len(recs)))
	return nil
}

// topicID returns the sink topic's id (TxnOffsetCommit v6 names topics
// by id).
func (w *kafkaWriter) topicID(ctx context.Context) ([16]byte, error) {
	if w.tid != ([16]byte{}) {
		return w.tid, nil
	}
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(w.s.topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, w.cl)
	if err != nil {
		return w.tid, err
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return w.tid, err
		}
		w.tid = rt.TopicID
	}
	return w.tid, nil
}

func (w *kafkaWriter) Close() error {
	w.cl.Close()
	return nil
}
