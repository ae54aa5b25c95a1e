package server

import (
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/pgerr"
)

// Errors get their SQLSTATE where they are made (the parser, the planner,
// the engine, this package); here, once, they are flattened into an
// ErrorResponse. pgerr positions are 1-based byte offsets into the text the
// error refers to; the wire's 'P' field counts characters.

// sendError sends pe with the given severity ("ERROR", "FATAL"). query is
// the text pe.Pos refers to ("" if pe has no position or it is relative to
// nothing the client sent); base is added for a statement that started
// inside a longer query string.
func (c *conn) sendError(pe *pgerr.Error, severity string, query string) {
	c.send(errorResponse(pe, severity, query))
}

func errorResponse(pe *pgerr.Error, severity string, query string) *pgproto3.ErrorResponse {
	code := pe.Code
	if code == "" {
		code = pgerr.InternalError
	}
	e := &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                code,
		Message:             pe.Message,
		Detail:              pe.Detail,
		Hint:                pe.Hint,
	}
	if pe.Pos > 0 && query != "" {
		e.Position = int32(charPos(query, pe.Pos))
	}
	return e
}

// charPos converts a 1-based byte offset in s into a 1-based character
// position.
func charPos(s string, bytePos int) int {
	if bytePos-1 > len(s) {
		return utf8.RuneCountInString(s) + 1
	}
	return utf8.RuneCountInString(s[:bytePos-1]) + 1
}

// notice sends a NoticeResponse.
func (c *conn) notice(severity, code, msg string) {
	c.send(&pgproto3.NoticeResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                code,
		Message:             msg,
	})
}

// withOffset returns err positioned in the full query string for a
// statement that starts offset bytes into it.
func withOffset(err error, offset int) *pgerr.Error {
	pe := pgerr.Wrap(err)
	if pe.Pos > 0 && offset > 0 {
		return pe.WithPos(pe.Pos + offset)
	}
	return pe
}
