package connector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weir-sql/weir/pgerr"
)

// The 'kafka' source (franz-go's kgo client).
//
// Partition p of the source is Kafka partition p of the topic; a record's
// Offset is its Kafka offset. There is no consumer group: the executor
// commits each partition's position (one past the last record read) with
// the bundle, and a reader opened at a position consumes the partition
// directly from there (kgo.ConsumePartitions). A position below the
// partition's log start (records removed by retention) reads from the log
// start. Records are read with read_committed isolation by default, so a
// transactional producer's aborted records are never seen.
//
// Each reader owns a kgo client and one fetch goroutine, which polls and
// hands the fetched records over to Read through a bounded buffer (Read
// never blocks; Ready is closed by the fetch goroutine when records
// arrive). Records are decoded in Read, on the executor's goroutine. A
// failing fetch (the topic deleted, the partition unknown, the broker
// unreachable: kgo retries the connection itself) makes the fetch
// goroutine wait with a growing backoff on the injected Clock; meanwhile
// Read returns nothing, so the job waits and resumes where it was. Records
// between the committed position and the failure are re-read, never
// skipped: the position moves only with records read.
//
// Partitions added to the topic while a job runs are found by
// WaitPartitions (a metadata request every discovery_interval of the
// injected clock); the executor opens them from their first record.
// start = 'latest' is resolved by StartOffset once, at the job's first
// start, to the partition's end (the last stable offset under
// read_committed); the executor persists it.

// connectionFailure is PostgreSQL's SQLSTATE connection_failure, for a
// broker or server a source cannot reach.
const connectionFailure = "08006"

// kafkaMeta are the column names a Kafka source fills from the
// record rather than its value.
var kafkaMeta = map[string]metaKind{"_key": metaKey, "_partition": metaPartition, "_offset": metaOffset,
	"_headers": metaHeaders, "_timestamp": metaTimestamp}

var kafkaSourceOptions = []string{"brokers", "topic", "format", "start", "ts_from", "isolation", "discovery_interval"}

// Backoff bounds of a reader whose fetches fail.
const (
	kafkaMinBackoff = 100 * time.Millisecond
	kafkaMaxBackoff = 5 * time.Second
	// kafkaBuffered is how many fetched records a reader holds before its
	// fetch goroutine waits for Read to take some.
	kafkaBuffered = 20000
	// kafkaRequestTimeout bounds the metadata and offset requests of
	// Partitions, StartOffset, WaitPartitions and RawAt.
	kafkaRequestTimeout = 15 * time.Second
)

type kafkaSource struct {
	cfg       SourceConfig
	clock     Clock
	brokers   []string
	topic     string
	format    string
	latest    bool
	committed bool // read_committed
	tsCol     int  // event time from the Kafka timestamp (-1: from the value)
	discovery time.Duration

	mu      sync.Mutex
	admin   *kgo.Client // metadata and offsets requests (lazily made)
	readers map[int32]*kafkaReader
}

var (
	_ RawSource                  = (*kafkaSource)(nil)
	_ StartingSource             = (*kafkaSource)(nil)
	_ PartitionWatcher           = (*kafkaSource)(nil)
	_ BacklogReader              = (*kafkaReader)(nil)
	_ interface{ Close() error } = (*kafkaSource)(nil)
)

