// Package kafkatest starts real Kafka clusters for tests: franz-go's kfake,
// a Kafka broker implemented in Go that speaks the wire protocol (produce,
// fetch, transactions, read_committed, topic admin), reached through a real
// TCP listener on a loopback port with the real kgo client. Nothing here is
// mocked.
//
// Two forms:
//
//   - Start runs the cluster in the test's process (unit and oracle tests).
//     Outage makes the broker refuse every request until it is ended (a
//     kfake control hook: connections are dropped, nothing stored is lost),
//     and Restart closes the cluster and starts it again on the same port
//     from its data directory.
//   - StartProcess runs it as its own OS process (the kfakeserver main
//     package here, built once per test binary with `go build`), for
//     end-to-end tests with real weir processes. Stop (SIGTERM) and Kill
//     (SIGKILL) end it; Restart starts it again on the same port from the
//     same data directory (written with fsync per batch, so a killed
//     broker loses nothing it acknowledged).
//
// Both embed Admin, whose helpers (CreateTopic, AddPartitions, DeleteTopic,
// Produce, ConsumeAll, Client) fail the test on error. Everything started
// is stopped in the test's cleanup.
//
// Concurrency: a Cluster or Process and its Admin are safe for concurrent
// use; Restart, Stop and Kill must not race each other.
package kafkatest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxMessageBytes is the largest record batch the test brokers accept (so
// tests can produce records over a connector's own limit).
const MaxMessageBytes = 8 << 20

// requestTimeout bounds each admin request and produce.
const requestTimeout = 30 * time.Second

// Admin holds test helpers for a cluster at Addr.
type Admin struct {
	t    testing.TB
	addr string
}

// Addr is the broker's host:port (the value of a source's or sink's
// brokers option).
func (a *Admin) Addr() string { return a.addr }

// Client returns a kgo client of the cluster with opts added, closed when
// the test ends.
func (a *Admin) Client(opts ...kgo.Opt) *kgo.Client {
	a.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(a.addr), kgo.DisableClientMetrics(),
		kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(cl.Close)
	return cl
}

func (a *Admin) request(req kmsg.Request) kmsg.Response {
	a.t.Helper()
	cl := a.Client()
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		a.t.Fatalf("kafkatest: %T: %v", req, err)
	}
	return resp
}

// CreateTopic creates topic with the given number of partitions.
func (a *Admin) CreateTopic(topic string, partitions int) {
	a.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, int32(partitions), 1
	req.Topics = append(req.Topics, rt)
	resp := a.request(req).(*kmsg.CreateTopicsResponse)
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			a.t.Fatalf("kafkatest: create topic %q: %v", topic, err)
		}
	}
}

// AddPartitions grows topic to total partitions.
func (a *Admin) AddPartitions(topic string, total int) {
	a.t.Helper()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, int32(total)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(requestTimeout / time.Millisecond)
	resp := a.request(req).(*kmsg.CreatePartitionsResponse)
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			a.t.Fatalf("kafkatest: add partitions to %q: %v", topic, err)
		}
	}
}

// DeleteTopic deletes topic.
func (a *Admin) DeleteTopic(topic string) {
	a.t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.TopicNames = append(req.TopicNames, topic)
	req.TimeoutMillis = int32(requestTimeout / time.Millisecond)
	resp := a.request(req).(*kmsg.DeleteTopicsResponse)
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			a.t.Fatalf("kafkatest: delete topic %q: %v", topic, err)
		}
	}
}

// Partitions returns topic's partition count (0 when it does not exist).
func (a *Admin) Partitions(topic string) int {
	a.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp := a.request(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		return 0
	}
	return len(resp.Topics[0].Partitions)
}

// Produce writes recs (each with its Topic and, when set with a manual
// partitioner, its Partition) and returns once all are acknowledged. A
// record's Partition is kept as given: the client uses a manual
// partitioner.
func (a *Admin) Produce(recs ...*kgo.Record) {
	a.t.Helper()
	if len(recs) == 0 {
		return
	}
	cl := a.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(MaxMessageBytes))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		a.t.Fatalf("kafkatest: produce: %v", err)
	}
}

