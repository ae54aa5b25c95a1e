package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// COPY runs as a sub-protocol of the connection. COPY ... FROM STDIN sends
// CopyInResponse, then reads CopyData messages from the command queue (the
// executor blocks on the queue, never the reader) through an io.Reader that
// the decoders consume: the connector package's text and CSV decoders, and
// the binary decoder below. Rows go to the engine's CopyIn in batches; an
// error aborts the whole COPY, as in PostgreSQL. COPY ... TO STDOUT runs
// the equivalent SELECT and sends its rows as CopyData.

// columnPrefix matches the column a decoder error names.
var columnPrefix = regexp.MustCompile(`^column "([^"]*)": (.*)$`)

// copyBatchRows is the number of rows handed to CopyIn.Write at once.
const copyBatchRows = 1024

func (c *conn) runCopy(spec *copySpec) error {
	if spec.from {
		return c.copyIn(spec)
	}
	return c.copyOut(spec)
}

// copyReader reads the data of COPY FROM STDIN from the command queue.
type copyReader struct {
	c    *conn
	ctx  context.Context
	buf  []byte
	done bool  // CopyDone seen
	err  error // CopyFail, a protocol error, cancellation or a lost client
	// fatal is set when the connection cannot continue (a lost client or
	// an unreadable message).
	fatal bool
}

func (r *copyReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if r.err != nil {
			return 0, r.err
		}
		r.next()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// next takes the next message of the COPY stream.
func (r *copyReader) next() {
	m, err := r.c.queue.pop(r.ctx, nil)
	if err != nil {
		r.err = err
		if !errors.Is(err, errCancelRequest) && !errors.Is(err, errTimeout) {
			r.fatal = true
		}
		return
	}
	switch m := m.(type) {
	case *fatalCmd:
		r.err, r.fatal = m.err, true
	case *msgCmd:
		switch mm := m.msg.(type) {
		case *pgproto3.CopyData:
			r.buf = mm.Data
		case *pgproto3.CopyDone:
			r.done = true
		case *pgproto3.CopyFail:
			r.err = pgerr.New(pgerr.QueryCanceled, "COPY from stdin failed: %s", mm.Message)
		case *pgproto3.Sync, *pgproto3.Flush:
			// Ignored during COPY, as PostgreSQL does.
		default:
			r.err = pgerr.New(pgerr.ProtocolViolation, "unexpected message type %T during COPY from stdin", mm)
		}
	}
}

// drain consumes the rest of the stream up to CopyDone (data after the
// end-of-data marker is ignored).
func (r *copyReader) drain() error {
	for !r.done && r.err == nil {
		r.buf = nil
		r.next()
	}
	return r.err
}

// copyIn runs COPY ... FROM STDIN.
func (c *conn) copyIn(spec *copySpec) error {
	ctx, done := c.statementContext()
	defer done()
	cin, err := c.sess.BeginCopy(ctx, spec.stmt)
	if err != nil {
		return stmtError(ctx, err)
	}
	cols := cin.Columns()
	f := int16(fmtText)
	if spec.format == copyBinary {
		f = fmtBinary
	}
	colFormats := make([]uint16, len(cols))
	for i := range colFormats {
		colFormats[i] = uint16(f)
	}
	c.send(&pgproto3.CopyInResponse{OverallFormat: byte(f), ColumnFormatCodes: colFormats})
	if err := c.flush(); err != nil {
		cin.Abort()
		return err
	}
	r := &copyReader{c: c, ctx: ctx}
	line, err := c.decodeCopy(r, spec, cols, cin)
	if err == nil {
		err = r.drain()
	}
	if err != nil {
		cin.Abort()
		if r.fatal && !errors.Is(err, errCancelRequest) {
			if pe := asPgErr(err); pe != nil && pe.Code == pgerr.ProtocolViolation {
				c.sendError(pe, "FATAL", "")
				_ = c.flush()
			}
			c.fatal = true
			return nil
		}
		pe := pgerr.Wrap(stmtError(ctx, err)).WithPos(0)
		where := ""
		if line > 0 {
			where = fmt.Sprintf("COPY %s, line %d", spec.table, line)
			// The decoders name the column in the message; PostgreSQL
			// names it in the context.
			if m := columnPrefix.FindStringSubmatch(pe.Message); m != nil {
				c := *pe
				c.Message = m[2]
				pe = &c
				where += ", column " + m[1]
			}
		}
		return &queryErr{err: pe, where: where}
	}
	res, err := cin.Close()
	if err != nil {
		return stmtError(ctx, err)
	}
	c.sendNotices(res)
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
	return nil
}

// decodeCopy decodes the COPY data into cin. It returns the line (text,
// CSV) or row (binary) where an error occurred.
func (c *conn) decodeCopy(r *copyReader, spec *copySpec, cols []engine.Column, cin engine.CopyIn) (int64, error) {
	schema := make([]connector.Column, len(cols))
	for i, col := range cols {
		schema[i] = connector.Column{Name: col.Name, Type: col.Type}
	}
	batch := make([]datum.Row, 0, copyBatchRows)
	flushBatch := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := cin.Write(batch)
		batch = make([]datum.Row, 0, copyBatchRows)
		return err
	}
	type decoder interface {
		Next() (connector.Record, bool)
		Err() error
		Line() int64
	}
	var dec decoder
	switch spec.format {
	case copyBinary:
		return decodeCopyBinary(r, cols, func(row datum.Row) error {
			batch = append(batch, row)
			if len(batch) == copyBatchRows {
				return flushBatch()
			}
			return nil
		}, flushBatch)
	case copyCSV:
		opts := connector.CSVOptions{Header: spec.header}
		if spec.delimiter != "" {
			opts.Delimiter = spec.delimiter[0]
		}
		if spec.quote != "" {
			opts.Quote = spec.quote[0]
		}
		if spec.escape != "" {
			opts.Escape = spec.escape[0]
		}
		if spec.nullSet {
			opts.Null = spec.null
		}
		dec = connector.NewCSVDecoder(r, schema, opts)
	default:
		opts := connector.CopyTextOptions{Header: spec.header}
		if spec.delimiter != "" {
			opts.Delimiter = spec.delimiter[0]
		}
		if spec.nullSet {
			if spec.null == "" {
				opts.EmptyNull = true
			} else {
				opts.Null = spec.null
			}
		}
		dec = connector.NewCopyTextDecoder(r, schema, opts)
	}
	for {
		rec, ok := dec.Next()
		if !ok {
			break
		}
		if rec.Err != nil {
			return dec.Line(), rec.Err
		}
		batch = append(batch, rec.Row)
		if len(batch) == copyBatchRows {
			if err := flushBatch(); err != nil {
				return dec.Line(), err
			}
		}
	}
	if err := dec.Err(); err != nil {
		// The data ended badly (CopyFail, cancellation) while reading the
		// line after the last one decoded.
		return dec.Line() + 1, err
	}
	return 0, flushBatch()
}

