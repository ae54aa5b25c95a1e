package connector

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Message sources (kafka, nats) decode one message payload into a row: a
// JSON object (as one JSON Lines line) or one CSV record (PostgreSQL COPY
// CSV rules, no header; a trailing newline is ignored). Columns whose
// names are metadata names of the connector (_key, _partition, _offset,
// _headers, _timestamp for Kafka; _subject, _sequence, _headers,
// _timestamp for NATS) are filled from the message instead of the payload,
// and with ts_from the event-time column takes the broker's timestamp.

// metaKind says where a metadata column's value comes from.
type metaKind uint8

const (
	metaNone metaKind = iota
	metaKey
	metaPartition
	metaOffset
	metaHeaders
	metaTimestamp
	metaSubject
)

// msgMeta is what a message carries besides its payload.
type msgMeta struct {
	key       []byte
	partition int64
	offset    int64
	headers   []msgHeader
	timestamp int64 // micros
	subject   string
}

type msgHeader struct {
	key   string
	value []byte
}

// msgCodec decodes message payloads for a schema (one per reader: it
// reuses buffers).
type msgCodec struct {
	what    string // "kafka source \"s\""
	schema  []Column
	kinds   []metaKind // per schema column: metaNone = from the payload
	payload []int      // payload column i → schema column
	json    *JSONLDecoder
	csv     *CSVDecoder
	slab    rowSlab
	hdrBuf  []byte
}

// newMsgCodec validates the metadata columns and builds the payload
// decoder. names maps a metadata column name to its kind; tsCol >= 0 is the
// event-time column filled from the message timestamp (ts_from).
func newMsgCodec(what string, schema []Column, format string, names map[string]metaKind, tsCol int) (*msgCodec, error) {
	c := &msgCodec{what: what, schema: schema, kinds: make([]metaKind, len(schema))}
	var payload []Column
	for i, col := range schema {
		k := names[strings.ToLower(col.Name)]
		if i == tsCol {
			k = metaTimestamp
		}
		c.kinds[i] = k
		if k == metaNone {
			c.payload = append(c.payload, i)
			payload = append(payload, col)
			continue
		}
		kind := col.Type.Kind()
		ok := true
		want := ""
		switch k {
		case metaKey, metaHeaders:
			ok, want = kind == datum.KindString || kind == datum.KindBytes, "VARCHAR or BYTEA"
		case metaPartition, metaOffset:
			ok, want = kind == datum.KindInt && (col.Type == datum.TypeInt8 || k == metaPartition), "BIGINT"
		case metaTimestamp:
			ok, want = kind == datum.KindTimestamp, "TIMESTAMP"
		case metaSubject:
			ok, want = kind == datum.KindString, "VARCHAR"
		}
		if !ok {
			return nil, pgerr.New(pgerr.DatatypeMismatch, "%s: column %q is of type %s but must be %s", what, col.Name, col.Type, want)
		}
	}
	switch format {
	case "", "json", "jsonl":
		c.json = NewJSONLDecoder(nil, payload)
	case "csv":
		c.csv = NewCSVDecoder(nil, payload, CSVOptions{NoEndMarker: true})
	default:
		return nil, badOption(what, "format", format, "expected 'json' or 'csv'")
	}
	return c, nil
}

// decode turns one message into a Record at offset: a row, or an error
// record carrying the payload as Raw (malformed JSON or CSV, a value that
// does not parse, invalid UTF-8, a missing payload, a payload over
// MaxRecordBytes: its first 64 KiB).
func (c *msgCodec) decode(value []byte, m *msgMeta, offset int64) Record {
	if len(value) > MaxRecordBytes {
		return badRecord(offset, value[:maxRawBytes], pgerr.New(pgerr.ProgramLimitExceeded, "message is longer than %d bytes", MaxRecordBytes))
	}
	if value == nil {
		return badRecord(offset, nil, pgerr.New(pgerr.NullValueNotAllowed, "message has no value (a tombstone)"))
	}
	if !validText(value) {
		return badRecord(offset, value, invalidUTF8(value))
	}
	var prow datum.Row
	var err error
	if c.json != nil {
		if isBlank(value) {
			return badRecord(offset, value, jsonErr("empty message"))
		}
		prow, err = c.json.decode(value)
	} else {
		line := value
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
		}
		if msg := c.csv.split(line); msg != "" {
			return badRecord(offset, value, pgerr.New(pgerr.BadCopyFileFormat, "%s", msg))
		}
		prow, err = c.csv.toRow()
	}
	if err != nil {
		return badRecord(offset, value, err)
	}
	row := c.slab.row(len(c.schema))
	for i, src := range c.payload {
		row[src] = prow[i]
	}
	for i, k := range c.kinds {
		if k == metaNone {
			continue
		}
		d, err := c.metaValue(i, k, m)
		if err != nil {
			return badRecord(offset, value, err)
		}
		row[i] = d
	}
	return Record{Row: row, Offset: offset}
}

func (c *msgCodec) metaValue(col int, k metaKind, m *msgMeta) (datum.Datum, error) {
	typ := c.schema[col]
	text := typ.Type.Kind() == datum.KindString
	var d datum.Datum
	switch k {
	case metaKey:
		if m.key == nil {
			d = datum.Null
		} else if text {
			if !validText(m.key) {
				return datum.Null, columnErr(typ.Name, invalidUTF8(m.key))
			}
			d = datum.NewString(string(m.key))
		} else {
			d = datum.NewBytes(m.key)
		}
	case metaPartition:
		d = datum.NewInt(m.partition)
	case metaOffset:
		d = datum.NewInt(m.offset)
	case metaTimestamp:
		d = datum.NewTimestamp(m.timestamp)
	case metaSubject:
		d = datum.NewString(m.subject)
	case metaHeaders:
		// A JSON object of the headers in order (a repeated key repeats).
		b := append(c.hdrBuf[:0], '{')
		for i, h := range m.headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, h.key)
			b = append(b, ':')
			b = appendJSONString(b, string(h.value))
		}
		b = append(b, '}')
		c.hdrBuf = b
		if text {
			if !validText(b) {
				return datum.Null, columnErr(typ.Name, invalidUTF8(b))
			}
			d = datum.NewString(string(b))
		} else {
			d = datum.NewBytes(b)
		}
	}
	if d.IsNull() && typ.NotNull {
		return datum.Null, notNullErr(typ.Name)
	}
	return d, nil
}