// ConsumeAll reads every record of topic's partitions from the start up to
// their end now: with committed, a read_committed consumer's view (only
// committed transactions' records, up to the last stable offset). Control
// records are not returned.
func (a *Admin) ConsumeAll(topic string, committed bool) []*kgo.Record {
	a.t.Helper()
	n := a.Partitions(topic)
	if n == 0 {
		return nil
	}
	ends := a.endOffsets(topic, n, committed)
	parts := map[int32]kgo.Offset{}
	want := 0
	for p, e := range ends {
		if e > 0 {
			parts[int32(p)] = kgo.NewOffset().AtStart()
			want++
		}
	}
	if want == 0 {
		return nil
	}
	// Control records (transaction markers) are kept so the position is
	// known exactly: under read_committed the last offset below the end is
	// a committed record or a marker, never an aborted record.
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}), kgo.KeepControlRecords()}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := a.Client(opts...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var out []*kgo.Record
	next := make([]int64, n)
	for {
		done := true
		for p, e := range ends {
			if next[p] < e {
				done = false
			}
		}
		if done {
			return out
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			a.t.Fatalf("kafkatest: consume %q: timed out at %v of %v", topic, next, ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] && !r.Attrs.IsControl() {
				out = append(out, r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
}

func (a *Admin) endOffsets(topic string, n int, committed bool) []int64 {
	a.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := 0; p < n; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = int32(p), -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := a.request(req).(*kmsg.ListOffsetsResponse)
	ends := make([]int64, n)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				a.t.Fatalf("kafkatest: end offsets of %q: %v", topic, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	return ends
}

// Cluster is a kfake cluster running in the test's process.
type Cluster struct {
	Admin
	dir  string
	port int
	opts []kfake.Opt

	mu     sync.Mutex
	c      *kfake.Cluster
	outage atomic.Bool
}

// Start starts a one-broker cluster on a free loopback port with its data
// in a temporary directory; opts are added to kfake's. It is closed when
// the test ends.
func Start(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c := &Cluster{Admin: Admin{t: t}, dir: t.TempDir(), opts: opts}
	if err := c.start(0); err != nil {
		t.Fatal("kafkatest: ", err)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.c != nil {
			c.c.Close()
			c.c = nil
		}
	})
	return c
}

func (c *Cluster) start(port int) error {
	opts := append([]kfake.Opt{kfake.Ports(port), kfake.DataDir(c.dir), kfake.DefaultNumPartitions(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(MaxMessageBytes)})}, c.opts...)
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	addrs := kc.ListenAddrs()
	if len(addrs) != 1 {
		kc.Close()
		return fmt.Errorf("kfake listens on %v", addrs)
	}
	c.mu.Lock()
	c.c = kc
	c.addr = addrs[0]
	fmt.Sscanf(addrs[0][strings.LastIndexByte(addrs[0], ':')+1:], "%d", &c.port)
	c.mu.Unlock()
	// Outage: every request's connection is dropped while c.outage holds.
	kc.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if c.outage.Load() {
			return nil, errors.New("kafkatest: outage"), true
		}
		return nil, nil, false
	})
	return nil
}

// Kfake returns the running kfake cluster (for its Control hooks).
func (c *Cluster) Kfake() *kfake.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

// Outage makes the broker drop every request's connection, as an
// unreachable broker would, until end is called. Nothing stored is lost.
func (c *Cluster) Outage() (end func()) {
	c.outage.Store(true)
	return func() { c.outage.Store(false) }
}

// Restart closes the cluster and starts it again on the same port from its
// data directory (a broker that went away and came back).
func (c *Cluster) Restart() {
	c.t.Helper()
	c.mu.Lock()
	old := c.c
	c.c = nil
	port := c.port
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly
		if err = c.start(port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatal("kafkatest: restart: ", err)
}

// Process is a kfake cluster running as its own OS process.
type Process struct {
	Admin
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// serverBinary builds the kfakeserver program once per test binary.
func serverBinary() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "weir-kfake-")
		if err != nil {
			build.err = err
			return
		}
		bin := filepath.Join(dir, "kfakeserver")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/weir-sql/weir/internal/kafkatest/kfakeserver").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build kfakeserver: %v\n%s", err, out)
			return
		}
		build.bin = bin
	})
	return build.bin, build.err
}

// StartProcess starts a one-broker kfake cluster as a separate process on
// a free loopback port with its data in a temporary directory. It is
// killed when the test ends. A machine without the go command skips the
// test.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("kafkatest: the go command is needed to build the kfake server: ", err)
	}
	bin, err := serverBinary()
	if err != nil {
		t.Fatal("kafkatest: ", err)
	}
	p := &Process{Admin: Admin{t: t}, bin: bin, dir: t.TempDir()}
	if err := p.start(0); err != nil {
		t.Fatal("kafkatest: ", err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

func (p *Process) start(port int) error {
	cmd := exec.Command(p.bin, "-port", fmt.Sprint(port), "-dir", p.dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("kfakeserver did not report its address: %v", sc.Err())
	}
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done, p.addr = cmd, done, addr
	fmt.Sscanf(addr[strings.LastIndexByte(addr, ':')+1:], "%d", &p.port)
	return nil
}

// Pid is the broker process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill ends the broker with SIGKILL and waits for it.
func (p *Process) Kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// Stop ends the broker with SIGTERM (it closes its cluster cleanly) and
// waits for it.
func (p *Process) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p.cmd = nil
}

// Restart starts a stopped or killed broker again on the same port from
// the same data directory (stopping it first if it runs).
func (p *Process) Restart() {
	p.t.Helper()
	p.Stop()
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly
		if err = p.start(p.port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatal("kafkatest: restart: ", err)
}
