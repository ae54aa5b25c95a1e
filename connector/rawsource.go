package connector

import (
	"io"
	"math"
	"os"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// RawAt implementations (see RawSource).

var (
	_ RawSource = (*fileSource)(nil)
	_ RawSource = (*logSource)(nil)
	_ RawSource = (*datagen)(nil)
	_ RawSource = (*boundedDatagen)(nil)
	_ RawSource = (*nexmark)(nil)
	_ RawSource = (*boundedNexmark)(nil)
)

// rawFramerBuf is the initial buffer of the framer RawAt uses: one read of
// this size covers a typical record (the buffer grows for longer ones).
const rawFramerBuf = 4 << 10

// rawFile returns the source's cached read handle, opening it on first use.
func (s *fileSource) rawFile() (*os.File, error) {
	s.rawMu.Lock()
	defer s.rawMu.Unlock()
	if s.rawF == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return nil, fileErr(err, s.path)
		}
		s.rawF = f
	}
	return s.rawF, nil
}

// RawAt returns the bytes of the file record starting at offset, framed
// exactly as a reader frames it (a framer started at the record start over
// the rest of the file, which reads a bounded window: the record, or up to
// MaxRecordBytes and then to the next newline for a malformed one): the
// record without the '\n' that ends it (a CRLF record keeps its '\r'), the
// first 64 KiB of an oversize record. That is the Record.Raw a decode error
// at offset carries. offset must be a record start in partition p of n;
// an offset that cannot be one (not at the partition's start and not
// after a newline, at the end of the file, or a blank JSON line) is an
// error.
func (s *fileSource) RawAt(p, n int, offset int64) ([]byte, error) {
	lo, hi, _, err := s.partitionRange(p, n)
	if err != nil {
		return nil, err
	}
	if offset < lo || (hi >= 0 && offset >= hi) {
		return nil, pgerr.New(pgerr.InternalError, "file source %q: offset %d is outside partition %d of %d [%d, %d)", s.cfg.Name, offset, p, n, lo, hi)
	}
	f, err := s.rawFile()
	if err != nil {
		return nil, err
	}
	if offset > lo {
		// Every record start but the first follows a newline.
		var b [1]byte
		if _, err := f.ReadAt(b[:], offset-1); err != nil {
			if err == io.EOF {
				return nil, s.noRecord(offset)
			}
			return nil, fileErr(err, s.path)
		}
		if b[0] != '\n' {
			return nil, s.noRecord(offset)
		}
	}
	mode := frameCSV
	if s.jsonl {
		mode = frameLine
	}
	fr := newFramerSize(io.NewSectionReader(f, offset, math.MaxInt64-offset), mode, offset, rawFramerBuf)
	d := s.csvOpts.withDefaults()
	fr.quote, fr.escape = d.Quote, d.Escape
	raw, _, st, ok := fr.next()
	if !ok {
		if fr.err != nil {
			return nil, fileErr(fr.err, s.path)
		}
		return nil, s.noRecord(offset)
	}
	if s.jsonl && st == frameOK && isBlank(raw) {
		return nil, s.noRecord(offset)
	}
	return append([]byte(nil), raw...), nil
}

func (s *fileSource) noRecord(offset int64) error {
	return pgerr.New(pgerr.InternalError, "file source %q: no record starts at offset %d of %q", s.cfg.Name, offset, s.path)
}

// RawAt returns log record offset's row as a COPY text line (tab-separated,
// \N for NULL, backslash escapes, no newline), or, for a stored value that
// does not match the schema, the stored bytes (its Record.Raw). A
// truncated, dropped, abandoned or not yet published offset, and a
// watermark, are errors.
func (s *logSource) RawAt(p, n int, offset int64) ([]byte, error) {
	if err := s.checkPart(p); err != nil {
		return nil, err
	}
	ls := s.hub.state(s.cfg.ID, uint32(p))
	ls.mu.Lock()
	low, pub, dropped := ls.low, ls.published, ls.dropped
	ls.mu.Unlock()
	switch {
	case dropped:
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "source %q was dropped", s.cfg.Name)
	case offset < low:
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState,
			"log of source %q was truncated below offset %d; record %d is gone", s.cfg.Name, low, offset)
	case offset < 0 || offset >= pub:
		return nil, pgerr.New(pgerr.InternalError, "log source %q has no record %d", s.cfg.Name, offset)
	}
	v, ok, err := s.st.Get(appendLogKey(nil, s.cfg.ID, uint32(p), offset))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pgerr.New(pgerr.InternalError, "log source %q has no record %d", s.cfg.Name, offset)
	}
	r := logReader{src: s, ncols: len(s.cfg.Schema)}
	rec := r.decode(offset, v)
	switch {
	case rec.IsWatermark:
		return nil, pgerr.New(pgerr.InternalError, "log source %q: offset %d is a watermark, not a record", s.cfg.Name, offset)
	case rec.Err != nil:
		return rec.Raw, nil
	}
	line := AppendCopyText(nil, rec.Row)
	return line[:len(line)-1], nil
}

// rawCSVLine renders a generated row as one CSV line without its newline
// (AppendCSV's rules: NULL empty, quoting only where needed).
func rawCSVLine(row datum.Row) []byte {
	line := AppendCSV(nil, row, CSVOptions{})
	return line[:len(line)-1]
}

// RawAt regenerates row offset (which must be ≡ p mod n, and below 'rows'
// when bounded) and returns it as a CSV line.
func (g *datagen) RawAt(p, n int, offset int64) ([]byte, error) {
	if n < 1 || p < 0 || p >= n {
		return nil, pgerr.New(pgerr.InternalError, "datagen source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	if offset < 0 || offset%int64(n) != int64(p) || (g.rows >= 0 && offset >= g.rows) {
		return nil, pgerr.New(pgerr.InternalError, "datagen source %q: partition %d of %d has no row %d", g.cfg.Name, p, n, offset)
	}
	row := make(datum.Row, len(g.gens))
	ts := g.eventTime(offset)
	for c := range g.gens {
		row[c] = g.value(&g.gens[c], offset, ts)
	}
	return rawCSVLine(row), nil
}

// RawAt regenerates event offset (which must be an event of the source's
// table in partition p of n, and below 'events' when bounded) and returns
// its row as a CSV line.
func (g *nexmark) RawAt(p, n int, offset int64) ([]byte, error) {
	if n < 1 || p < 0 || p >= n {
		return nil, pgerr.New(pgerr.InternalError, "nexmark source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	k := int64(-1)
	if offset >= 0 && (g.events < 0 || offset < g.events) {
		k = g.indexAt(offset)
	}
	if k < 0 || g.eventOf(k) != offset || k%int64(n) != int64(p) {
		return nil, pgerr.New(pgerr.InternalError, "nexmark source %q: partition %d of %d has no event %d", g.cfg.Name, p, n, offset)
	}
	row := make(datum.Row, g.ncols)
	g.gen(row, offset)
	return rawCSVLine(row), nil
}
