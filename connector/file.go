package connector

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/weir-sql/weir/pgerr"
)

// fileSource is the bounded 'file' connector: CSV (PostgreSQL COPY CSV with
// a header row) or JSON Lines. Offsets are byte offsets of records' first
// bytes; partitions are byte ranges cut at record starts.
type fileSource struct {
	cfg       SourceConfig
	path      string
	jsonl     bool
	csvOpts   CSVOptions
	colOf     []int // CSV: field position → column (nil: positional)
	dataStart int64 // offset of the first data record
	size      int64

	mu   sync.Mutex
	cuts map[int][]int64 // n → n+1 partition boundaries
}

var fileSourceOptions = []string{"path", "format", "delimiter", "quote", "escape", "null", "header"}

func openFileSource(cfg SourceConfig, env Env) (Source, error) {
	const what = "file source"
	if err := checkOptions(what, cfg.Options, fileSourceOptions, nil); err != nil {
		return nil, err
	}
	path := cfg.Options["path"]
	if path == "" {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'path' is required", what, cfg.Name)
	}
	s := &fileSource{cfg: cfg, path: env.resolve(path), cuts: make(map[int][]int64)}
	switch f := strings.ToLower(cfg.Options["format"]); f {
	case "", "csv":
	case "jsonl", "json", "ndjson":
		s.jsonl = true
	default:
		return nil, badOption(what, "format", f, "expected 'csv' or 'jsonl'")
	}
	csvOpts, header, err := csvOptionsFrom(what, cfg.Options)
	if err != nil {
		return nil, err
	}
	if s.jsonl {
		for _, k := range []string{"delimiter", "quote", "escape", "null", "header"} {
			if _, ok := cfg.Options[k]; ok {
				return nil, pgerr.New(pgerr.SyntaxError, "%s: option %q applies to format 'csv' only", what, k)
			}
		}
	}
	s.csvOpts = csvOpts
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fileErr(err, s.path)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fileErr(err, s.path)
	}
	if st.IsDir() {
		return nil, pgerr.New("58P01", "%q is a directory", s.path)
	}
	s.size = st.Size()
	if !s.jsonl && header {
		opts := csvOpts
		opts.Header, opts.ByName = true, true
		d := newCSVDecoderAt(f, cfg.Schema, opts, 0)
		if err := d.ReadHeader(); err != nil {
			pe := pgerr.Wrap(err)
			out := *pe
			out.Message = "file " + s.path + ": " + pe.Message
			return nil, &out
		}
		s.colOf = d.colOf
		s.dataStart = d.Offset()
	}
	return s, nil
}

// csvOptionsFrom reads the CSV options of a file source or sink.
func csvOptionsFrom(what string, o map[string]string) (CSVOptions, bool, error) {
	opts := CSVOptions{NoEndMarker: true}
	char := func(key string) (byte, error) {
		v, ok := o[key]
		if !ok {
			return 0, nil
		}
		if v == `\t` {
			return '\t', nil
		}
		if len(v) != 1 || v[0] == '\n' || v[0] == '\r' {
			return 0, badOption(what, key, v, "expected a single one-byte character")
		}
		return v[0], nil
	}
	var err error
	if opts.Delimiter, err = char("delimiter"); err != nil {
		return opts, false, err
	}
	if opts.Quote, err = char("quote"); err != nil {
		return opts, false, err
	}
	if opts.Escape, err = char("escape"); err != nil {
		return opts, false, err
	}
	opts.Null = o["null"]
	header := true
	if v, ok := o["header"]; ok {
		switch strings.ToLower(v) {
		case "true", "on", "1", "yes":
		case "false", "off", "0", "no":
			header = false
		default:
			return opts, false, badOption(what, "header", v, "expected true or false")
		}
	}
	d := opts.withDefaults()
	if d.Delimiter == d.Quote {
		return opts, false, pgerr.New(pgerr.InvalidParameterValue, "%s: the delimiter and the quote must differ", what)
	}
	return opts, header, nil
}

func fileErr(err error, path string) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return pgerr.New("58P01", "could not open file %q: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return pgerr.New(pgerr.InsufficientPrivilege, "could not open file %q: permission denied", path)
	}
	return pgerr.New(pgerr.IOError, "could not read file %q: %v", path, err)
}

// minSplitBytes is the smallest partition Partitions plans for.
var minSplitBytes int64 = 1 << 20

func (s *fileSource) Partitions(want int) int {
	if want < 1 {
		want = 1
	}
	max := (s.size - s.dataStart) / minSplitBytes
	if int64(want) > max {
		want = int(max)
	}
	if want < 1 {
		want = 1
	}
	return want
}

func (s *fileSource) Bounded() bool { return true }

// boundaries returns the n+1 boundaries of n partitions: the first record
// start at or after each of n evenly spaced byte positions. The last is -1
// (read to the end).
func (s *fileSource) boundaries(n int) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cuts[n]; ok {
		return c, nil
	}
	cuts := make([]int64, n+1)
	cuts[0] = s.dataStart
	cuts[n] = -1
	if n > 1 {
		nominal := make([]int64, n)
		for k := 1; k < n; k++ {
			nominal[k] = s.dataStart + (s.size-s.dataStart)*int64(k)/int64(n)
		}
		if err := s.findStarts(nominal, cuts); err != nil {
			return nil, err
		}
	}
	s.cuts[n] = cuts
	return cuts, nil
}

