package connector

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// rowConverter turns field text into datums of a schema's column types.
type rowConverter struct {
	types []datum.Type
	names []string
	// The date (first 10 bytes) of the last timestamp parsed, and its
	// days since the epoch.
	lastDate string
	lastDays int64
}

func (c *rowConverter) init(schema []Column) {
	c.types = make([]datum.Type, len(schema))
	c.names = make([]string, len(schema))
	for i, col := range schema {
		c.types[i] = col.Type
		c.names[i] = col.Name
	}
}

// parseFast converts b for column col when col is a number or a timestamp
// and b is in the common form; ok is false otherwise (use parse). The
// result does not reference b.
func (c *rowConverter) parseFast(col int, b []byte) (datum.Datum, bool) {
	if len(b) == 0 {
		return datum.Null, false
	}
	t := c.types[col]
	s := unsafe.String(&b[0], len(b)) // not retained: the datums are numeric
	switch t.Kind() {
	case datum.KindTimestamp:
		if us, ok := c.timestamp(s); ok {
			return datum.NewTimestamp(us), true
		}
	case datum.KindInt:
		if v, ok := fastInt(s); ok && intFits(t, v) {
			return datum.NewInt(v), true
		}
	case datum.KindFloat:
		if plainNumber(s) {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				return datum.NewFloat(v), true
			}
		}
	}
	return datum.Null, false
}

// timestamp is fastTimestamp with the date of the last timestamp parsed
// remembered (consecutive records mostly share their date).
func (c *rowConverter) timestamp(s string) (int64, bool) {
	if len(s) < 19 {
		return 0, false
	}
	days := c.lastDays
	if c.lastDate == "" || s[:10] != c.lastDate {
		var ok bool
		if days, ok = fastDate(s); !ok {
			return 0, false
		}
		c.lastDate, c.lastDays = strings.Clone(s[:10]), days
	}
	tod, ok := fastTimeOfDay(s)
	if !ok {
		return 0, false
	}
	return days*86_400_000_000 + tod, true
}

// parse converts s (PostgreSQL text input) for column col.
func (c *rowConverter) parse(col int, s string) (datum.Datum, error) {
	t := c.types[col]
	switch t.Kind() {
	case datum.KindString:
		// The record was checked for valid UTF-8 as a whole.
		return datum.NewString(s), nil
	case datum.KindTimestamp:
		if us, ok := fastTimestamp(s); ok {
			return datum.NewTimestamp(us), nil
		}
	case datum.KindInt:
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && intFits(t, v) {
			return datum.NewInt(v), nil
		}
	case datum.KindFloat:
		if plainNumber(s) {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				return datum.NewFloat(v), nil
			}
		}
	}
	v, err := datum.Parse(t, s)
	if err != nil {
		return datum.Null, columnErr(c.names[col], err)
	}
	return v, nil
}

// plainNumber reports whether s is made only of digits, signs, '.', 'e'
// and 'E' (so strconv.ParseFloat reads it exactly as PostgreSQL does).
func plainNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

// columnErr prefixes a conversion error with its column's name.
func columnErr(col string, err error) error {
	pe := pgerr.Wrap(err)
	out := *pe
	out.Message = "column " + quoteIdent(col) + ": " + pe.Message
	return &out
}

func quoteIdent(s string) string { return `"` + s + `"` }

// fastTimestamp parses "YYYY-MM-DD HH:MM:SS[.ffffff]" (or with 'T', with an
// optional trailing 'Z') without allocating. Anything else (zones, short
// forms, out-of-range fields) is left to datum.Parse.
func fastTimestamp(s string) (int64, bool) {
	days, ok := fastDate(s)
	if !ok {
		return 0, false
	}
	tod, ok := fastTimeOfDay(s)
	if !ok {
		return 0, false
	}
	return days*86_400_000_000 + tod, true
}

// fastDate returns the days since 1970-01-01 of the date s starts with
// (fastTimestamp's form); ok is false for any other form.
func fastDate(s string) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := fastDigits(s[0:4])
	mo, ok2 := fastDigits(s[5:7])
	d, ok3 := fastDigits(s[8:10])
	if !(ok1 && ok2 && ok3) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, false
	}
	return daysFromCivil(y, mo, d), true
}

// fastTimeOfDay returns the microseconds since midnight of the time of day
// in fastTimestamp's form s (from its 11th byte on).
func fastTimeOfDay(s string) (int64, bool) {
	if len(s) > 0 && s[len(s)-1] == 'Z' {
		s = s[:len(s)-1]
	}
	if len(s) < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	h, ok1 := fastDigits(s[11:13])
	mi, ok2 := fastDigits(s[14:16])
	sec, ok3 := fastDigits(s[17:19])
	if !(ok1 && ok2 && ok3) || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	var frac int64
	if len(s) > 19 {
		if s[19] != '.' || len(s) == 20 || len(s) > 26 {
			return 0, false
		}
		n := len(s) - 20
		f, ok := fastDigits(s[20:])
		if !ok {
			return 0, false
		}
		for ; n < 6; n++ {
			f *= 10
		}
		frac = f
	}
	return ((h*60+mi)*60+sec)*1_000_000 + frac, true
}

// fastDigits parses a non-empty run of at most 18 decimal digits.
func fastDigits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// fastInt parses an optionally signed decimal integer of at most 18 digits
// (so it cannot overflow); ok is false for anything else (strconv and
// datum.Parse take those).
func fastInt(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	v, ok := fastDigits(s)
	if neg {
		v = -v
	}
	return v, ok
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
