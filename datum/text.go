package datum

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weir-sql/weir/pgerr"
)

const usPerSec = 1_000_000
const usPerDay = 86400 * usPerSec

// Format returns d in PostgreSQL's text output format ("" for NULL; callers
// that print tables show NULL their own way).
func (d Datum) Format() string {
	switch d.k {
	case KindNull:
		return ""
	case KindBool:
		if d.i != 0 {
			return "t"
		}
		return "f"
	case KindInt:
		return strconv.FormatInt(d.i, 10)
	case KindFloat:
		return FormatFloat(d.Float())
	case KindString:
		return d.s
	case KindBytes:
		return `\x` + hex.EncodeToString([]byte(d.s))
	case KindTimestamp:
		return FormatTimestamp(d.i)
	case KindDate:
		return time.Unix(d.i*86400, 0).UTC().Format("2006-01-02")
	case KindInterval:
		return FormatInterval(d.m, d.i)
	}
	return "?"
}

// FormatFloat formats like PostgreSQL 12+ (shortest exact representation).
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	// PostgreSQL (12+) prints the shortest exact digits, in exponent form
	// only below 1e-4 and from 1e15 up: 1e+15, 1.5e-05.
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e15) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// FormatTimestamp prints microseconds since the epoch as
// "2006-01-02 15:04:05[.ffffff]" in UTC.
func FormatTimestamp(us int64) string {
	switch us {
	case math.MaxInt64:
		return "infinity"
	case math.MinInt64:
		return "-infinity"
	}
	t := time.UnixMicro(us).UTC()
	s := t.Format("2006-01-02 15:04:05.999999")
	return s
}

// FormatInterval prints an interval the way PostgreSQL's default
// IntervalStyle (postgres) does: "1 year 2 mons 3 days 04:05:06.5".
func FormatInterval(months int32, us int64) string {
	var parts []string
	if y := months / 12; y != 0 {
		parts = append(parts, plural(int64(y), "year"))
	}
	if mo := months % 12; mo != 0 {
		parts = append(parts, plural(int64(mo), "mon"))
	}
	days := us / usPerDay
	rest := us % usPerDay
	if days != 0 {
		parts = append(parts, plural(days, "day"))
	}
	if rest != 0 || len(parts) == 0 {
		sign := ""
		if rest < 0 {
			sign = "-"
			rest = -rest
		}
		h := rest / (3600 * usPerSec)
		m := rest / (60 * usPerSec) % 60
		s := rest / usPerSec % 60
		frac := rest % usPerSec
		str := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, s)
		if frac != 0 {
			str += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, str)
	}
	return strings.Join(parts, " ")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Parse reads text in PostgreSQL's input format for type t. Errors carry
// SQLSTATE 22P02 (or 22007/22008 for dates and times).
func Parse(t Type, s string) (Datum, error) {
	switch t.Kind() {
	case KindBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "y", "on", "1":
			return NewBool(true), nil
		case "f", "false", "no", "n", "off", "0":
			return NewBool(false), nil
		}
		return Null, pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type boolean: %q", s)
	case KindInt:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return Null, pgerr.New(pgerr.NumericValueOutOfRange, "value %q is out of range for type %s", s, t)
			}
			return Null, pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type %s: %q", typeWord(t), s)
		}
		switch t {
		case TypeInt2:
			if v < math.MinInt16 || v > math.MaxInt16 {
				return Null, pgerr.New(pgerr.NumericValueOutOfRange, "value %q is out of range for type smallint", s)
			}
		case TypeInt4:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return Null, pgerr.New(pgerr.NumericValueOutOfRange, "value %q is out of range for type integer", s)
			}
		}
		return NewInt(v), nil
	case KindFloat:
		str := strings.TrimSpace(s)
		switch strings.ToLower(str) {
		case "nan":
			return NewFloat(math.NaN()), nil
		case "infinity", "+infinity", "inf":
			return NewFloat(math.Inf(1)), nil
		case "-infinity", "-inf":
			return NewFloat(math.Inf(-1)), nil
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return Null, pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type %s: %q", typeWord(t), s)
		}
		return NewFloat(v), nil
	case KindString:
		if !utf8.ValidString(s) {
			return Null, pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		return NewString(s), nil
	case KindBytes:
		if strings.HasPrefix(s, `\x`) {
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				return Null, pgerr.New(pgerr.InvalidTextRepresentation, "invalid hexadecimal data")
			}
			return NewBytes(b), nil
		}
		return NewBytes([]byte(s)), nil
	case KindTimestamp:
		us, err := ParseTimestamp(s)
		if err != nil {
			return Null, err
		}
		return NewTimestamp(us), nil
	case KindDate:
		tm, err := time.Parse("2006-01-02", strings.TrimSpace(s))
		if err != nil {
			us, err2 := ParseTimestamp(s)
			if err2 != nil {
				return Null, pgerr.New(pgerr.InvalidDatetimeFormat, "invalid input syntax for type date: %q", s)
			}
			return NewDate(floorDiv(us, usPerDay)), nil
		}
		return NewDate(tm.Unix() / 86400), nil
	case KindInterval:
		m, us, err := ParseInterval(s)
		if err != nil {
			return Null, err
		}
		return NewInterval(m, us), nil
	}
	return Null, pgerr.New(pgerr.FeatureNotSupported, "cannot parse values of type %s", t)
}

