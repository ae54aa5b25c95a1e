package connector

import (
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// JSONLDecoder decodes JSON Lines: one object per line whose keys are column
// names (exact, else case-insensitive). Missing keys read as NULL, unknown
// keys are ignored, blank lines are skipped. Values may be strings
// (PostgreSQL text input for the column's type), numbers (a timestamp
// column takes epoch milliseconds), booleans, null, or nested arrays and
// objects (kept as JSON text for text columns). A malformed line becomes a
// Record with Err and Raw.
type JSONLDecoder struct {
	f      *framer
	schema []Column
	conv   rowConverter
	exact  map[string]int
	folded map[string]int
	err    error

	// per line
	line   []byte
	pos    int
	keyBuf []byte
	strBuf []byte
	vals   []jsonVal
	slab   rowSlab
	strs   strSlab
}

type jsonVal struct {
	kind       byte // 0 absent, 's' string, 'n' number, 't' true, 'f' false, 'z' null, 'j' nested JSON
	start, end int  // into strBuf
}

// NewJSONLDecoder returns a JSON Lines decoder reading r for the given
// columns.
func NewJSONLDecoder(r io.Reader, schema []Column) *JSONLDecoder {
	return newJSONLDecoderAt(r, schema, 0)
}

func newJSONLDecoderAt(r io.Reader, schema []Column, base int64) *JSONLDecoder {
	d := &JSONLDecoder{f: newFramer(r, frameLine, base), schema: schema,
		exact: make(map[string]int), folded: make(map[string]int), vals: make([]jsonVal, len(schema))}
	d.conv.init(schema)
	for i := len(schema) - 1; i >= 0; i-- {
		d.exact[schema[i].Name] = i
		d.folded[strings.ToLower(schema[i].Name)] = i
	}
	return d
}

// Err returns the I/O error that stopped decoding, if any.
func (d *JSONLDecoder) Err() error { return d.err }

// Offset returns the byte offset of the next record.
func (d *JSONLDecoder) Offset() int64 { return d.f.pos() }

// Next returns the next record; ok is false at the end of the input.
func (d *JSONLDecoder) Next() (Record, bool) {
	for {
		if d.err != nil {
			return Record{}, false
		}
		raw, off, st, ok := d.f.next()
		if !ok {
			d.err = d.f.err
			return Record{}, false
		}
		if st == frameTooLong {
			return badRecord(off, raw, pgerr.New(pgerr.ProgramLimitExceeded, "record is longer than %d bytes", MaxRecordBytes)), true
		}
		if isBlank(raw) {
			continue
		}
		if !validText(raw) {
			return badRecord(off, raw, invalidUTF8(raw)), true
		}
		row, err := d.decode(raw)
		if err != nil {
			return badRecord(off, raw, err), true
		}
		return Record{Row: row, Offset: off}, true
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func jsonErr(format string, args ...any) error {
	return pgerr.New(pgerr.InvalidTextRepresentation, "invalid JSON: "+format, args...)
}

func (d *JSONLDecoder) decode(line []byte) (datum.Row, error) {
	d.line, d.pos = line, 0
	d.strBuf = d.strBuf[:0]
	for i := range d.vals {
		d.vals[i] = jsonVal{}
	}
	d.ws()
	if !d.eat('{') {
		return nil, jsonErr("expected an object")
	}
	d.ws()
	if !d.eat('}') {
		for {
			d.ws()
			if d.peek() != '"' {
				return nil, jsonErr("expected a key at byte %d", d.pos)
			}
			d.keyBuf = d.keyBuf[:0]
			var err error
			if d.keyBuf, err = d.str(d.keyBuf); err != nil {
				return nil, err
			}
			col, ok := d.exact[string(d.keyBuf)]
			if !ok {
				col, ok = d.folded[strings.ToLower(string(d.keyBuf))]
			}
			d.ws()
			if !d.eat(':') {
				return nil, jsonErr("expected ':' at byte %d", d.pos)
			}
			d.ws()
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			if ok {
				d.vals[col] = v
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat('}') {
				break
			}
			return nil, jsonErr("expected ',' or '}' at byte %d", d.pos)
		}
	}
	d.ws()
	if d.pos != len(d.line) {
		return nil, jsonErr("unexpected data after the object at byte %d", d.pos)
	}
	return d.toRow()
}

func (d *JSONLDecoder) peek() byte {
	if d.pos < len(d.line) {
		return d.line[d.pos]
	}
	return 0
}

func (d *JSONLDecoder) eat(c byte) bool {
	if d.pos < len(d.line) && d.line[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *JSONLDecoder) ws() {
	for d.pos < len(d.line) {
		switch d.line[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

// value parses one JSON value into d.strBuf.
func (d *JSONLDecoder) value() (jsonVal, error) {
	start := len(d.strBuf)
	switch c := d.peek(); {
	case c == '"':
		var err error
		if d.strBuf, err = d.str(d.strBuf); err != nil {
			return jsonVal{}, err
		}
		return jsonVal{kind: 's', start: start, end: len(d.strBuf)}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		p := d.pos
		if !d.number() {
			return jsonVal{}, jsonErr("bad number at byte %d", p)
		}
		d.strBuf = append(d.strBuf, d.line[p:d.pos]...)
		return jsonVal{kind: 'n', start: start, end: len(d.strBuf)}, nil
	case c == 't' || c == 'f' || c == 'n':
		lit, kind := "null", byte('z')
		switch c {
		case 't':
			lit, kind = "true", 't'
		case 'f':
			lit, kind = "false", 'f'
		}
		if len(d.line)-d.pos >= len(lit) && string(d.line[d.pos:d.pos+len(lit)]) == lit {
			d.pos += len(lit)
			return jsonVal{kind: kind}, nil
		}
	case c == '{' || c == '[':
		p := d.pos
		if err := d.skipNested(); err != nil {
			return jsonVal{}, err
		}
		d.strBuf = append(d.strBuf, d.line[p:d.pos]...)
		return jsonVal{kind: 'j', start: start, end: len(d.strBuf)}, nil
	}
	return jsonVal{}, jsonErr("unexpected character at byte %d", d.pos)
}

// number scans a JSON number.
func (d *JSONLDecoder) number() bool {
	l := d.line
	i := d.pos
	if i < len(l) && l[i] == '-' {
		i++
	}
	if i >= len(l) {
		return false
	}
	if l[i] == '0' {
		i++
	} else if l[i] >= '1' && l[i] <= '9' {
		for i < len(l) && l[i] >= '0' && l[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(l) && l[i] == '.' {
		i++
		j := i
		for i < len(l) && l[i] >= '0' && l[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(l) && (l[i] == 'e' || l[i] == 'E') {
		i++
		if i < len(l) && (l[i] == '+' || l[i] == '-') {
			i++
		}
		j := i
		for i < len(l) && l[i] >= '0' && l[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	d.pos = i
	return true
}

// str parses a JSON string at d.pos and appends its unescaped text to out.
func (d *JSONLDecoder) str(out []byte) ([]byte, error) {
	l := d.line
	i := d.pos + 1
	for {
		// Copy a run of plain bytes.
		j := i
		for j < len(l) && l[j] != '"' && l[j] != '\\' && l[j] >= 0x20 {
			j++
		}
		out = append(out, l[i:j]...)
		i = j
		if i >= len(l) {
			return out, jsonErr("unterminated string")
		}
		switch c := l[i]; {
		case c == '"':
			d.pos = i + 1
			return out, nil
		case c < 0x20:
			return out, jsonErr("control character in string at byte %d", i)
		}
		// Backslash escape.
		if i+1 >= len(l) {
			return out, jsonErr("unterminated string")
		}
		e := l[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
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
		case 'u':
			r, ok := hex4(l, i)
			if !ok {
				return out, jsonErr("bad \\u escape at byte %d", i-2)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(l) && l[i] == '\\' && l[i+1] == 'u' {
					r2, ok = hex4(l, i+2)
				}
				dec := utf16.DecodeRune(r, r2)
				if !ok || dec == utf8.RuneError {
					return out, jsonErr("bad surrogate pair at byte %d", i-6)
				}
				i += 6
				r = dec
			}
			if r == 0 {
				return out, pgerr.New(pgerr.CharacterNotInRepertoire, "invalid JSON: \\u0000 cannot be converted to text")
			}
			out = utf8.AppendRune(out, r)
		default:
			return out, jsonErr("bad escape at byte %d", i-2)
		}
	}
}

func hex4(l []byte, i int) (rune, bool) {
	if i+4 > len(l) {
		return 0, false
	}
	var r rune
	for _, c := range l[i : i+4] {
		if !isHex(c) {
			return 0, false
		}
		r = r*16 + rune(hexVal(c))
	}
	return r, true
}

// skipNested skips a JSON array or object, checking its syntax.
func (d *JSONLDecoder) skipNested() error {
	open := d.line[d.pos]
	d.pos++
	closeC := byte('}')
	if open == '[' {
		closeC = ']'
	}
	d.ws()
	if d.eat(closeC) {
		return nil
	}
	var scratch []byte
	for {
		d.ws()
		if open == '{' {
			if d.peek() != '"' {
				return jsonErr("expected a key at byte %d", d.pos)
			}
			var err error
			if scratch, err = d.str(scratch[:0]); err != nil {
				return err
			}
			d.ws()
			if !d.eat(':') {
				return jsonErr("expected ':' at byte %d", d.pos)
			}
			d.ws()
		}
		mark := len(d.strBuf)
		if _, err := d.value(); err != nil {
			return err
		}
		d.strBuf = d.strBuf[:mark]
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat(closeC) {
			return nil
		}
		return jsonErr("expected ',' or '%c' at byte %d", closeC, d.pos)
	}
}

func (d *JSONLDecoder) toRow() (datum.Row, error) {
	row := d.slab.row(len(d.schema))
	for c, col := range d.schema {
		v := d.vals[c]
		if v.kind == 0 || v.kind == 'z' {
			if col.NotNull {
				return nil, notNullErr(col.Name)
			}
			row[c] = datum.Null
			continue
		}
		b := d.strBuf[v.start:v.end]
		if v.kind == 's' {
			// A number or timestamp in a JSON string parses from a
			// transient view; only a value that keeps text is copied.
			if x, ok := d.conv.parseFast(c, b); ok {
				row[c] = x
				continue
			}
		}
		x, err := d.convert(c, col, v, d.strs.string(b))
		if err != nil {
			return nil, err
		}
		row[c] = x
	}
	return row, nil
}

func (d *JSONLDecoder) convert(c int, col Column, v jsonVal, s string) (datum.Datum, error) {
	k := col.Type.Kind()
	switch v.kind {
	case 's':
		return d.conv.parse(c, s)
	case 't', 'f':
		switch k {
		case datum.KindBool:
			return datum.NewBool(v.kind == 't'), nil
		case datum.KindString:
			if v.kind == 't' {
				return datum.NewString("true"), nil
			}
			return datum.NewString("false"), nil
		}
	case 'n':
		switch k {
		case datum.KindString:
			return datum.NewString(s), nil
		case datum.KindInt:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				f, ferr := strconv.ParseFloat(s, 64)
				if ferr == nil && f == math.Trunc(f) && math.Abs(f) >= 1<<63 {
					return datum.Null, columnErr(col.Name, pgerr.New(pgerr.NumericValueOutOfRange, "value %q is out of range for type %s", s, col.Type))
				}
				if ferr != nil || f != math.Trunc(f) {
					return datum.Null, columnErr(col.Name, pgerr.New(pgerr.InvalidTextRepresentation,
						"invalid input syntax for type %s: %q", strings.ToLower(col.Type.String()), s))
				}
				n = int64(f)
			}
			if !intFits(col.Type, n) {
				return datum.Null, columnErr(col.Name, pgerr.New(pgerr.NumericValueOutOfRange, "value %q is out of range for type %s", s, col.Type))
			}
			return datum.NewInt(n), nil
		case datum.KindFloat:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return datum.Null, columnErr(col.Name, pgerr.New(pgerr.NumericValueOutOfRange, "value %q is out of range for type %s", s, col.Type))
			}
			return datum.NewFloat(f), nil
		case datum.KindTimestamp:
			// Epoch milliseconds.
			if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > math.MinInt64/1000 && ms < math.MaxInt64/1000 {
				return datum.NewTimestamp(ms * 1000), nil
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil && math.Abs(f) < math.MaxInt64/1000 {
				return datum.NewTimestamp(int64(math.Round(f * 1000))), nil
			}
			return datum.Null, columnErr(col.Name, pgerr.New(pgerr.DatetimeFieldOverflow, "timestamp out of range: %s", s))
		}
	case 'j':
		if k == datum.KindString {
			return datum.NewString(s), nil
		}
	}
	kindWord := map[byte]string{'t': "boolean", 'f': "boolean", 'n': "number", 'j': "array or object"}[v.kind]
	return datum.Null, columnErr(col.Name, pgerr.New(pgerr.DatatypeMismatch, "cannot convert a JSON %s to %s", kindWord, col.Type))
}

func intFits(t datum.Type, n int64) bool {
	switch t {
	case datum.TypeInt2:
		return n >= math.MinInt16 && n <= math.MaxInt16
	case datum.TypeInt4:
		return n >= math.MinInt32 && n <= math.MaxInt32
	}
	return true
}

// AppendJSONL appends row as one JSON object line keyed by the schema's
// column names. Numbers and booleans are JSON numbers and booleans (NaN and
// infinities are strings), NULL is null, everything else is a JSON string
// of its PostgreSQL text form (timestamps as "2006-01-02T15:04:05.999999").
func AppendJSONL(buf []byte, row datum.Row, schema []Column) []byte {
	buf = append(buf, '{')
	for i, d := range row {
		if i > 0 {
			buf = append(buf, ',')
		}
		name := "?"
		if i < len(schema) {
			name = schema[i].Name
		}
		buf = appendJSONString(buf, name)
		buf = append(buf, ':')
		switch d.Kind() {
		case datum.KindNull:
			buf = append(buf, "null"...)
		case datum.KindBool:
			buf = strconv.AppendBool(buf, d.Bool())
		case datum.KindInt:
			buf = strconv.AppendInt(buf, d.Int(), 10)
		case datum.KindFloat:
			f := d.Float()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				buf = appendJSONString(buf, datum.FormatFloat(f))
			} else {
				buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
			}
		case datum.KindTimestamp:
			buf = appendJSONString(buf, strings.Replace(d.Format(), " ", "T", 1))
		default:
			buf = appendJSONString(buf, d.Format())
		}
	}
	return append(buf, '}', '\n')
}

func appendJSONString(buf []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}
