package connector

import (
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// blackhole discards rows and counts them.
type blackhole struct{ n atomic.Int64 }

func (b *blackhole) Write(rows []datum.Row) error { b.n.Add(int64(len(rows))); return nil }
func (b *blackhole) Count() int64                 { return b.n.Load() }
func (b *blackhole) Close() error                 { return nil }

// writerSink formats rows into a buffer and writes each call's rows with one
// Write. Safe for concurrent use.
type writerSink struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	sync   func() error
	format func(buf []byte, r datum.Row) []byte
	buf    []byte
	n      atomic.Int64
	closed bool
}

func (s *writerSink) Write(rows []datum.Row) error {
	if len(rows) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return pgerr.New(pgerr.ObjectNotInPrerequisiteState, "sink is closed")
	}
	buf := s.buf[:0]
	for _, r := range rows {
		buf = s.format(buf, r)
	}
	s.buf = buf
	if len(buf) > 1<<20 {
		s.buf = nil // do not keep a huge buffer around
	}
	if _, err := s.w.Write(buf); err != nil {
		return pgerr.New(pgerr.IOError, "sink write: %v", err)
	}
	s.n.Add(int64(len(rows)))
	return nil
}

func (s *writerSink) Count() int64 { return s.n.Load() }

func (s *writerSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.sync != nil {
		err = s.sync()
	}
	if s.closer != nil {
		if cerr := s.closer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return pgerr.New(pgerr.IOError, "sink close: %v", err)
	}
	return nil
}

// newStdoutSink writes rows to env.Stdout in PostgreSQL's COPY text format:
// tab-separated, \N for NULL, one line per row.
func newStdoutSink(env Env) (Sink, error) {
	w := env.Stdout
	if w == nil {
		w = os.Stdout
	}
	return &writerSink{w: w, format: AppendCopyText}, nil
}

// openFileSink appends rows to a file as CSV (with a header line when the
// file is new or empty) or JSON Lines.
func openFileSink(cfg SinkConfig, env Env) (Sink, error) {
	const what = "file sink"
	if err := checkOptions(what, cfg.Options, fileSourceOptions, nil); err != nil {
		return nil, err
	}
	path := cfg.Options["path"]
	if path == "" {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'path' is required", what, cfg.Name)
	}
	path = env.resolve(path)
	jsonl := false
	switch f := strings.ToLower(cfg.Options["format"]); f {
	case "", "csv":
	case "jsonl", "json", "ndjson":
		jsonl = true
	default:
		return nil, badOption(what, "format", f, "expected 'csv' or 'jsonl'")
	}
	opts, header, err := csvOptionsFrom(what, cfg.Options)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fileErr(err, path)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileErr(err, path)
	}
	s := &writerSink{w: f, closer: f, sync: f.Sync}
	schema := cfg.Schema
	if jsonl {
		s.format = func(buf []byte, r datum.Row) []byte { return AppendJSONL(buf, r, schema) }
	} else {
		s.format = func(buf []byte, r datum.Row) []byte { return AppendCSV(buf, r, opts) }
		if header && st.Size() == 0 {
			if _, err := f.Write(AppendCSVHeader(nil, schema, opts)); err != nil {
				f.Close()
				return nil, fileErr(err, path)
			}
		}
	}
	return s, nil
}
