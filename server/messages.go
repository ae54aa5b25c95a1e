package server

import (
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/pgerr"
)

// cmd is an entry of the command queue.
type cmd interface {
	// size is the bytes the entry holds, for the queue's budget.
	size() int
}

// msgCmd is a frontend message, copied out of the protocol reader's
// buffers (pgproto3 reuses them on the next Receive).
type msgCmd struct {
	msg pgproto3.FrontendMessage
	n   int
}

func (m *msgCmd) size() int { return m.n }

// fatalCmd reports a protocol error found by the reader: the executor
// sends it as FATAL and closes the connection.
type fatalCmd struct{ err *pgerr.Error }

func (*fatalCmd) size() int { return 0 }

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// copyMessage deep-copies a received message.
func copyMessage(msg pgproto3.FrontendMessage) cmd {
	const overhead = 64
	switch m := msg.(type) {
	case *pgproto3.Query:
		return &msgCmd{&pgproto3.Query{String: m.String}, overhead + len(m.String)}
	case *pgproto3.Parse:
		return &msgCmd{&pgproto3.Parse{Name: m.Name, Query: m.Query,
			ParameterOIDs: append([]uint32(nil), m.ParameterOIDs...)}, overhead + len(m.Query) + 4*len(m.ParameterOIDs)}
	case *pgproto3.Bind:
		b := &pgproto3.Bind{
			DestinationPortal:    m.DestinationPortal,
			PreparedStatement:    m.PreparedStatement,
			ParameterFormatCodes: append([]int16(nil), m.ParameterFormatCodes...),
			ResultFormatCodes:    append([]int16(nil), m.ResultFormatCodes...),
			Parameters:           make([][]byte, len(m.Parameters)),
		}
		n := overhead
		for i, p := range m.Parameters {
			b.Parameters[i] = cloneBytes(p)
			n += len(p) + 8
		}
		return &msgCmd{b, n}
	case *pgproto3.Describe:
		return &msgCmd{&pgproto3.Describe{ObjectType: m.ObjectType, Name: m.Name}, overhead}
	case *pgproto3.Execute:
		return &msgCmd{&pgproto3.Execute{Portal: m.Portal, MaxRows: m.MaxRows}, overhead}
	case *pgproto3.Close:
		return &msgCmd{&pgproto3.Close{ObjectType: m.ObjectType, Name: m.Name}, overhead}
	case *pgproto3.Sync:
		return &msgCmd{&pgproto3.Sync{}, overhead}
	case *pgproto3.Flush:
		return &msgCmd{&pgproto3.Flush{}, overhead}
	case *pgproto3.CopyData:
		return &msgCmd{&pgproto3.CopyData{Data: cloneBytes(m.Data)}, overhead + len(m.Data)}
	case *pgproto3.CopyDone:
		return &msgCmd{&pgproto3.CopyDone{}, overhead}
	case *pgproto3.CopyFail:
		return &msgCmd{&pgproto3.CopyFail{Message: m.Message}, overhead + len(m.Message)}
	case *pgproto3.FunctionCall:
		return &msgCmd{&pgproto3.FunctionCall{Function: m.Function}, overhead}
	}
	// Messages that make no sense after startup (a password message, a
	// second startup message) end the connection, as in PostgreSQL.
	return &fatalCmd{err: pgerr.New(pgerr.ProtocolViolation, "unexpected frontend message %T after startup", msg)}
}
