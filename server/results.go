package server

import (
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
)

// formatAt returns the format code for column i of a Bind's format list:
// none means text for all, one applies to all, else one per column.
func formatAt(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return fmtText
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return fmtText
}

// rowDescription describes cols with the given result formats.
func rowDescription(cols []engine.Column, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, col := range cols {
		rd.Fields[i] = pgproto3.FieldDescription{
			Name:         []byte(col.Name),
			DataTypeOID:  wireOID(col.Type),
			DataTypeSize: typeSize(col.Type),
			TypeModifier: -1,
			Format:       formatAt(formats, i),
		}
	}
	return rd
}

// sendDataRow encodes row straight into the output buffer (a DataRow per
// result row is the hot path of a large SELECT). types are the described
// column types; values past them are sent as text.
func (c *conn) sendDataRow(types []datum.Type, row datum.Row, formats []int16) error {
	if c.werr != nil {
		return c.werr
	}
	b := c.wbuf
	start := len(b)
	b = append(b, 'D', 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
	for i, d := range row {
		if d.IsNull() {
			b = append(b, 0xff, 0xff, 0xff, 0xff)
			continue
		}
		t := datum.TypeUnknown
		if i < len(types) {
			t = types[i]
		}
		lp := len(b)
		b = append(b, 0, 0, 0, 0)
		if formatAt(formats, i) == fmtBinary {
			var err error
			if b, err = appendBinary(b, t, d); err != nil {
				c.wbuf = b[:start]
				return err
			}
		} else {
			b = appendText(b, t, d)
		}
		binary.BigEndian.PutUint32(b[lp:], uint32(len(b)-lp-4))
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-1))
	c.wbuf = b
	if len(c.wbuf) >= flushThreshold {
		return c.flush()
	}
	return nil
}

func columnTypes(cols []engine.Column) []datum.Type {
	t := make([]datum.Type, len(cols))
	for i, c := range cols {
		t[i] = c.Type
	}
	return t
}

// sendNotices sends a result's notices.
func (c *conn) sendNotices(r *engine.Result) {
	for _, n := range r.Notices {
		c.notice("NOTICE", "00000", n)
	}
}

// sendSimpleResult sends one statement's result in the simple protocol:
// RowDescription, DataRows (text), CommandComplete.
func (c *conn) sendSimpleResult(r *engine.Result) error {
	c.sendNotices(r)
	if r.Columns == nil && r.Tag == "" {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if r.Columns != nil {
		c.send(rowDescription(r.Columns, nil))
		types := columnTypes(r.Columns)
		for _, row := range r.Rows {
			if err := c.sendDataRow(types, row, nil); err != nil {
				return err
			}
		}
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(r.Tag)})
	return nil
}
