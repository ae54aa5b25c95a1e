package connector

import (
	"bytes"
	"io"
)

// MaxRecordBytes is the largest record a text decoder accepts; a longer one
// is a malformed record.
const MaxRecordBytes = 1 << 20

// maxRawBytes caps the Raw bytes kept for an oversize record.
const maxRawBytes = 64 << 10

// frameMode says how records are delimited.
type frameMode uint8

const (
	frameLine frameMode = iota // a record is a line
	frameCSV                   // newlines inside quotes do not end a record
	frameText                  // a backslash escapes the next byte, a newline too
)

// frameStatus says what a framed record is.
type frameStatus uint8

const (
	frameOK           frameStatus = iota
	frameTooLong                  // longer than MaxRecordBytes
	frameUnterminated             // a CSV quote is still open at the end of the input
)

// framer cuts an io.Reader into records and tracks their byte offsets. The
// framing rules are deterministic functions of the bytes from a record's
// start, so a framer started at any record start finds the same records as
// one that read from the beginning (file partitioning and reopening rely on
// it):
//
//   - A record ends at the first newline outside quotes (CSV) or not
//     escaped (text), or at the end of input.
//   - A record longer than MaxRecordBytes, or a CSV record whose quote is
//     still open at the end of input, is malformed; it is cut at the first
//     newline after its start (quotes ignored) and reading resumes there.
type framer struct {
	r      io.Reader
	mode   frameMode
	quote  byte
	escape byte

	buf   []byte
	start int   // next unconsumed byte in buf
	end   int   // end of valid data in buf
	off   int64 // absolute offset of buf[0]
	eof   bool
	err   error // read error other than io.EOF

	// limit: records starting at or after it are not returned (<0: none).
	limit int64
}

func newFramer(r io.Reader, mode frameMode, base int64) *framer {
	return newFramerSize(r, mode, base, 64<<10)
}

// newFramerSize is newFramer with an initial buffer of size bytes (it grows
// as needed); framing does not depend on the buffer's size.
func newFramerSize(r io.Reader, mode frameMode, base int64, size int) *framer {
	return &framer{r: r, mode: mode, quote: '"', escape: '"', off: base, limit: -1, buf: make([]byte, size)}
}

// pos returns the absolute offset of the next record.
func (f *framer) pos() int64 { return f.off + int64(f.start) }

// fill reads more input, growing or compacting the buffer. It returns false
// when nothing more can be read.
func (f *framer) fill() bool {
	if f.eof || f.err != nil {
		return false
	}
	if f.start > 0 && (f.end == len(f.buf) || f.start > len(f.buf)/2) {
		n := copy(f.buf, f.buf[f.start:f.end])
		f.off += int64(f.start)
		f.start, f.end = 0, n
	}
	if f.end == len(f.buf) {
		nb := make([]byte, 2*len(f.buf))
		copy(nb, f.buf[:f.end])
		f.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err == io.EOF {
			f.eof = true
			return n > 0
		}
		if err != nil {
			f.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	f.err = io.ErrNoProgress
	return false
}

// scan looks for the end of the record starting at data[0]. It returns the
// index of the terminating newline, or -1 if data holds no complete record;
// open reports a CSV quote still open at the end of data.
func (f *framer) scan(data []byte) (nl int, open bool) {
	switch f.mode {
	case frameLine:
		return bytes.IndexByte(data, '\n'), false
	case frameText:
		for i := 0; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '\n':
				return i, false
			}
		}
		return -1, false
	}
	q, e := f.quote, f.escape
	inQuote := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inQuote {
			if c == e && i+1 < len(data) && (data[i+1] == e || data[i+1] == q) {
				i++
				continue
			}
			if c == q {
				inQuote = false
			}
			continue
		}
		// Fast path: skip to the next quote or newline.
		j := indexQuoteOrNL(data[i:], q)
		if j < 0 {
			return -1, false
		}
		i += j
		if data[i] == '\n' {
			return i, false
		}
		inQuote = true
	}
	return -1, inQuote
}

func indexQuoteOrNL(b []byte, q byte) int {
	// Two vectorized scans beat one byte loop: records are short and
	// mostly unquoted.
	n := bytes.IndexByte(b, '\n')
	if n < 0 {
		return bytes.IndexByte(b, q)
	}
	if k := bytes.IndexByte(b[:n], q); k >= 0 {
		return k
	}
	return n
}

// next returns the next record (without its newline), its absolute offset
// and status. ok is false at the end of input (or of the limit), or on a read
// error (see f.err). The returned slice is valid until the next call.
func (f *framer) next() (rec []byte, off int64, st frameStatus, ok bool) {
	for {
		off = f.pos()
		if f.limit >= 0 && off >= f.limit {
			return nil, off, frameOK, false
		}
		data := f.buf[f.start:f.end]
		nl, open := f.scan(data)
		if nl >= 0 && nl <= MaxRecordBytes {
			f.start += nl + 1
			return data[:nl], off, frameOK, true
		}
		if nl > MaxRecordBytes || (nl < 0 && len(data) > MaxRecordBytes) {
			return f.resync(off, frameTooLong)
		}
		if f.fill() {
			continue
		}
		if f.err != nil {
			return nil, off, frameOK, false
		}
		// End of input.
		data = f.buf[f.start:f.end]
		if len(data) == 0 {
			return nil, off, frameOK, false
		}
		if open {
			return f.resync(off, frameUnterminated)
		}
		f.start = f.end
		return data, off, frameOK, true
	}
}

// resync cuts a malformed record at the first newline after its start
// (ignoring quotes and escapes) and returns it, keeping at most maxRawBytes
// of it when it is oversize.
func (f *framer) resync(off int64, st frameStatus) ([]byte, int64, frameStatus, bool) {
	data := f.buf[f.start:f.end]
	if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
		f.start += nl + 1
		if nl > MaxRecordBytes {
			return data[:maxRawBytes], off, frameTooLong, true
		}
		return data[:nl], off, st, true
	}
	if len(data) > MaxRecordBytes {
		// The line itself is oversize: keep its head, skip to its end.
		raw := append([]byte(nil), data[:maxRawBytes]...)
		f.start = f.end
		for {
			if !f.fill() {
				f.start = f.end
				return raw, off, frameTooLong, true
			}
			data = f.buf[f.start:f.end]
			if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
				f.start += nl + 1
				return raw, off, frameTooLong, true
			}
			f.start = f.end
		}
	}
	// Need more input to find the newline.
	for f.fill() {
		data = f.buf[f.start:f.end]
		if bytes.IndexByte(data, '\n') >= 0 || len(data) > MaxRecordBytes {
			return f.resync(off, st)
		}
	}
	data = f.buf[f.start:f.end]
	f.start = f.end
	if len(data) > MaxRecordBytes {
		return data[:maxRawBytes], off, frameTooLong, true
	}
	return data, off, st, true
}
