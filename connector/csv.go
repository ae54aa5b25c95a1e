package connector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// CSVOptions are PostgreSQL's COPY ... CSV options. The zero value is
// PostgreSQL's default: ',' delimiter, '"' quote and escape, an unquoted
// empty field is NULL, no header.
type CSVOptions struct {
	Delimiter byte   // default ','
	Quote     byte   // default '"'
	Escape    byte   // default: the quote character
	Null      string // the unquoted text that means NULL; default "" (empty)
	Header    bool   // the first line is a header
	// ByName maps fields to columns by the header's names (needs Header):
	// unknown header columns are ignored, schema columns missing from the
	// header read as NULL, and a missing NOT NULL column is an error.
	ByName bool
	// NoEndMarker treats a line "\." as data rather than the end of the
	// input (COPY FROM STDIN ends at "\."; files do not).
	NoEndMarker bool
}

func (o CSVOptions) withDefaults() CSVOptions {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.Quote == 0 {
		o.Quote = '"'
	}
	if o.Escape == 0 {
		o.Escape = o.Quote
	}
	return o
}

// CSVDecoder decodes PostgreSQL COPY ... CSV input into records. A malformed
// record (unterminated quote, wrong field count, a value that does not parse
// for its column, invalid UTF-8, a NULL in a NOT NULL column, a record over
// MaxRecordBytes) is returned as a Record with Err and Raw set, and decoding
// continues with the next record.
type CSVDecoder struct {
	f      *framer
	opts   CSVOptions
	schema []Column
	conv   rowConverter

	// colOf maps a field position to a schema column (-1: ignored); nil
	// means positional.
	colOf     []int
	nfields   int // expected field count
	header    bool
	err       error
	line      int64 // line number of the start of the next record
	lastLine  int64
	fieldBuf  []byte
	fields    []fieldSpan
	rowFields []int // per schema column: index into fields or -1
	slab      rowSlab
	strs      strSlab
}

type fieldSpan struct {
	start, end int
	null       bool
}

// NewCSVDecoder returns a decoder reading r for the given columns.
func NewCSVDecoder(r io.Reader, schema []Column, opts CSVOptions) *CSVDecoder {
	return newCSVDecoderAt(r, schema, opts, 0)
}

func newCSVDecoderAt(r io.Reader, schema []Column, opts CSVOptions, base int64) *CSVDecoder {
	opts = opts.withDefaults()
	f := newFramer(r, frameCSV, base)
	f.quote, f.escape = opts.Quote, opts.Escape
	d := &CSVDecoder{f: f, opts: opts, schema: schema, header: opts.Header, nfields: len(schema), line: 1}
	d.conv.init(schema)
	d.rowFields = make([]int, len(schema))
	d.mapFields()
	return d
}

// Err returns the error that stopped decoding: an I/O error, or a bad header.
func (d *CSVDecoder) Err() error { return d.err }

// Line returns the 1-based line number where the last returned record began.
func (d *CSVDecoder) Line() int64 { return d.lastLine }

// Offset returns the byte offset of the next record.
func (d *CSVDecoder) Offset() int64 { return d.f.pos() }

// ReadHeader reads the header line now (Next does it on its first call) and
// reports a bad header.
func (d *CSVDecoder) ReadHeader() error {
	if d.header {
		d.readHeader()
	}
	return d.err
}

func (d *CSVDecoder) readHeader() {
	d.header = false
	rec, _, st, ok := d.f.next()
	if !ok {
		if d.f.err != nil {
			d.err = d.f.err
		}
		return
	}
	d.line += int64(bytes.Count(rec, nl))
	d.line++
	if st != frameOK {
		d.err = pgerr.New(pgerr.BadCopyFileFormat, "malformed CSV header line")
		return
	}
	rec = bytes.TrimPrefix(rec, utf8BOM)
	if len(rec) > 0 && rec[len(rec)-1] == '\r' {
		rec = rec[:len(rec)-1]
	}
	nf := d.nfields
	d.nfields = -1 // any field count
	msg := d.split(rec)
	d.nfields = nf
	if msg != "" {
		d.err = pgerr.New(pgerr.BadCopyFileFormat, "malformed CSV header line: %s", msg)
		return
	}
	if !d.opts.ByName {
		return
	}
	names := make([]string, len(d.fields))
	for i, fs := range d.fields {
		names[i] = string(d.fieldBuf[fs.start:fs.end])
	}
	colOf, err := mapHeader(names, d.schema)
	if err != nil {
		d.err = err
		return
	}
	d.setMapping(colOf)
}

// setMapping installs a header mapping (field position → column).
func (d *CSVDecoder) setMapping(colOf []int) {
	d.colOf = colOf
	d.nfields = len(colOf)
	d.mapFields()
}