// copyBinarySignature starts PostgreSQL's binary COPY format.
const copyBinarySignature = "PGCOPY\n\xff\r\n\x00"

// decodeCopyBinary reads binary COPY data: the signature, flags and header
// extension, then tuples of an int16 field count and int32-length fields
// (-1 for NULL), ended by a field count of -1.
func decodeCopyBinary(r io.Reader, cols []engine.Column, emit func(datum.Row) error, finish func() error) (int64, error) {
	bad := func(format string, args ...any) error {
		return pgerr.New(pgerr.BadCopyFileFormat, format, args...)
	}
	var hdr [19]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, eofAs(err, bad("COPY file signature not recognized"))
	}
	if string(hdr[:11]) != copyBinarySignature {
		return 0, bad("COPY file signature not recognized")
	}
	if flags := binary.BigEndian.Uint32(hdr[11:]); flags&0xFFFF0000 != 0 {
		return 0, bad("unrecognized critical flags in COPY file header")
	}
	if ext := binary.BigEndian.Uint32(hdr[15:]); ext > 0 {
		if ext > 1<<20 {
			return 0, bad("invalid COPY file header (wrong length)")
		}
		if _, err := io.CopyN(io.Discard, r, int64(ext)); err != nil {
			return 0, eofAs(err, bad("invalid COPY file header (missing length)"))
		}
	}
	var buf []byte
	var n [4]byte
	for row := int64(1); ; row++ {
		if _, err := io.ReadFull(r, n[:2]); err != nil {
			if err == io.EOF {
				// No trailer: PostgreSQL accepts a missing one at EOF.
				return 0, finish()
			}
			return row, eofAs(err, bad("unexpected EOF in COPY data"))
		}
		count := int16(binary.BigEndian.Uint16(n[:2]))
		if count == -1 {
			return 0, finish()
		}
		if int(count) != len(cols) {
			return row, bad("row field count is %d, expected %d", count, len(cols))
		}
		vals := make(datum.Row, len(cols))
		for i := range cols {
			if _, err := io.ReadFull(r, n[:]); err != nil {
				return row, eofAs(err, bad("unexpected EOF in COPY data"))
			}
			l := int32(binary.BigEndian.Uint32(n[:]))
			if l == -1 {
				continue
			}
			if l < 0 || l > 1<<30 {
				return row, bad("invalid field size")
			}
			if cap(buf) < int(l) {
				buf = make([]byte, l)
			}
			buf = buf[:l]
			if _, err := io.ReadFull(r, buf); err != nil {
				return row, eofAs(err, bad("unexpected EOF in COPY data"))
			}
			d, err := decodeBinary(cols[i].Type, buf)
			if err != nil {
				pe := pgerr.Wrap(err)
				if pe.Code == pgerr.ProtocolViolation {
					pe = pgerr.New("22P03", "%s", pe.Message)
				}
				return row, pe.WithDetail("column %s", cols[i].Name)
			}
			vals[i] = d
		}
		if err := emit(vals); err != nil {
			return row, err
		}
	}
}

