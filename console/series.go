package console

import (
	"context"
	"math"
	"time"
)

// Sample is one point of a job's time series, taken by the sampler.
type Sample struct {
	T          int64    `json:"t"` // processing time, micros since the epoch
	JobID      int64    `json:"job_id"`
	EventsIn   int64    `json:"events_in"`
	EventsOut  int64    `json:"events_out"`
	InRate     float64  `json:"in_rate"`  // events/s since the previous sample
	OutRate    float64  `json:"out_rate"` // events/s since the previous sample
	LagSeconds *float64 `json:"lag_seconds"`
	Backlog    int64    `json:"backlog"`
	Workers    int      `json:"workers"`
}

// ring is a fixed-capacity buffer of a job's samples, oldest first.
type ring struct {
	buf   []Sample
	start int // index of the oldest sample
	n     int
}

func (r *ring) add(s Sample) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

func (r *ring) last() (Sample, bool) {
	if r.n == 0 {
		return Sample{}, false
	}
	return r.buf[(r.start+r.n-1)%len(r.buf)], true
}

// since returns the samples taken after t (micros), oldest first.
func (r *ring) since(t int64) []Sample {
	out := make([]Sample, 0, r.n)
	for i := 0; i < r.n; i++ {
		s := r.buf[(r.start+i)%len(r.buf)]
		if s.T > t {
			out = append(out, s)
		}
	}
	return out
}

// capacity is the number of samples that cover the window.
func (c *Console) capacity() int {
	return int(c.cfg.Window/c.cfg.SampleEvery) + 1
}

// sampleLoop samples every SampleEvery of the injected clock until Close.
func (c *Console) sampleLoop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.cfg.Clock.After(c.cfg.SampleEvery):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.Sample(ctx); err != nil {
			c.cfg.Logf("console: sampling: %v", err)
		}
		cancel()
	}
}

// Sample reads every job's counters and watermark and appends one sample
// to each job name's ring: the newest launch of the name (an update or a
// relaunch continues the same chart). Rates are the counters' change since
// the previous sample of the same launch. Names no longer in weir_jobs
// (dropped jobs) lose their ring. The sampler calls it every SampleEvery;
// tests call it directly.
func (c *Console) Sample(ctx context.Context) error {
	all, err := c.jobs(ctx)
	if err != nil {
		return err
	}
	backlog, err := c.query(ctx, "SELECT job, job_id, sum(backlog) AS b FROM weir_key_ranges WHERE NOT done GROUP BY job, job_id")
	if err != nil {
		return err
	}
	type key struct {
		name string
		id   int64
	}
	bl := map[key]int64{}
	for _, r := range backlog.res.Rows {
		bl[key{backlog.str(r, "job"), backlog.int(r, "job_id")}] = backlog.int(r, "b")
	}
	now := c.now()
	newest := latest(all)
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, j := range newest {
		seen[j.Name] = true
		r := c.mu.rings[j.Name]
		if r == nil {
			r = &ring{buf: make([]Sample, c.capacity())}
			c.mu.rings[j.Name] = r
		}
		s := Sample{T: now, JobID: j.JobID, EventsIn: j.EventsIn, EventsOut: j.EventsOut, LagSeconds: j.LagSeconds,
			Backlog: bl[key{j.Name, j.JobID}], Workers: j.Workers}
		prev, ok := r.last()
		if ok && now <= prev.T {
			continue // sampled at this time already
		}
		if ok && prev.JobID == j.JobID {
			dt := float64(now-prev.T) / 1e6
			s.InRate = math.Max(0, float64(j.EventsIn-prev.EventsIn)/dt)
			s.OutRate = math.Max(0, float64(j.EventsOut-prev.EventsOut)/dt)
		}
		r.add(s)
	}
	for name := range c.mu.rings {
		if !seen[name] {
			delete(c.mu.rings, name)
		}
	}
	return nil
}

// series returns the samples of job name taken after since (micros).
func (c *Console) series(name string, since int64) []Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.mu.rings[name]
	if r == nil {
		return []Sample{}
	}
	return r.since(since)
}