var (
	utf8BOM = []byte{0xEF, 0xBB, 0xBF}
	nl      = []byte{'\n'}
)

// mapHeader maps header names to schema columns, exactly or else
// case-insensitively. A NOT NULL column missing from the header is an error.
func mapHeader(names []string, schema []Column) ([]int, error) {
	colOf := make([]int, len(names))
	used := make([]bool, len(schema))
	for i, n := range names {
		colOf[i] = -1
		n = strings.TrimSpace(n)
		for c, col := range schema {
			if !used[c] && col.Name == n {
				colOf[i], used[c] = c, true
				break
			}
		}
		if colOf[i] >= 0 {
			continue
		}
		for c, col := range schema {
			if !used[c] && strings.EqualFold(col.Name, n) {
				colOf[i], used[c] = c, true
				break
			}
		}
	}
	for c, col := range schema {
		if !used[c] && col.NotNull {
			return nil, pgerr.New(pgerr.UndefinedColumn, "column %q is missing from the header", col.Name).
				WithDetail("The header has columns: %s.", strings.Join(names, ", "))
		}
	}
	return colOf, nil
}

// Next returns the next record; ok is false at the end of the input or when
// decoding stopped (see Err).
func (d *CSVDecoder) Next() (rec Record, ok bool) {
	if d.header {
		d.readHeader()
	}
	if d.err != nil {
		return Record{}, false
	}
	raw, off, st, ok := d.f.next()
	if !ok {
		if d.f.err != nil {
			d.err = d.f.err
		}
		return Record{}, false
	}
	d.lastLine = d.line
	d.line += int64(bytes.Count(raw, nl)) + 1
	switch st {
	case frameTooLong:
		return badRecord(off, raw, pgerr.New(pgerr.ProgramLimitExceeded, "record is longer than %d bytes", MaxRecordBytes)), true
	case frameUnterminated:
		return badRecord(off, raw, pgerr.New(pgerr.BadCopyFileFormat, "unterminated CSV quoted field")), true
	}
	line := raw
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !d.opts.NoEndMarker && len(line) == 2 && line[0] == '\\' && line[1] == '.' {
		return Record{}, false
	}
	if !validText(raw) {
		return badRecord(off, raw, invalidUTF8(raw)), true
	}
	if msg := d.split(line); msg != "" {
		return badRecord(off, raw, pgerr.New(pgerr.BadCopyFileFormat, "%s", msg)), true
	}
	row, err := d.toRow()
	if err != nil {
		return badRecord(off, raw, err), true
	}
	return Record{Row: row, Offset: off}, true
}

func badRecord(off int64, raw []byte, err error) Record {
	return Record{Offset: off, Err: err, Raw: append([]byte(nil), raw...)}
}

// validText reports whether b is valid UTF-8 without NUL bytes.
func validText(b []byte) bool {
	// Eight bytes at a time while they are ASCII without NUL.
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&hi != 0 || (w-lo)&^w&hi != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			return utf8.Valid(b[i:]) && bytes.IndexByte(b[i:], 0) < 0
		}
		if c == 0 {
			return false
		}
	}
	return true
}

func invalidUTF8(b []byte) error {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == 0 {
			return pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": 0x00")
		}
		if r == utf8.RuneError && n <= 1 {
			return pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": 0x%02x", b[i])
		}
		i += n
	}
	return pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
}

// split parses one CSV line into d.fields (PostgreSQL's
// CopyReadAttributesCSV rules: a quote anywhere in a field starts a quoted
// section; NULL is the unquoted null string). It returns a non-empty message
// for a malformed line.
func (d *CSVDecoder) split(line []byte) string {
	delim, q, e := d.opts.Delimiter, d.opts.Quote, d.opts.Escape
	nullStr := d.opts.Null
	out := d.fieldBuf[:0]
	fields := d.fields[:0]
	if bytes.IndexByte(line, q) < 0 && (e == q || bytes.IndexByte(line, e) < 0) {
		// No quotes (the common case): the fields are the line's bytes
		// between delimiters, found with IndexByte rather than byte by
		// byte.
		out = append(out, line...)
		start := 0
		for {
			end := len(out)
			if k := bytes.IndexByte(out[start:], delim); k >= 0 {
				end = start + k
			}
			fields = append(fields, fieldSpan{start: start, end: end, null: string(out[start:end]) == nullStr})
			if end == len(out) {
				break
			}
			start = end + 1
		}
		d.fieldBuf, d.fields = out, fields
		return d.checkFieldCount(fields)
	}
	i := 0
	for {
		start := len(out)
		rawStart := i
		sawQuote := false
		foundDelim := false
	field:
		for {
			// Outside quotes.
			for {
				if i >= len(line) {
					break field
				}
				c := line[i]
				i++
				if c == delim {
					foundDelim = true
					break field
				}
				if c == q {
					sawQuote = true
					break
				}
				out = append(out, c)
			}
			// Inside quotes.
			for {
				if i >= len(line) {
					d.fieldBuf, d.fields = out, fields
					return "unterminated CSV quoted field"
				}
				c := line[i]
				i++
				if c == e && i < len(line) && (line[i] == e || line[i] == q) {
					out = append(out, line[i])
					i++
					continue
				}
				if c == q {
					break
				}
				out = append(out, c)
			}
		}
		rawEnd := i
		if foundDelim {
			rawEnd--
		}
		isNull := !sawQuote && string(line[rawStart:rawEnd]) == nullStr
		fields = append(fields, fieldSpan{start: start, end: len(out), null: isNull})
		if !foundDelim {
			break
		}
	}
	d.fieldBuf, d.fields = out, fields
	return d.checkFieldCount(fields)
}