func openKafkaSource(cfg SourceConfig, env Env) (Source, error) {
	const what = "kafka source"
	if err := checkOptions(what, cfg.Options, kafkaSourceOptions, nil); err != nil {
		return nil, err
	}
	s := &kafkaSource{cfg: cfg, clock: env.clock(), tsCol: -1, committed: true, discovery: 10 * time.Second,
		readers: make(map[int32]*kafkaReader)}
	for _, b := range strings.Split(cfg.Options["brokers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.brokers = append(s.brokers, b)
		}
	}
	if len(s.brokers) == 0 {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'brokers' is required", what, cfg.Name).
			WithHint("brokers = 'host:port[,host:port...]'")
	}
	s.topic = cfg.Options["topic"]
	if s.topic == "" {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'topic' is required", what, cfg.Name)
	}
	s.format = strings.ToLower(cfg.Options["format"])
	switch v := strings.ToLower(cfg.Options["start"]); v {
	case "", "earliest":
	case "latest":
		s.latest = true
	default:
		return nil, badOption(what, "start", v, "expected 'earliest' or 'latest'")
	}
	switch v := strings.ToLower(cfg.Options["isolation"]); v {
	case "", "read_committed":
	case "read_uncommitted":
		s.committed = false
	default:
		return nil, badOption(what, "isolation", v, "expected 'read_committed' or 'read_uncommitted'")
	}
	switch v := strings.ToLower(cfg.Options["ts_from"]); v {
	case "":
	case "kafka_timestamp":
		if cfg.TimeCol < 0 {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: ts_from = 'kafka_timestamp' needs an event-time column", what, cfg.Name).
				WithHint("Declare WATERMARK FOR a TIMESTAMP column; it takes the record's Kafka timestamp.")
		}
		s.tsCol = cfg.TimeCol
	default:
		return nil, badOption(what, "ts_from", v, "expected 'kafka_timestamp'")
	}
	if us, ok, err := optInterval(what, cfg.Options, "discovery_interval"); err != nil {
		return nil, err
	} else if ok {
		if us < 1000 {
			return nil, badOption(what, "discovery_interval", cfg.Options["discovery_interval"], "must be at least 1 millisecond")
		}
		s.discovery = time.Duration(us) * time.Microsecond
	}
	// Validate the schema and format now (CREATE SOURCE reports errors).
	if _, err := s.codec(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *kafkaSource) what() string { return "kafka source \"" + s.cfg.Name + "\"" }

func (s *kafkaSource) codec() (*msgCodec, error) {
	return newMsgCodec(s.what(), s.cfg.Schema, s.format, kafkaMeta, s.tsCol)
}

func (s *kafkaSource) clientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(s.brokers...),
		kgo.DisableClientMetrics(),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(kafkaMaxBackoff, kafkaMinBackoff<<min(tries, 6))
		}),
	}
}

// adminClient returns the source's client for metadata and offset
// requests.
func (s *kafkaSource) adminClient() (*kgo.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		cl, err := kgo.NewClient(s.clientOpts()...)
		if err != nil {
			return nil, s.kafkaErr(err)
		}
		s.admin = cl
	}
	return s.admin, nil
}

// Close releases the source's admin client (open readers keep theirs).
func (s *kafkaSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	return nil
}

func (s *kafkaSource) kafkaErr(err error) error {
	return pgerr.New(connectionFailure, "%s: topic %q at %s: %v", s.what(), s.topic, strings.Join(s.brokers, ","), err)
}

