package expr

import (
	"math"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Time arithmetic on datum's representation: timestamps are microseconds
// since 1970-01-01 00:00:00 UTC (math.MaxInt64/MinInt64 are ±infinity),
// dates are days since the epoch, intervals are months plus microseconds.
// Everything is UTC; there is no session time zone.

const (
	usPerMs   = int64(1000)
	usPerSec  = int64(1_000_000)
	usPerMin  = 60 * usPerSec
	usPerHour = 60 * usPerMin
	usPerDay  = 24 * usPerHour
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// civilFromDays converts days since the epoch to a proleptic Gregorian date
// (astronomical years: 0 is 1 BC). Howard Hinnant's algorithm.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civilFromDays.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64(m)
	if mp > 2 {
		mp -= 3
	} else {
		mp += 9
	}
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y int64, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// maxYear bounds calendar arithmetic well inside int64 microseconds.
const maxYear = 294000

// addMonths adds months to a timestamp, clamping the day to the end of the
// resulting month (2024-01-31 + 1 month = 2024-02-29), as PostgreSQL does.
func addMonths(us int64, months int64) (int64, error) {
	days, tod := floorDiv(us, usPerDay), floorMod(us, usPerDay)
	y, m, d := civilFromDays(days)
	total := y*12 + int64(m-1) + months
	ny, nm := floorDiv(total, 12), int(floorMod(total, 12))+1
	if ny > maxYear || ny < -maxYear {
		return 0, errOutOfRange(datum.TypeTimestamp)
	}
	if dim := daysInMonth(ny, nm); d > dim {
		d = dim
	}
	return daysFromCivil(ny, nm, d)*usPerDay + tod, nil
}

func addOverflows(a, b int64) (int64, bool) {
	r := a + b
	return r, (a^r)&(b^r) < 0
}

func subOverflows(a, b int64) (int64, bool) {
	r := a - b
	return r, (a^b)&(a^r) < 0
}

// tsAddInterval computes ts + interval: months first, then microseconds.
// Infinite timestamps stay infinite.
func tsAddInterval(us int64, months int32, ius int64) (int64, error) {
	if isInfTS(us) {
		return us, nil
	}
	if months != 0 {
		var err error
		if us, err = addMonths(us, int64(months)); err != nil {
			return 0, err
		}
	}
	r, ovf := addOverflows(us, ius)
	if ovf || isInfTS(r) {
		return 0, errOutOfRange(datum.TypeTimestamp)
	}
	return r, nil
}

// intervalMul scales an interval; a fractional month spills into days of
// 30 days, as in PostgreSQL.
func intervalMul(months int32, us int64, f float64) (datum.Datum, error) {
	m := float64(months) * f
	mi := math.Trunc(m)
	total := float64(us)*f + (m-mi)*30*float64(usPerDay)
	return makeInterval(mi, total)
}

func intervalDiv(months int32, us int64, f float64) (datum.Datum, error) {
	if f == 0 {
		return datum.Null, errDivByZero()
	}
	m := float64(months) / f
	mi := math.Trunc(m)
	total := float64(us)/f + (m-mi)*30*float64(usPerDay)
	return makeInterval(mi, total)
}

func makeInterval(months, us float64) (datum.Datum, error) {
	if math.IsNaN(months) || math.IsNaN(us) || math.Abs(months) > math.MaxInt32 || math.Abs(us) >= 9.2e18 {
		return datum.Null, errOutOfRange(datum.TypeInterval)
	}
	return datum.NewInterval(int32(months), int64(math.Round(us))), nil
}

// Units of date_trunc, extract and date_part.
type timeUnit uint8

const (
	unitNone timeUnit = iota
	unitMicrosecond
	unitMillisecond
	unitSecond
	unitMinute
	unitHour
	unitDay
	unitWeek
	unitMonth
	unitQuarter
	unitYear
	unitDecade
	unitCentury
	unitMillennium
	unitEpoch
	unitDow
	unitIsoDow
	unitDoy
	unitIsoYear
	unitJulian
	unitTimezone
	unitTimezoneHour
	unitTimezoneMinute
)

var unitNames = map[string]timeUnit{
	"microsecond": unitMicrosecond, "microseconds": unitMicrosecond, "us": unitMicrosecond, "usec": unitMicrosecond, "usecs": unitMicrosecond, "useconds": unitMicrosecond,
	"millisecond": unitMillisecond, "milliseconds": unitMillisecond, "ms": unitMillisecond, "msec": unitMillisecond, "msecs": unitMillisecond, "mseconds": unitMillisecond,
	"second": unitSecond, "seconds": unitSecond, "sec": unitSecond, "secs": unitSecond, "s": unitSecond,
	"minute": unitMinute, "minutes": unitMinute, "min": unitMinute, "mins": unitMinute, "m": unitMinute,
	"hour": unitHour, "hours": unitHour, "hr": unitHour, "hrs": unitHour, "h": unitHour,
	"day": unitDay, "days": unitDay, "d": unitDay,
	"week": unitWeek, "weeks": unitWeek, "w": unitWeek,
	"month": unitMonth, "months": unitMonth, "mon": unitMonth, "mons": unitMonth,
	"quarter": unitQuarter, "qtr": unitQuarter,
	"year": unitYear, "years": unitYear, "yr": unitYear, "yrs": unitYear, "y": unitYear,
	"decade": unitDecade, "decades": unitDecade, "dec": unitDecade,
	"century": unitCentury, "centuries": unitCentury, "cent": unitCentury, "c": unitCentury,
	"millennium": unitMillennium, "millennia": unitMillennium, "millenniums": unitMillennium, "mil": unitMillennium,
	"epoch": unitEpoch, "dow": unitDow, "isodow": unitIsoDow, "doy": unitDoy, "isoyear": unitIsoYear,
	"julian": unitJulian, "j": unitJulian,
	"timezone": unitTimezone, "timezone_hour": unitTimezoneHour, "timezone_minute": unitTimezoneMinute,
}

func lookupUnit(s string) timeUnit {
	return unitNames[strings.ToLower(strings.TrimSpace(s))]
}

func errUnit(unit string, t datum.Type, recognized bool) error {
	if recognized {
		return pgerr.New(pgerr.FeatureNotSupported, "unit %q not supported for type %s", strings.ToLower(unit), pgTypeName(t))
	}
	return pgerr.New(pgerr.InvalidParameterValue, "unit %q not recognized for type %s", strings.ToLower(unit), pgTypeName(t))
}

// truncUnit validates a date_trunc unit.
func truncUnit(unit string, t datum.Type) (timeUnit, error) {
	u := lookupUnit(unit)
	if u == unitNone || u > unitMillennium {
		return 0, errUnit(unit, t, u != unitNone)
	}
	return u, nil
}

// truncTS truncates a timestamp to the start of its unit (weeks start on
// Monday; centuries and millennia start in years ending in 01, as in
// PostgreSQL).
func truncTS(u timeUnit, us int64) int64 {
	if isInfTS(us) {
		return us
	}
	switch u {
	case unitMicrosecond:
		return us
	case unitMillisecond:
		return floorDiv(us, usPerMs) * usPerMs
	case unitSecond:
		return floorDiv(us, usPerSec) * usPerSec
	case unitMinute:
		return floorDiv(us, usPerMin) * usPerMin
	case unitHour:
		return floorDiv(us, usPerHour) * usPerHour
	case unitDay:
		return floorDiv(us, usPerDay) * usPerDay
	case unitWeek:
		days := floorDiv(us, usPerDay)
		return (days - floorMod(days+3, 7)) * usPerDay
	}
	y, m, _ := civilFromDays(floorDiv(us, usPerDay))
	switch u {
	case unitMonth:
	case unitQuarter:
		m = (m-1)/3*3 + 1
	case unitYear:
		m = 1
	case unitDecade:
		y, m = floorDiv(y, 10)*10, 1
	case unitCentury:
		y, m = floorDiv(y-1, 100)*100+1, 1
	case unitMillennium:
		y, m = floorDiv(y-1, 1000)*1000+1, 1
	}
	return daysFromCivil(y, m, 1) * usPerDay
}

// isoWeek returns the ISO 8601 week-numbering year and week of a day.
func isoWeek(days int64) (year int64, week int64) {
	isodow := floorMod(days+3, 7) + 1 // Monday = 1
	thursday := days - (isodow - 1) + 3
	ty, _, _ := civilFromDays(thursday)
	return ty, (thursday-daysFromCivil(ty, 1, 1))/7 + 1
}

// pgYear converts an astronomical year to PostgreSQL's (no year 0: 1 BC is
// -1).
func pgYear(y int64) int64 {
	if y <= 0 {
		return y - 1
	}
	return y
}

// extractTS computes extract(unit FROM timestamp). ok is false for a NULL
// result (fields of infinite timestamps that have no value).
func extractTS(u timeUnit, us int64) (v float64, ok bool) {
	if isInfTS(us) {
		switch u {
		case unitEpoch, unitYear, unitIsoYear, unitDecade, unitCentury, unitMillennium, unitJulian:
			if us > 0 {
				return math.Inf(1), true
			}
			return math.Inf(-1), true
		}
		return 0, false
	}
	days, tod := floorDiv(us, usPerDay), floorMod(us, usPerDay)
	switch u {
	case unitEpoch:
		return float64(floorDiv(us, usPerSec)) + float64(floorMod(us, usPerSec))/1e6, true
	case unitHour:
		return float64(tod / usPerHour), true
	case unitMinute:
		return float64(tod / usPerMin % 60), true
	case unitSecond:
		return float64(tod%usPerMin) / 1e6, true
	case unitMillisecond:
		return float64(tod%usPerMin) / 1e3, true
	case unitMicrosecond:
		return float64(tod % usPerMin), true
	case unitTimezone, unitTimezoneHour, unitTimezoneMinute:
		return 0, true
	case unitDow:
		return float64(floorMod(days+4, 7)), true
	case unitIsoDow:
		return float64(floorMod(days+3, 7) + 1), true
	case unitWeek:
		_, w := isoWeek(days)
		return float64(w), true
	case unitIsoYear:
		y, _ := isoWeek(days)
		return float64(pgYear(y)), true
	case unitJulian:
		return float64(days+2440588) + float64(tod)/float64(usPerDay), true
	}
	y, m, d := civilFromDays(days)
	switch u {
	case unitYear:
		return float64(pgYear(y)), true
	case unitMonth:
		return float64(m), true
	case unitDay:
		return float64(d), true
	case unitQuarter:
		return float64((m-1)/3 + 1), true
	case unitDoy:
		return float64(days - daysFromCivil(y, 1, 1) + 1), true
	case unitDecade:
		return float64(floorDiv(pgYear(y), 10)), true
	case unitCentury:
		py := pgYear(y)
		if py > 0 {
			return float64((py + 99) / 100), true
		}
		return float64(-((99 - (py + 1)) / 100)), true
	case unitMillennium:
		py := pgYear(y)
		if py > 0 {
			return float64((py + 999) / 1000), true
		}
		return float64(-((999 - (py + 1)) / 1000)), true
	}
	return 0, false
}

// extractUnitOK reports whether extract(unit FROM <type t>) is defined.
func extractUnitOK(u timeUnit, t datum.Type) bool {
	switch t.Kind() {
	case datum.KindDate:
		switch u {
		case unitHour, unitMinute, unitSecond, unitMillisecond, unitMicrosecond,
			unitTimezone, unitTimezoneHour, unitTimezoneMinute:
			return false
		}
	case datum.KindInterval:
		switch u {
		case unitDow, unitIsoDow, unitDoy, unitWeek, unitIsoYear, unitJulian,
			unitTimezone, unitTimezoneHour, unitTimezoneMinute:
			return false
		}
	case datum.KindTimestamp:
		if t == datum.TypeTimestamp {
			switch u {
			case unitTimezone, unitTimezoneHour, unitTimezoneMinute:
				return false
			}
		}
	}
	return u != unitNone
}

// extractInterval computes extract(unit FROM interval).
func extractInterval(u timeUnit, months int32, us int64) float64 {
	years := int64(months / 12)
	switch u {
	case unitEpoch:
		return float64(years)*365.25*86400 + float64(months%12)*30*86400 + float64(us)/1e6
	case unitMillennium:
		return float64(years / 1000)
	case unitCentury:
		return float64(years / 100)
	case unitDecade:
		return float64(years / 10)
	case unitYear:
		return float64(years)
	case unitQuarter:
		return float64(months%12/3 + 1)
	case unitMonth:
		return float64(months % 12)
	case unitDay:
		return float64(us / usPerDay)
	case unitHour:
		return float64(us % usPerDay / usPerHour)
	case unitMinute:
		return float64(us % usPerHour / usPerMin)
	case unitSecond:
		return float64(us%usPerMin) / 1e6
	case unitMillisecond:
		return float64(us%usPerMin) / 1e3
	case unitMicrosecond:
		return float64(us % usPerMin)
	}
	return 0
}