func typeWord(t Type) string {
	switch t {
	case TypeInt2:
		return "smallint"
	case TypeInt4:
		return "integer"
	case TypeInt8:
		return "bigint"
	case TypeFloat4:
		return "real"
	case TypeFloat8:
		return "double precision"
	case TypeNumeric:
		return "numeric"
	}
	return strings.ToLower(t.String())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseTimestamp reads an ISO-8601 / PostgreSQL timestamp (with or without a
// zone, which is converted to UTC) into microseconds since the epoch.
func ParseTimestamp(s string) (int64, error) {
	str := strings.TrimSpace(s)
	if strings.HasSuffix(str, " UTC") {
		str = strings.TrimSuffix(str, " UTC") + "Z"
		str = strings.Replace(str, " ", "T", 1)
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, str); err == nil {
			return t.UnixMicro(), nil
		}
	}
	switch strings.ToLower(str) {
	case "infinity":
		return math.MaxInt64, nil
	case "-infinity":
		return math.MinInt64, nil
	case "epoch":
		return 0, nil
	}
	return 0, pgerr.New(pgerr.InvalidDatetimeFormat, "invalid input syntax for type timestamp: %q", s)
}

var intervalUnits = map[string]int64{
	"microsecond": 1, "microseconds": 1, "us": 1, "usec": 1, "usecs": 1,
	"millisecond": 1000, "milliseconds": 1000, "ms": 1000, "msec": 1000, "msecs": 1000,
	"second": usPerSec, "seconds": usPerSec, "sec": usPerSec, "secs": usPerSec, "s": usPerSec,
	"minute": 60 * usPerSec, "minutes": 60 * usPerSec, "min": 60 * usPerSec, "mins": 60 * usPerSec, "m": 60 * usPerSec,
	"hour": 3600 * usPerSec, "hours": 3600 * usPerSec, "h": 3600 * usPerSec, "hr": 3600 * usPerSec, "hrs": 3600 * usPerSec,
	"day": usPerDay, "days": usPerDay, "d": usPerDay,
	"week": 7 * usPerDay, "weeks": 7 * usPerDay, "w": 7 * usPerDay,
}

var intervalMonthUnits = map[string]int32{
	"month": 1, "months": 1, "mon": 1, "mons": 1,
	"year": 12, "years": 12, "y": 12, "yr": 12, "yrs": 12,
}

// ParseInterval reads '1 minute', '90 seconds', '1 day 02:00:00', '00:00:05',
// '1h30m' style text into months and microseconds.
func ParseInterval(s string) (int32, int64, error) {
	bad := func() (int32, int64, error) {
		return 0, 0, pgerr.New(pgerr.InvalidDatetimeFormat, "invalid input syntax for type interval: %q", s)
	}
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) == 0 {
		return bad()
	}
	var months int32
	var us int64
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.Contains(f, ":") {
			v, ok := parseClock(f)
			if !ok {
				return bad()
			}
			us += v
			continue
		}
		num, unit := splitNumUnit(f)
		if num == "" {
			return bad()
		}
		if unit == "" {
			if i+1 < len(fields) {
				i++
				unit = fields[i]
			} else {
				unit = "second"
			}
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return bad()
		}
		if m, ok := intervalMonthUnits[unit]; ok {
			months += int32(v * float64(m))
			continue
		}
		mul, ok := intervalUnits[unit]
		if !ok {
			return bad()
		}
		us += int64(math.Round(v * float64(mul)))
	}
	return months, us, nil
}

func splitNumUnit(f string) (string, string) {
	i := 0
	for i < len(f) && (f[i] == '-' || f[i] == '+' || f[i] == '.' || (f[i] >= '0' && f[i] <= '9')) {
		i++
	}
	return f[:i], f[i:]
}

func parseClock(f string) (int64, bool) {
	neg := strings.HasPrefix(f, "-")
	f = strings.TrimPrefix(f, "-")
	parts := strings.Split(f, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	var sec float64
	if len(parts) == 3 {
		var err error
		if sec, err = strconv.ParseFloat(parts[2], 64); err != nil {
			return 0, false
		}
	}
	v := h*3600*usPerSec + m*60*usPerSec + int64(math.Round(sec*usPerSec))
	if neg {
		v = -v
	}
	return v, true
}