// clockContext returns a context canceled after d of the injected clock
// (or with parent).
func clockContext(parent context.Context, clock Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	t := clock.After(d)
	go func() {
		select {
		case <-t:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// partitionCount asks the cluster how many partitions the topic has.
func (s *kafkaSource) partitionCount(ctx context.Context) (int, error) {
	cl, err := s.adminClient()
	if err != nil {
		return 0, err
	}
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(s.topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 {
		return 0, errors.New("metadata response without the topic")
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return 0, err
	}
	return len(resp.Topics[0].Partitions), nil
}

// Partitions is the topic's partition count now; a topic that cannot be
// described yet (missing, broker unreachable) counts as one partition, and
// the others are picked up by WaitPartitions once it can.
func (s *kafkaSource) Partitions(want int) int {
	ctx, cancel := clockContext(context.Background(), s.clock, kafkaRequestTimeout)
	defer cancel()
	n, err := s.partitionCount(ctx)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// WaitPartitions returns the topic's partition count once it exceeds have,
// asking every discovery_interval; it returns ctx's error when ctx is done.
func (s *kafkaSource) WaitPartitions(ctx context.Context, have int) (int, error) {
	for {
		rctx, cancel := clockContext(ctx, s.clock, kafkaRequestTimeout)
		n, err := s.partitionCount(rctx)
		cancel()
		if err == nil && n > have {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return have, ctx.Err()
		case <-s.clock.After(s.discovery):
		}
	}
}

func (s *kafkaSource) Bounded() bool { return false }

// StartOffset is where partition p starts when a job first reads it: 0
// (the log start; an offset below it reads from there) or, with start =
// 'latest', the partition's end now.
func (s *kafkaSource) StartOffset(p, n int) (int64, error) {
	if !s.latest {
		return 0, nil
	}
	cl, err := s.adminClient()
	if err != nil {
		return 0, err
	}
	ctx, cancel := clockContext(context.Background(), s.clock, kafkaRequestTimeout)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	if s.committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = s.topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = int32(p)
	rp.Timestamp = -1 // the end
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, s.kafkaErr(err)
	}
	for _, t := range resp.Topics {
		for _, pp := range t.Partitions {
			if pp.Partition != int32(p) {
				continue
			}
			if err := kerr.ErrorForCode(pp.ErrorCode); err != nil {
				return 0, s.kafkaErr(err)
			}
			return pp.Offset, nil
		}
	}
	return 0, s.kafkaErr(errors.New("no offset for partition in the ListOffsets response"))
}

func (s *kafkaSource) Open(p, n int, from int64) (Reader, error) {
	if p < 0 {
		return nil, pgerr.New(pgerr.InternalError, "%s: bad partition %d", s.what(), p)
	}
	codec, err := s.codec()
	if err != nil {
		return nil, err
	}
	if from < 0 {
		from = 0
	}
	cl, err := s.consumer(int32(p), from)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &kafkaReader{src: s, p: int32(p), cl: cl, codec: codec, pos: from, fetchNext: from, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), buf: newFetchBuffer[*kgo.Record](kafkaBuffered)}
	r.hwm.Store(-1)
	s.mu.Lock()
	s.readers[int32(p)] = r
	s.mu.Unlock()
	go r.fetch()
	return r, nil
}

// consumer returns a client consuming partition p from offset from.
func (s *kafkaSource) consumer(p int32, from int64) (*kgo.Client, error) {
	opts := append(s.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {p: kgo.NewOffset().At(from)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second),
		kgo.FetchMaxPartitionBytes(4<<20),
		// Surface a deleted topic at once (kgo would retry it quietly);
		// the fetch goroutine backs off on any error.
		kgo.KeepRetryableFetchErrors(),
	)
	if s.committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, s.kafkaErr(err)
	}
	return cl, nil
}

// RawAt returns the value of the record at offset of partition p: from the
// reader's last Read when it holds it (the usual case: the executor asks
// while processing that batch), else fetched from the cluster.
func (s *kafkaSource) RawAt(p, n int, offset int64) ([]byte, error) {
	s.mu.Lock()
	r := s.readers[int32(p)]
	s.mu.Unlock()
	if r != nil {
		if v, ok := r.lastValue(offset); ok {
			return v, nil
		}
	}
	cl, err := kgo.NewClient(append(s.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {int32(p): kgo.NewOffset().At(offset)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()))...)
	if err != nil {
		return nil, s.kafkaErr(err)
	}
	defer cl.Close()
	ctx, cancel := clockContext(context.Background(), s.clock, kafkaRequestTimeout)
	defer cancel()
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 1)
		var v []byte
		found := false
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset == offset && !found {
				v, found = rec.Value, true
			}
		})
		if found {
			if len(v) > MaxRecordBytes {
				v = v[:maxRawBytes]
			}
			return v, nil
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return nil, s.kafkaErr(err)
		}
	}
	return nil, s.kafkaErr(errors.New("timed out fetching the record"))
}

func (s *kafkaSource) forget(r *kafkaReader) {
	s.mu.Lock()
	if s.readers[r.p] == r {
		delete(s.readers, r.p)
	}
	s.mu.Unlock()
}

