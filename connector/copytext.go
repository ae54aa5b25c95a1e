package connector

import (
	"bytes"
	"fmt"
	"io"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// CopyTextOptions are PostgreSQL's COPY text-format options. The zero value
// is PostgreSQL's default: tab delimiter, \N for NULL.
type CopyTextOptions struct {
	Delimiter byte   // default '\t'
	Null      string // the raw text that means NULL; default `\N` (see EmptyNull)
	EmptyNull bool   // the empty string means NULL (overrides Null)
	Header    bool   // skip a first header line
}

func (o CopyTextOptions) withDefaults() CopyTextOptions {
	if o.Delimiter == 0 {
		o.Delimiter = '\t'
	}
	if o.EmptyNull {
		o.Null = ""
	} else if o.Null == "" {
		o.Null = `\N`
	}
	return o
}

// CopyTextDecoder decodes PostgreSQL's COPY text format: one line per row,
// fields separated by the delimiter, \N for NULL, backslash escapes (\t \n
// \r \b \f \v \\, octal \NNN, hex \xHH, and \c for any other c), and a line
// "\." ending the data. Malformed lines become Records with Err and Raw.
type CopyTextDecoder struct {
	f        *framer
	opts     CopyTextOptions
	schema   []Column
	conv     rowConverter
	header   bool
	done     bool
	err      error
	line     int64
	lastLine int64
	fieldBuf []byte
	fields   []fieldSpan
	slab     rowSlab
}

// NewCopyTextDecoder returns a decoder of COPY text format reading r for
// the given columns.
func NewCopyTextDecoder(r io.Reader, schema []Column, opts CopyTextOptions) *CopyTextDecoder {
	d := &CopyTextDecoder{f: newFramer(r, frameText, 0), opts: opts.withDefaults(), schema: schema, header: opts.Header, line: 1}
	d.conv.init(schema)
	return d
}

// Err returns the I/O error that stopped decoding, if any.
func (d *CopyTextDecoder) Err() error { return d.err }

// Line returns the 1-based line number where the last returned record began.
func (d *CopyTextDecoder) Line() int64 { return d.lastLine }

// Next returns the next record; ok is false at the end of the data.
func (d *CopyTextDecoder) Next() (Record, bool) {
	for {
		if d.done || d.err != nil {
			return Record{}, false
		}
		raw, off, st, ok := d.f.next()
		if !ok {
			d.err = d.f.err
			return Record{}, false
		}
		d.lastLine = d.line
		d.line += int64(bytes.Count(raw, nl)) + 1
		if d.header {
			d.header = false
			continue
		}
		if st == frameTooLong {
			return badRecord(off, raw, pgerr.New(pgerr.ProgramLimitExceeded, "record is longer than %d bytes", MaxRecordBytes)), true
		}
		line := raw
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 2 && line[0] == '\\' && line[1] == '.' {
			d.done = true
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
}

// split de-escapes one line into d.fields (PostgreSQL's
// CopyReadAttributesText: the null string is matched against the raw field
// before de-escaping).
func (d *CopyTextDecoder) split(line []byte) string {
	delim := d.opts.Delimiter
	out := d.fieldBuf[:0]
	fields := d.fields[:0]
	i := 0
	for {
		start := len(out)
		rawStart := i
		found := false
		for i < len(line) {
			c := line[i]
			i++
			if c == delim {
				found = true
				break
			}
			if c != '\\' {
				out = append(out, c)
				continue
			}
			if i >= len(line) {
				out = append(out, '\\')
				break
			}
			c = line[i]
			i++
			switch c {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'v':
				out = append(out, '\v')
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v := int(c - '0')
				for k := 0; k < 2 && i < len(line) && line[i] >= '0' && line[i] <= '7'; k++ {
					v = v*8 + int(line[i]-'0')
					i++
				}
				out = append(out, byte(v))
			case 'x':
				if i < len(line) && isHex(line[i]) {
					v := hexVal(line[i])
					i++
					if i < len(line) && isHex(line[i]) {
						v = v*16 + hexVal(line[i])
						i++
					}
					out = append(out, byte(v))
				} else {
					out = append(out, 'x')
				}
			default:
				out = append(out, c)
			}
		}
		rawEnd := i
		if found {
			rawEnd--
		}
		isNull := string(line[rawStart:rawEnd]) == d.opts.Null
		fields = append(fields, fieldSpan{start: start, end: len(out), null: isNull})
		if !found {
			break
		}
	}
	d.fieldBuf, d.fields = out, fields
	if len(fields) > len(d.schema) {
		return "extra data after last expected column"
	}
	if len(fields) < len(d.schema) {
		return fmt.Sprintf("missing data for column %q", d.schema[len(fields)].Name)
	}
	return ""
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

func (d *CopyTextDecoder) toRow() (datum.Row, error) {
	if !validText(d.fieldBuf) {
		// An octal or hex escape produced invalid UTF-8 or a NUL.
		return nil, invalidUTF8(d.fieldBuf)
	}
	all := string(d.fieldBuf)
	row := d.slab.row(len(d.schema))
	for c, col := range d.schema {
		fs := d.fields[c]
		if fs.null {
			if col.NotNull {
				return nil, notNullErr(col.Name)
			}
			row[c] = datum.Null
			continue
		}
		v, err := d.conv.parse(c, all[fs.start:fs.end])
		if err != nil {
			return nil, err
		}
		row[c] = v
	}
	return row, nil
}

// AppendCopyText appends row as one line of PostgreSQL's COPY text format
// (tab-separated, \N for NULL, backslash escapes), with its newline.
func AppendCopyText(buf []byte, row datum.Row) []byte {
	for i, d := range row {
		if i > 0 {
			buf = append(buf, '\t')
		}
		if d.IsNull() {
			buf = append(buf, '\\', 'N')
			continue
		}
		buf = appendCopyTextField(buf, formatDatum(d))
	}
	return append(buf, '\n')
}

func appendCopyTextField(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\v':
			buf = append(buf, '\\', 'v')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}