// checkFieldCount returns a message when a record has more or fewer fields
// than expected.
func (d *CSVDecoder) checkFieldCount(fields []fieldSpan) string {
	if d.nfields < 0 {
		return ""
	}
	if len(fields) > d.nfields {
		return "extra data after last expected column"
	}
	if len(fields) < d.nfields {
		// Name the first missing field's column: positional, or mapped by
		// the header (a header column the schema lacks stays "?").
		name := "?"
		if d.colOf == nil && len(fields) < len(d.schema) {
			name = d.schema[len(fields)].Name
		} else if d.colOf != nil && d.colOf[len(fields)] >= 0 {
			name = d.schema[d.colOf[len(fields)]].Name
		}
		return fmt.Sprintf("missing data for column %q", name)
	}
	return ""
}

// mapFields sets rowFields from colOf.
func (d *CSVDecoder) mapFields() {
	for i := range d.rowFields {
		d.rowFields[i] = -1
	}
	if d.colOf == nil {
		for i := range d.rowFields {
			d.rowFields[i] = i
		}
		return
	}
	for fi, c := range d.colOf {
		if c >= 0 {
			d.rowFields[c] = fi
		}
	}
}

// toRow converts d.fields to a row of the schema.
func (d *CSVDecoder) toRow() (datum.Row, error) {
	row := d.slab.row(len(d.schema))
	for c := range d.schema {
		fi := d.rowFields[c]
		if fi < 0 || d.fields[fi].null {
			if d.schema[c].NotNull {
				return nil, notNullErr(d.schema[c].Name)
			}
			row[c] = datum.Null
			continue
		}
		fs := d.fields[fi]
		b := d.fieldBuf[fs.start:fs.end]
		// Numbers and timestamps parse from a transient view of the
		// field; only a value that keeps its text gets a string copy.
		if v, ok := d.conv.parseFast(c, b); ok {
			row[c] = v
			continue
		}
		v, err := d.conv.parse(c, d.strs.string(b))
		if err != nil {
			return nil, err
		}
		row[c] = v
	}
	return row, nil
}

func notNullErr(col string) error {
	return pgerr.New(pgerr.NotNullViolation, "null value in column %q violates not-null constraint", col)
}

// AppendCSV appends row as one CSV line (PostgreSQL COPY TO ... CSV): NULL is
// the unquoted null string; a value is quoted when it contains the delimiter,
// the quote, a CR or LF, or equals the null string, or is "\.".
func AppendCSV(buf []byte, row datum.Row, opts CSVOptions) []byte {
	opts = opts.withDefaults()
	for i, d := range row {
		if i > 0 {
			buf = append(buf, opts.Delimiter)
		}
		if d.IsNull() {
			buf = append(buf, opts.Null...)
			continue
		}
		buf = appendCSVField(buf, formatDatum(d), opts)
	}
	return append(buf, '\n')
}

// AppendCSVHeader appends a header line of the schema's column names.
func AppendCSVHeader(buf []byte, schema []Column, opts CSVOptions) []byte {
	opts = opts.withDefaults()
	for i, c := range schema {
		if i > 0 {
			buf = append(buf, opts.Delimiter)
		}
		buf = appendCSVField(buf, c.Name, opts)
	}
	return append(buf, '\n')
}

func appendCSVField(buf []byte, s string, opts CSVOptions) []byte {
	need := s == opts.Null || s == `\.`
	if !need {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == opts.Delimiter || c == opts.Quote || c == opts.Escape || c == '\n' || c == '\r' {
				need = true
				break
			}
		}
	}
	if !need {
		return append(buf, s...)
	}
	buf = append(buf, opts.Quote)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == opts.Quote || c == opts.Escape {
			buf = append(buf, opts.Escape)
		}
		buf = append(buf, c)
	}
	return append(buf, opts.Quote)
}

// formatDatum is datum.Format with PostgreSQL's text output for every kind.
func formatDatum(d datum.Datum) string { return d.Format() }
