package connector

import (
	"errors"
	"io"
	"io/fs"
	"math"
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

	// rawF is the handle RawAt reads through (opened on first use, kept
	// for the source's lifetime; ReadAt is safe for concurrent use).
	rawMu sync.Mutex
	rawF  *os.File
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
	return s.openReader(from, hi)
}

// openReader opens a reader at from, a record start, that stops before the
// first record starting at or after limit (<0: read to the end of the file).
func (s *fileSource) openReader(from, limit int64) (Reader, error) {
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
		d.f.limit = limit
		r.next, r.errf, r.pos, r.slab = d.Next, d.Err, d.Offset, &d.slab
	} else {
		d := newCSVDecoderAt(f, s.cfg.Schema, s.csvOpts, from)
		if s.colOf != nil {
			d.setMapping(s.colOf)
		}
		d.f.limit = limit
		r.next, r.errf, r.pos, r.slab = d.Next, d.Err, d.Offset, &d.slab
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

// MinSplitRangeBytes is the smallest byte range a file source's SplitPoint
// cuts: splitting less costs more (a file open, a scan) than reading it.
const MinSplitRangeBytes = 4 << 10

// minSplitRangeBytes is MinSplitRangeBytes; tests lower it.
var minSplitRangeBytes int64 = MinSplitRangeBytes

// partitionRange validates p of n and returns the partition's cuts lo and
// hi (hi < 0: the end of the file) and its extent's end.
func (s *fileSource) partitionRange(p, n int) (lo, hi, end int64, err error) {
	if n < 1 || p < 0 || p >= n {
		return 0, 0, 0, pgerr.New(pgerr.InternalError, "file source %q: bad partition %d of %d", s.cfg.Name, p, n)
	}
	cuts, err := s.boundaries(n)
	if err != nil {
		return 0, 0, 0, err
	}
	lo, hi = cuts[p], cuts[p+1]
	end = hi
	if hi < 0 {
		end = s.size
	}
	if end < lo {
		end = lo
	}
	return lo, hi, end, nil
}

// Extent returns the byte range of partition p of n: from its first
// record's start to the next partition's (the file's size, as it was when
// the source was opened, for the last).
func (s *fileSource) Extent(p, n int) (start, end int64, err error) {
	lo, _, end, err := s.partitionRange(p, n)
	return lo, end, err
}

// checkRange validates a range [from, end) of partition p of n and returns
// from (0 is the partition start) moved to a record start.
func (s *fileSource) checkRange(p, n int, from, end int64) (int64, error) {
	lo, _, ext, err := s.partitionRange(p, n)
	if err != nil {
		return 0, err
	}
	if from == 0 {
		from = lo
	}
	if from < lo || from > end || end > ext {
		return 0, pgerr.New(pgerr.InternalError, "file source %q: range [%d, %d) is outside partition %d of %d [%d, %d)", s.cfg.Name, from, end, p, n, lo, ext)
	}
	return s.snap(lo, from)
}

// OpenRange opens a reader of the records starting in [from, end).
func (s *fileSource) OpenRange(p, n int, from, end int64) (Reader, error) {
	from, err := s.checkRange(p, n, from, end)
	if err != nil {
		return nil, err
	}
	if from > end { // snapped past end: nothing starts in the range
		from = end
	}
	return s.openReader(from, end)
}

// SplitPoint returns the record start nearest after the middle of
// [from, end) (or, when the record holding the middle runs to end, the last
// record start before it). Records are framed exactly as readers frame
// them, from a known record start: for CSV from from itself, since a
// newline inside quotes does not start a record and only a scan from a
// record start tells them apart; for JSON Lines from the line start after
// the middle, since every line start is a frame start (blank lines, which
// readers skip, are skipped here too). Ranges under MinSplitRangeBytes or
// holding fewer than two records do not split.
func (s *fileSource) SplitPoint(p, n int, from, end int64) (mid int64, ok bool, err error) {
	if from, err = s.checkRange(p, n, from, end); err != nil {
		return 0, false, err
	}
	if end-from < 2 || end-from < minSplitRangeBytes {
		return 0, false, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return 0, false, fileErr(err, s.path)
	}
	defer f.Close()
	nominal := from + (end-from)/2
	mid = -1
	if !s.jsonl {
		first, last := int64(-1), int64(-1)
		err = s.eachRecord(f, from, end, func(off int64) bool {
			switch {
			case first < 0:
				first = off
			case off >= nominal:
				mid = off
				return false
			default:
				last = off
			}
			return true
		})
		if mid < 0 {
			mid = last
		}
	} else {
		first := int64(-1)
		err = s.eachRecord(f, from, end, func(off int64) bool { first = off; return false })
		if err != nil || first < 0 {
			return 0, false, err
		}
		var l int64
		if l, err = lineStartAtOrAfter(f, max(nominal, first+1), end); err != nil {
			return 0, false, fileErr(err, s.path)
		}
		err = s.eachRecord(f, l, end, func(off int64) bool { mid = off; return false })
		if err == nil && mid < 0 {
			// Nothing starts in [l, end): take the last record before l.
			var q int64
			if q, err = lineStartAtOrAfter(f, first+1, end); err != nil {
				return 0, false, fileErr(err, s.path)
			}
			err = s.eachRecord(f, q, l, func(off int64) bool { mid = off; return true })
		}
	}
	if err != nil {
		return 0, false, err
	}
	if mid <= from || mid >= end {
		return 0, false, nil
	}
	return mid, true, nil
}

// eachRecord frames the file from q, a record start, and calls fn with the
// offset of every record a reader started at q would return (for JSON
// Lines, blank lines are not records), until the first record starting at
// or after limit, the end of the file, or fn returning false.
func (s *fileSource) eachRecord(f *os.File, q, limit int64, fn func(off int64) bool) error {
	mode := frameCSV
	if s.jsonl {
		mode = frameLine
	}
	fr := newFramer(io.NewSectionReader(f, q, math.MaxInt64-q), mode, q)
	d := s.csvOpts.withDefaults()
	fr.quote, fr.escape = d.Quote, d.Escape
	fr.limit = limit
	for {
		raw, off, st, ok := fr.next()
		if !ok {
			if fr.err != nil {
				return fileErr(fr.err, s.path)
			}
			return nil
		}
		if s.jsonl && st == frameOK && isBlank(raw) {
			continue
		}
		if !fn(off) {
			return nil
		}
	}
}

// lineStartAtOrAfter returns the first line start at or after p (end when
// there is none before end).
func lineStartAtOrAfter(f *os.File, p, end int64) (int64, error) {
	if p >= end {
		return end, nil
	}
	if p > 0 {
		var b [1]byte
		if _, err := f.ReadAt(b[:], p-1); err != nil && err != io.EOF {
			return 0, err
		}
		if b[0] == '\n' {
			return p, nil
		}
	}
	return nextLineStart(f, p, end)
}

type fileReader struct {
	f    *os.File
	path string
	next func() (Record, bool)
	errf func() error
	pos  func() int64
	slab *rowSlab
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

func (r *fileReader) RecycleRows()           { r.slab.recycle() }
func (r *fileReader) Ready() <-chan struct{} { return closedChan }
func (r *fileReader) NextOffset() int64      { return r.pos() }
func (r *fileReader) Close() error           { return r.f.Close() }
