package console

import (
	"strconv"
	"unicode/utf8"

	"github.com/weir-sql/weir/pgerr"
)

func itoa(n int) string { return strconv.Itoa(n) }

// decodeRune returns the UTF-8 character at the start of b and its length,
// or "" for an invalid sequence.
func decodeRune(b []byte) (string, int) {
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n <= 1 {
		return "", 1
	}
	return string(b[:n]), n
}

// errorText prints an engine error as psql does: "SQLSTATE: message".
func errorText(err error) string {
	pe := pgerr.Wrap(err)
	return pe.Code + ": " + pe.Message
}