// eofAs maps an end of data to a format error; other errors (CopyFail, a
// canceled statement) pass through.
func eofAs(err, formatErr error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return formatErr
	}
	return err
}

// copyOut runs COPY ... TO STDOUT: the rows of the table or query, as
// CopyData messages.
func (c *conn) copyOut(spec *copySpec) error {
	query := spec.query
	if query == "" {
		cols := "*"
		if len(spec.columns) > 0 {
			q := make([]string, len(spec.columns))
			for i, n := range spec.columns {
				q[i] = quoteIdent(n)
			}
			cols = strings.Join(q, ", ")
		}
		table := quoteIdent(spec.table)
		if spec.schema != "" {
			table = quoteIdent(spec.schema) + "." + table
		}
		query = "SELECT " + cols + " FROM " + table
	}
	ctx, done := c.statementContext()
	results, err := c.sess.Exec(ctx, query)
	err = stmtError(ctx, err)
	done()
	if err != nil {
		return pgerr.Wrap(err).WithPos(0)
	}
	var res *engine.Result
	for _, r := range results {
		if r.Columns != nil {
			res = r
		}
	}
	if res == nil {
		return pgerr.New(pgerr.WrongObjectType, "COPY query must return rows")
	}
	f := fmtText
	if spec.format == copyBinary {
		f = fmtBinary
	}
	colFormats := make([]uint16, len(res.Columns))
	for i := range colFormats {
		colFormats[i] = uint16(f)
	}
	c.send(&pgproto3.CopyOutResponse{OverallFormat: byte(f), ColumnFormatCodes: colFormats})
	types := columnTypes(res.Columns)
	delim := byte('\t')
	if spec.format == copyCSV {
		delim = ','
	}
	if spec.delimiter != "" {
		delim = spec.delimiter[0]
	}
	null := `\N`
	if spec.format == copyCSV {
		null = ""
	}
	if spec.nullSet {
		null = spec.null
	}
	quote := byte('"')
	if spec.quote != "" {
		quote = spec.quote[0]
	}
	escape := quote
	if spec.escape != "" {
		escape = spec.escape[0]
	}
	var b []byte
	emit := func() {
		c.send(&pgproto3.CopyData{Data: b})
		b = b[:0]
	}
	switch spec.format {
	case copyBinary:
		b = append(b, copyBinarySignature...)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
		emit()
	default:
		if spec.header {
			for i, col := range res.Columns {
				if i > 0 {
					b = append(b, delim)
				}
				if spec.format == copyCSV {
					b = appendCSVField(b, col.Name, delim, quote, escape, null, false)
				} else {
					b = appendCopyTextField(b, col.Name, delim)
				}
			}
			b = append(b, '\n')
			emit()
		}
	}
	for _, row := range res.Rows {
		switch spec.format {
		case copyBinary:
			b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
			for i, d := range row {
				if d.IsNull() {
					b = append(b, 0xff, 0xff, 0xff, 0xff)
					continue
				}
				lp := len(b)
				b = append(b, 0, 0, 0, 0)
				if b, err = appendBinary(b, types[i], d); err != nil {
					return err
				}
				binary.BigEndian.PutUint32(b[lp:], uint32(len(b)-lp-4))
			}
		default:
			var tmp []byte
			for i, d := range row {
				if i > 0 {
					b = append(b, delim)
				}
				if d.IsNull() {
					b = append(b, null...)
					continue
				}
				tmp = appendText(tmp[:0], types[i], d)
				if spec.format == copyCSV {
					b = appendCSVField(b, string(tmp), delim, quote, escape, null, true)
				} else {
					b = appendCopyTextField(b, string(tmp), delim)
				}
			}
			b = append(b, '\n')
		}
		emit()
		if c.werr != nil {
			return c.werr
		}
	}
	if spec.format == copyBinary {
		b = append(b, 0xff, 0xff)
		emit()
	}
	c.send(&pgproto3.CopyDone{})
	c.send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.Itoa(len(res.Rows)))})
	return nil
}

// appendCopyTextField escapes s for COPY's text format.
func appendCopyTextField(b []byte, s string, delim byte) []byte {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if ch == delim {
				b = append(b, '\\', ch)
			} else {
				b = append(b, ch)
			}
		}
	}
	return b
}

// appendCSVField quotes s for CSV when needed: it contains the delimiter,
// the quote, a line break, or (for values) equals the NULL string.
func appendCSVField(b []byte, s string, delim, quote, escape byte, null string, value bool) []byte {
	need := value && s == null || s == `\.`
	for i := 0; i < len(s) && !need; i++ {
		ch := s[i]
		need = ch == delim || ch == quote || ch == '\n' || ch == '\r' || ch == escape
	}
	if !need {
		return append(b, s...)
	}
	b = append(b, quote)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == quote || ch == escape {
			b = append(b, escape)
		}
		b = append(b, ch)
	}
	return append(b, quote)
}

// quoteIdent quotes an identifier for SQL text.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
