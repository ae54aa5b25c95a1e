package console

import (
	"context"
	"net/http/httptest"
	"testing"
)

// What one poll of the job page and one Prometheus scrape cost the server,
// for a running windowed job with a few hundred rows in flight and out:
// the page polls once a second, the sampler reads the job list every 2 s.
//
//	go test -run '^$' -bench . -benchmem ./console/
func BenchmarkPoll(b *testing.B) {
	g := &readings{rng: newRand(1)}
	r := newRig(b, Config{})
	r.exec(setupSQL)
	r.exec(insertSQL(g.next(500)))
	r.waitWatermark(g.watermark())
	h := r.c.Handler()
	for _, c := range []struct{ name, path string }{
		{"job_page", "/api/jobs/per_minute_job?since=0"},
		{"job_page_with_tables", "/api/jobs/per_minute_job?tables=1"},
		{"job_list", "/api/jobs"},
		{"metrics", "/metrics"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
				if w.Code != 200 {
					b.Fatalf("%s: %d %s", c.path, w.Code, w.Body)
				}
			}
		})
	}
	b.Run("sample", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := r.c.Sample(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