// findStarts sets cuts[k] to the first record start >= nominal[k] for k in
// 1..n-1 (the end of the file when none), framing records exactly as the
// decoders do.
func (s *fileSource) findStarts(nominal, cuts []int64) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fileErr(err, s.path)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileErr(err, s.path)
	}
	end := st.Size()
	n := len(nominal)
	if s.jsonl {
		// Lines: the record start at or after p is p itself when the byte
		// before it is a newline, else the byte after the next newline.
		var b [1]byte
		for k := 1; k < n; k++ {
			p := nominal[k]
			if p > s.dataStart {
				if _, err := f.ReadAt(b[:], p-1); err != nil && err != io.EOF {
					return fileErr(err, s.path)
				}
				if b[0] != '\n' {
					p, err = nextLineStart(f, p, end)
					if err != nil {
						return fileErr(err, s.path)
					}
				}
			}
			cuts[k] = p
		}
		return nil
	}
	if _, err := f.Seek(s.dataStart, io.SeekStart); err != nil {
		return fileErr(err, s.path)
	}
	fr := newFramer(f, frameCSV, s.dataStart)
	d := s.csvOpts.withDefaults()
	fr.quote, fr.escape = d.Quote, d.Escape
	k := 1
	for k < n {
		off := fr.pos()
		for k < n && nominal[k] <= off {
			cuts[k] = off
			k++
		}
		if _, _, _, ok := fr.next(); !ok {
			if fr.err != nil {
				return fileErr(fr.err, s.path)
			}
			break
		}
	}
	for ; k < n; k++ {
		cuts[k] = fr.pos()
	}
	return nil
}

// nextLineStart returns the offset after the first newline at or after p
// (end when there is none).
func nextLineStart(f *os.File, p, end int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for p < end {
		n, err := f.ReadAt(buf, p)
		for i := 0; i < n; i++ {
			if buf[i] == '\n' {
				return p + int64(i) + 1, nil
			}
		}
		p += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return end, nil
}

func (s *fileSource) Open(p, n int, from int64) (Reader, error) {
	if n < 1 || p < 0 || p >= n {
		return nil, pgerr.New(pgerr.InternalError, "file source %q: bad partition %d of %d", s.cfg.Name, p, n)
	}
	cuts, err := s.boundaries(n)
	if err != nil {
		return nil, err
	}
	lo, hi := cuts[p], cuts[p+1]
	if from == 0 {
		from = lo
	}
	if from < lo || (hi >= 0 && from > hi) {
		return nil, pgerr.New(pgerr.InternalError, "file source %q: offset %d is outside partition %d of %d [%d, %d)", s.cfg.Name, from, p, n, lo, hi)
	}
	if from, err = s.snap(lo, from); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fileErr(err, s.path)
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		f.Close()
		return nil, fileErr(err, s.path)
	}
	r := &fileReader{f: f, path: s.path}
	if s.jsonl {
		d := newJSONLDecoderAt(f, s.cfg.Schema, from)
		d.f.limit = hi
		r.next, r.errf, r.pos = d.Next, d.Err, d.Offset
	} else {
		d := newCSVDecoderAt(f, s.cfg.Schema, s.csvOpts, from)
		if s.colOf != nil {
			d.setMapping(s.colOf)
		}
		d.f.limit = hi
		r.next, r.errf, r.pos = d.Next, d.Err, d.Offset
	}
	return r, nil
}

// snap moves from to the first record start at or after it, so that both a
// reader's NextOffset and "a record's Offset + 1" resume after that record.
// A record start always follows a newline, and a record's Offset+1 follows
// its first byte, which is a newline only for an empty record (whose next
// record starts right there); so only an offset not preceded by a newline
// needs a scan, from the partition start lo (CSV) or to the line end (JSONL).
func (s *fileSource) snap(lo, from int64) (int64, error) {
	if from <= lo {
		return from, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return 0, fileErr(err, s.path)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], from-1); err != nil {
		if err == io.EOF {
			return from, nil
		}
		return 0, fileErr(err, s.path)
	}
	if b[0] == '\n' {
		return from, nil
	}
	if s.jsonl {
		st, err := f.Stat()
		if err != nil {
			return 0, fileErr(err, s.path)
		}
		p, err := nextLineStart(f, from, st.Size())
		if err != nil {
			return 0, fileErr(err, s.path)
		}
		return p, nil
	}
	if _, err := f.Seek(lo, io.SeekStart); err != nil {
		return 0, fileErr(err, s.path)
	}
	fr := newFramer(f, frameCSV, lo)
	d := s.csvOpts.withDefaults()
	fr.quote, fr.escape = d.Quote, d.Escape
	for fr.pos() < from {
		if _, _, _, ok := fr.next(); !ok {
			if fr.err != nil {
				return 0, fileErr(fr.err, s.path)
			}
			break
		}
	}
	return fr.pos(), nil
}

type fileReader struct {
	f    *os.File
	path string
	next func() (Record, bool)
	errf func() error
	pos  func() int64
	eof  bool
}

func (r *fileReader) Read(buf []Record, max int) ([]Record, bool, error) {
	if r.eof {
		return buf, true, nil
	}
	for i := 0; i < max; i++ {
		rec, ok := r.next()
		if !ok {
			if err := r.errf(); err != nil {
				return buf, false, fileErr(err, r.path)
			}
			r.eof = true
			return buf, true, nil
		}
		buf = append(buf, rec)
	}
	return buf, false, nil
}

func (r *fileReader) Ready() <-chan struct{} { return closedChan }
func (r *fileReader) NextOffset() int64      { return r.pos() }
func (r *fileReader) Close() error           { return r.f.Close() }