// kafkaReader reads one partition (see the file comment).
type kafkaReader struct {
	src   *kafkaSource
	p     int32
	cl    *kgo.Client // owned by the fetch goroutine until it ends
	codec *msgCodec
	pos   int64 // next offset (owned by the Read goroutine)
	// fetchNext is one past the last record fetched (owned by the fetch
	// goroutine).
	fetchNext int64

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	hwm    atomic.Int64 // the partition's high watermark (or last stable offset) at the last fetch

	buf  *fetchBuffer[*kgo.Record] // fetched, not yet read; the last Read's records (RawAt)
	meta msgMeta
}

// fetch is the reader's fetch goroutine.
func (r *kafkaReader) fetch() {
	defer close(r.done)
	backoff := kafkaMinBackoff
	for {
		fs := r.cl.PollRecords(r.ctx, 5000)
		if r.ctx.Err() != nil {
			return
		}
		var recs []*kgo.Record
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Err == nil {
				recs = append(recs, fp.Records...)
				hw := fp.HighWatermark
				if r.src.committed && fp.LastStableOffset >= 0 {
					hw = fp.LastStableOffset
				}
				r.hwm.Store(hw)
			}
		})
		if len(recs) == 0 {
			if ferr != nil {
				r.buf.setErr(ferr)
				if errors.Is(ferr, kerr.UnknownTopicID) || errors.Is(ferr, kerr.UnknownTopicOrPartition) {
					// The topic was deleted (and may come back under a
					// new id, which this client would never learn): a
					// fresh client resumes at the fetch position.
					if cl, err := r.src.consumer(r.p, r.fetchNext); err == nil {
						r.cl.Close()
						r.cl = cl
					}
				}
			} else {
				backoff = kafkaMinBackoff // nothing yet: poll again soon
			}
			select {
			case <-r.src.clock.After(backoff):
			case <-r.ctx.Done():
				return
			}
			backoff = min(backoff*2, kafkaMaxBackoff)
			continue
		}
		backoff = kafkaMinBackoff
		r.fetchNext = recs[len(recs)-1].Offset + 1
		if !r.buf.push(r.ctx, recs...) {
			return
		}
	}
}

func (r *kafkaReader) Read(buf []Record, max int) ([]Record, bool, error) {
	if max <= 0 {
		return buf, false, nil
	}
	m := &r.meta
	for _, rec := range r.buf.take(max) {
		if rec.Offset < r.pos {
			continue // below the position (a re-fetch)
		}
		m.key, m.partition, m.offset, m.timestamp = rec.Key, int64(rec.Partition), rec.Offset, rec.Timestamp.UnixMicro()
		m.headers = m.headers[:0]
		for _, h := range rec.Headers {
			m.headers = append(m.headers, msgHeader{key: h.Key, value: h.Value})
		}
		buf = append(buf, r.codec.decode(rec.Value, m, rec.Offset))
		r.pos = rec.Offset + 1
	}
	return buf, false, nil
}

// lastValue returns the value of the record at offset if the last Read
// returned it.
func (r *kafkaReader) lastValue(offset int64) ([]byte, bool) {
	return r.buf.lastValue(offset, func(rec *kgo.Record) (int64, []byte) { return rec.Offset, rec.Value })
}

func (r *kafkaReader) Ready() <-chan struct{} { return r.buf.readyChan() }

func (r *kafkaReader) NextOffset() int64 { return r.pos }

// Backlog is the records between the position and the partition's end at
// the last fetch.
func (r *kafkaReader) Backlog() int64 {
	if hw := r.hwm.Load(); hw > r.pos {
		return hw - r.pos
	}
	return 0
}

// FetchErr returns the error of the reader's last fetch (nil after a
// successful one): the topic deleted, the broker unreachable.
func (r *kafkaReader) FetchErr() error { return r.buf.err() }

func (r *kafkaReader) Close() error {
	r.cancel()
	<-r.done
	r.cl.Close()
	r.src.forget(r)
	return nil
}
