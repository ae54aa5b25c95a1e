package connector

import (
	"encoding/hex"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// datagen is the 'datagen' connector: rows generated from (seed, offset)
// alone, so a replay regenerates identical records. Partition p of n
// generates the global offsets i ≡ p (mod n).
type datagen struct {
	cfg   SourceConfig
	clock Clock
	rows  int64   // -1: unbounded
	rps   float64 // 0: as fast as read
	seed  uint64
	start int64 // start_time, microseconds
	// Event time of offset i is start + i*1e6/evRate microseconds (minus a
	// column's disorder). evRateInt > 0 when the rate is an integer.
	evRate    float64
	evRateInt uint64
	gens      []fieldGen
}

type genKind uint8

const (
	genIntUniform genKind = iota
	genIntCard
	genIntSeq
	genFloat
	genBool
	genStrCard
	genStrRandom
	genStrSeq
	genTimestamp
	genDate
	genInterval
	genBytes
	genUUID
	genJSON
)

type fieldGen struct {
	kind     genKind
	salt     uint64
	min, max int64
	span     uint64 // max-min+1 for ints (0: the full 64-bit range)
	fmin     float64
	fscale   float64
	card     uint64
	table    []datum.Datum // precomputed values for a string cardinality
	prefix   string
	length   int
	nullCut  uint64 // a cell is NULL when its null hash < nullCut
	disorder uint64 // microseconds
	typ      datum.Type
}

var datagenProps = map[string]bool{
	"min": true, "max": true, "length": true, "cardinality": true, "null_rate": true,
	"max_disorder": true, "kind": true, "start": true,
}

// maxCardTable bounds the precomputed value table of a string column.
const maxCardTable = 1 << 20

func openDatagen(cfg SourceConfig, env Env) (Source, error) {
	const what = "datagen source"
	if err := checkOptions(what, cfg.Options, []string{"rows", "rows_per_second", "event_rate", "seed", "start_time"}, []string{"fields."}); err != nil {
		return nil, err
	}
	g := &datagen{cfg: cfg, clock: env.clock(), rows: -1, evRate: 1000, evRateInt: 1000}
	var err error
	var ok bool
	if g.rows, ok, err = optInt(what, cfg.Options, "rows", 0); err != nil {
		return nil, err
	} else if !ok {
		g.rows = -1
	}
	if v, ok, err := optFloat(what, cfg.Options, "rows_per_second"); err != nil {
		return nil, err
	} else if ok {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, badOption(what, "rows_per_second", cfg.Options["rows_per_second"], "must be a positive number")
		}
		g.rps, g.evRate, g.evRateInt = v, v, 0
		if v == math.Trunc(v) && v <= 1e12 {
			g.evRateInt = uint64(v)
		}
	}
	// event_rate: rows per second of event time, when it should differ from
	// the throttle (a bounded benchmark generates as fast as it can while
	// its event times follow a given rate).
	if v, ok, err := optFloat(what, cfg.Options, "event_rate"); err != nil {
		return nil, err
	} else if ok {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, badOption(what, "event_rate", cfg.Options["event_rate"], "must be a positive number")
		}
		g.evRate, g.evRateInt = v, 0
		if v == math.Trunc(v) && v <= 1e12 {
			g.evRateInt = uint64(v)
		}
	}
	if v, ok, err := optInt(what, cfg.Options, "seed", math.MinInt64); err != nil {
		return nil, err
	} else if ok {
		g.seed = uint64(v)
	}
	g.start = 1704067200 * 1_000_000 // 2024-01-01 00:00:00
	if s, ok := cfg.Options["start_time"]; ok {
		us, err := datum.ParseTimestamp(s)
		if err != nil {
			return nil, badOption(what, "start_time", s, "expected a timestamp such as '2024-01-01 00:00:00'")
		}
		g.start = us
	}
	// Per-field options.
	props := make([]map[string]string, len(cfg.Schema))
	for k, v := range cfg.Options {
		if !strings.HasPrefix(k, "fields.") {
			continue
		}
		rest := k[len("fields."):]
		dot := strings.LastIndexByte(rest, '.')
		if dot <= 0 {
			return nil, pgerr.New(pgerr.SyntaxError, "%s: option %q not recognized", what, k).
				WithHint("Field options look like fields.<column>.<property>.")
		}
		col, prop := rest[:dot], rest[dot+1:]
		c := columnIndex(cfg.Schema, col)
		if c < 0 {
			return nil, pgerr.New(pgerr.UndefinedColumn, "%s: option %q names no column of the source", what, k)
		}
		if !datagenProps[prop] {
			return nil, pgerr.New(pgerr.SyntaxError, "%s: option %q not recognized", what, k).
				WithHint("Field properties: min, max, length, cardinality, null_rate, max_disorder, kind, start.")
		}
		if props[c] == nil {
			props[c] = make(map[string]string)
		}
		props[c][prop] = v
	}
	g.gens = make([]fieldGen, len(cfg.Schema))
	for c, col := range cfg.Schema {
		gen, err := newFieldGen(what, col, props[c], g.seed, c)
		if err != nil {
			return nil, err
		}
		g.gens[c] = gen
	}
	if g.rows >= 0 {
		return &boundedDatagen{g}, nil
	}
	return g, nil
}

func columnIndex(schema []Column, name string) int {
	for i, c := range schema {
		if c.Name == name {
			return i
		}
	}
	for i, c := range schema {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

func newFieldGen(what string, col Column, p map[string]string, seed uint64, c int) (fieldGen, error) {
	g := fieldGen{salt: splitmix64(seed*0x9E3779B97F4A7C15 + uint64(c)*0xD1B54A32D192ED03 + 0x632BE59BD9B4E019), typ: col.Type}
	key := func(prop string) string { return "fields." + strings.ToLower(col.Name) + "." + prop }
	used := map[string]bool{}
	get := func(prop string) (string, bool) {
		v, ok := p[prop]
		if ok {
			used[prop] = true
		}
		return v, ok
	}
	intProp := func(prop string, def int64) (int64, error) {
		v, ok := get(prop)
		if !ok {
			return def, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, badOption(what, key(prop), v, "expected an integer")
		}
		return n, nil
	}
	floatProp := func(prop string, def float64) (float64, error) {
		v, ok := get(prop)
		if !ok {
			return def, nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, badOption(what, key(prop), v, "expected a number")
		}
		return f, nil
	}
	if v, ok := get("null_rate"); ok {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || r < 0 || r > 1 {
			return g, badOption(what, key("null_rate"), v, "expected a number between 0 and 1")
		}
		if r > 0 && col.NotNull {
			return g, badOption(what, key("null_rate"), v, "column "+quoteIdent(col.Name)+" is NOT NULL")
		}
		if r >= 1 {
			g.nullCut = math.MaxUint64
		} else {
			g.nullCut = uint64(r * (1 << 64))
		}
	}
	kind, _ := get("kind")
	kind = strings.ToLower(kind)
	if kind != "" && kind != "random" && kind != "sequence" {
		return g, badOption(what, key("kind"), kind, "expected 'random' or 'sequence'")
	}
	card, err := intProp("cardinality", 0)
	if err != nil {
		return g, err
	}
	if card < 0 {
		return g, badOption(what, key("cardinality"), p["cardinality"], "must be positive")
	}
	g.card = uint64(card)
	switch col.Type.Kind() {
	case datum.KindInt:
		lo, hi := int64(0), int64(1000)
		switch col.Type {
		case datum.TypeInt2:
			hi = 100
		}
		if lo, err = intProp("min", lo); err != nil {
			return g, err
		}
		if _, ok := p["start"]; ok {
			if lo, err = intProp("start", lo); err != nil {
				return g, err
			}
		}
		_, hasMax := p["max"]
		if hi, err = intProp("max", hi); err != nil {
			return g, err
		}
		if hi < lo {
			return g, badOption(what, key("max"), p["max"], "must not be below min")
		}
		if !intFits(col.Type, lo) || !intFits(col.Type, hi) {
			return g, badOption(what, key("max"), p["max"], "out of range for type "+col.Type.String())
		}
		g.min, g.max = lo, hi
		g.span = uint64(hi-lo) + 1 // 0 when the range is all of int64
		switch {
		case kind == "sequence":
			g.kind = genIntSeq
			if !hasMax {
				g.span = 0
			}
		case g.card > 0:
			g.kind = genIntCard
		default:
			g.kind = genIntUniform
		}
	case datum.KindFloat:
		lo, err := floatProp("min", 0)
		if err != nil {
			return g, err
		}
		hi, err := floatProp("max", 100)
		if err != nil {
			return g, err
		}
		if hi < lo {
			return g, badOption(what, key("max"), p["max"], "must not be below min")
		}
		g.kind, g.fmin, g.fscale = genFloat, lo, (hi-lo)*0x1p-53
	case datum.KindBool:
		g.kind = genBool
	case datum.KindString:
		length, err := intProp("length", 10)
		if err != nil {
			return g, err
		}
		if length < 0 || length > MaxRecordBytes {
			return g, badOption(what, key("length"), p["length"], "out of range")
		}
		g.length = int(length)
		g.prefix = strings.ToLower(col.Name) + "-"
		switch {
		case col.Type == datum.TypeUUID:
			g.kind = genUUID
		case col.Type == datum.TypeJSON:
			g.kind = genJSON
		case kind == "sequence":
			g.kind = genStrSeq
		case g.card > 0:
			g.kind = genStrCard
			if g.card <= maxCardTable {
				g.table = make([]datum.Datum, g.card)
				for k := range g.table {
					g.table[k] = datum.NewString(g.prefix + strconv.Itoa(k))
				}
			}
		default:
			g.kind = genStrRandom
		}
	case datum.KindTimestamp, datum.KindDate:
		g.kind = genTimestamp
		if col.Type.Kind() == datum.KindDate {
			g.kind = genDate
		}
		if v, ok := get("max_disorder"); ok {
			m, us, err := datum.ParseInterval(v)
			if err != nil || m != 0 || us < 0 {
				return g, badOption(what, key("max_disorder"), v, "expected an interval such as '2 seconds'")
			}
			g.disorder = uint64(us)
		}
	case datum.KindInterval:
		lo, err := intProp("min", 0)
		if err != nil {
			return g, err
		}
		hi, err := intProp("max", 3600)
		if err != nil {
			return g, err
		}
		if hi < lo {
			return g, badOption(what, key("max"), p["max"], "must not be below min")
		}
		g.kind, g.min, g.span = genInterval, lo, uint64(hi-lo)+1
	case datum.KindBytes:
		length, err := intProp("length", 16)
		if err != nil {
			return g, err
		}
		if length < 0 || length > MaxRecordBytes {
			return g, badOption(what, key("length"), p["length"], "out of range")
		}
		g.kind, g.length = genBytes, int(length)
	default:
		return g, pgerr.New(pgerr.FeatureNotSupported, "%s: cannot generate values of type %s", what, col.Type)
	}
	for prop := range p {
		if !used[prop] && prop != "kind" {
			return g, pgerr.New(pgerr.InvalidParameterValue, "%s: option %q does not apply to column %s of type %s",
				what, key(prop), quoteIdent(col.Name), col.Type)
		}
	}
	return g, nil
}

// splitmix64 is a fast, well-mixed 64-bit hash (SplitMix64's finalizer).
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// below returns a number in [0, n) from the hash h (n > 0).
func below(h, n uint64) uint64 {
	hi, _ := bits.Mul64(h, n)
	return hi
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// eventTime returns the base event time of offset i.
func (g *datagen) eventTime(i int64) int64 {
	if g.evRateInt > 0 {
		hi, lo := bits.Mul64(uint64(i), 1_000_000)
		if hi < g.evRateInt {
			q, _ := bits.Div64(hi, lo, g.evRateInt)
			return g.start + int64(q)
		}
	}
	return g.start + int64(float64(i)*1e6/g.evRate)
}

// value returns column c's value at offset i.
func (g *datagen) value(gen *fieldGen, i int64, ts int64) datum.Datum {
	h := splitmix64(uint64(i) ^ gen.salt)
	if gen.nullCut != 0 && splitmix64(h^0x5bd1e995) < gen.nullCut {
		return datum.Null
	}
	switch gen.kind {
	case genIntUniform:
		if gen.span == 0 {
			return datum.NewInt(int64(h))
		}
		return datum.NewInt(gen.min + int64(below(h, gen.span)))
	case genIntCard:
		v := below(h, gen.card)
		if gen.span != 0 {
			v %= gen.span
		}
		return datum.NewInt(gen.min + int64(v))
	case genIntSeq:
		if gen.span == 0 {
			return datum.NewInt(gen.min + i)
		}
		return datum.NewInt(gen.min + int64(uint64(i)%gen.span))
	case genFloat:
		return datum.NewFloat(gen.fmin + float64(h>>11)*gen.fscale)
	case genBool:
		return datum.NewBool(h&1 == 1)
	case genStrCard:
		k := below(h, gen.card)
		if gen.table != nil {
			return gen.table[k]
		}
		return datum.NewString(gen.prefix + strconv.FormatUint(k, 10))
	case genStrSeq:
		return datum.NewString(gen.prefix + strconv.FormatInt(i, 10))
	case genStrRandom:
		b := make([]byte, gen.length)
		x := h
		for j := range b {
			if j%10 == 9 {
				x = splitmix64(x)
			}
			b[j] = alnum[below(x<<uint(6*(j%10)), 62)]
		}
		return datum.NewString(string(b))
	case genTimestamp, genDate:
		t := ts
		if gen.disorder > 0 {
			t -= int64(below(h, gen.disorder))
		}
		if gen.kind == genDate {
			return datum.NewDate(floorDivInt(t, 86400*1_000_000))
		}
		return datum.NewTimestamp(t)
	case genInterval:
		return datum.NewInterval(0, (gen.min+int64(below(h, gen.span)))*1_000_000)
	case genBytes:
		b := make([]byte, gen.length)
		x := h
		for j := range b {
			if j%8 == 0 && j > 0 {
				x = splitmix64(x)
			}
			b[j] = byte(x >> (8 * (j % 8)))
		}
		return datum.NewBytes(b)
	case genUUID:
		var raw [16]byte
		x, y := h, splitmix64(h)
		for j := 0; j < 8; j++ {
			raw[j], raw[8+j] = byte(x>>(8*j)), byte(y>>(8*j))
		}
		raw[6] = raw[6]&0x0f | 0x40
		raw[8] = raw[8]&0x3f | 0x80
		var s [36]byte
		hex.Encode(s[0:8], raw[0:4])
		s[8] = '-'
		hex.Encode(s[9:13], raw[4:6])
		s[13] = '-'
		hex.Encode(s[14:18], raw[6:8])
		s[18] = '-'
		hex.Encode(s[19:23], raw[8:10])
		s[23] = '-'
		hex.Encode(s[24:], raw[10:])
		return datum.NewString(string(s[:]))
	case genJSON:
		return datum.NewString(`{"id":` + strconv.FormatInt(i, 10) + `,"v":` + strconv.FormatUint(below(h, 1000), 10) + `}`)
	}
	return datum.Null
}

func floorDivInt(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (g *datagen) Partitions(want int) int {
	if want < 1 {
		return 1
	}
	return want
}

func (g *datagen) Bounded() bool { return g.rows >= 0 }

func (g *datagen) Open(p, n int, from int64) (Reader, error) {
	if n < 1 || p < 0 || p >= n {
		return nil, pgerr.New(pgerr.InternalError, "datagen source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	if from < 0 {
		from = 0
	}
	// The first offset >= from in this partition's residue class.
	first := from + ((int64(p)-from%int64(n))%int64(n)+int64(n))%int64(n)
	return g.newReader(n, first, g.rows, false), nil
}

// newReader returns a reader of the offsets first, first+n, ... below end
// (<0: unbounded). A ranged reader's NextOffset stops at end.
func (g *datagen) newReader(n int, first, end int64, ranged bool) *datagenReader {
	r := &datagenReader{g: g, n: int64(n), next: first, end: end, ranged: ranged}
	if g.rps > 0 {
		r.t0 = g.clock.Now()
		r.nsPerRow = float64(n) * 1e9 / g.rps
	}
	return r
}

// boundedDatagen is a datagen source with 'rows': a RangeSource whose
// offsets are the global row numbers. A range reader generates exactly the
// rows (values and event times) a partition reader would, since each is a
// function of (seed, row number) alone. rows_per_second throttles a range
// reader like a reader reopened at its from: its k-th row is due
// k·n/rows_per_second seconds after OpenRange, so the two halves of a split
// partition each run at the partition's rate. Event times (event_rate) do
// not depend on which reader generates a row.
type boundedDatagen struct{ *datagen }

// Extent returns [p, rows): the rows i ≡ p (mod n) below rows.
func (g *boundedDatagen) Extent(p, n int) (start, end int64, err error) {
	if n < 1 || p < 0 || p >= n {
		return 0, 0, pgerr.New(pgerr.InternalError, "datagen source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	return min(int64(p), g.rows), g.rows, nil
}

// rangeOf validates [from, end) and returns the partition's first offset
// at or after from and the number of its rows in the range.
func (g *boundedDatagen) rangeOf(p, n int, from, end int64) (first, count int64, err error) {
	if n < 1 || p < 0 || p >= n {
		return 0, 0, pgerr.New(pgerr.InternalError, "datagen source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	if from < 0 || from > end || end > g.rows {
		return 0, 0, pgerr.New(pgerr.InternalError, "datagen source %q: range [%d, %d) is outside [0, %d)", g.cfg.Name, from, end, g.rows)
	}
	nn := int64(n)
	first = from + ((int64(p)-from%nn)%nn+nn)%nn
	if first < end {
		count = (end - first + nn - 1) / nn
	}
	return first, count, nil
}

// SplitPoint returns the offset of the middle row of partition p in
// [from, end); a range holding fewer than two of its rows does not split.
func (g *boundedDatagen) SplitPoint(p, n int, from, end int64) (mid int64, ok bool, err error) {
	first, count, err := g.rangeOf(p, n, from, end)
	if err != nil || count < 2 {
		return 0, false, err
	}
	return first + count/2*int64(n), true, nil
}

// OpenRange opens a reader of partition p's rows in [from, end).
func (g *boundedDatagen) OpenRange(p, n int, from, end int64) (Reader, error) {
	first, _, err := g.rangeOf(p, n, from, end)
	if err != nil {
		return nil, err
	}
	return g.newReader(n, first, end, true), nil
}

type datagenReader struct {
	g       *datagen
	n       int64 // stride
	next    int64 // next global offset
	end     int64 // offsets at or above it are not read (<0: unbounded)
	ranged  bool  // OpenRange: NextOffset stops at end
	emitted int64 // rows emitted since Open (throttling)
	slab    rowSlab

	t0       time.Time
	nsPerRow float64 // processing time between this reader's rows
	readyAt  time.Time
	readyCh  <-chan struct{}
}

// due returns when the k-th row since Open may be emitted (throttled).
func (r *datagenReader) due(k int64) time.Time {
	return r.t0.Add(time.Duration(math.Ceil(float64(k) * r.nsPerRow)))
}

// allowed returns how many rows since Open may have been emitted by now.
func (r *datagenReader) allowed(now time.Time) int64 {
	el := now.Sub(r.t0)
	if el < 0 {
		return 1
	}
	k := int64(float64(el) / r.nsPerRow)
	for !r.due(k + 1).After(now) {
		k++
	}
	for k > 0 && r.due(k).After(now) {
		k--
	}
	return k + 1
}

func (r *datagenReader) Read(buf []Record, max int) ([]Record, bool, error) {
	g := r.g
	if r.end >= 0 && r.next >= r.end {
		return buf, true, nil
	}
	cnt := int64(max)
	if r.end >= 0 {
		if left := (r.end - r.next + r.n - 1) / r.n; left < cnt {
			cnt = left
		}
	}
	if g.rps > 0 {
		if a := r.allowed(g.clock.Now()) - r.emitted; a < cnt {
			cnt = a
		}
	}
	ncols := len(g.gens)
	i := r.next
	gens := g.gens
	if g.evRateInt > 0 && cnt > 0 {
		// Event times advance incrementally: ts = start + q, where
		// q*rate + rem = i*1e6.
		rate := g.evRateInt
		hi, lo := bits.Mul64(uint64(i), 1_000_000)
		shi, slo := bits.Mul64(uint64(r.n), 1_000_000)
		if hi < rate && shi == 0 {
			q, rem := bits.Div64(hi, lo, rate)
			dq, drem := slo/rate, slo%rate
			for k := int64(0); k < cnt; k++ {
				row := r.slab.row(ncols)
				ts := g.start + int64(q)
				for c := range gens {
					row[c] = g.value(&gens[c], i, ts)
				}
				buf = append(buf, Record{Row: row, Offset: i})
				i += r.n
				q += dq
				rem += drem
				if rem >= rate {
					rem -= rate
					q++
				}
			}
			cnt = 0
		}
	}
	for k := int64(0); k < cnt; k++ {
		row := r.slab.row(ncols)
		ts := g.eventTime(i)
		for c := range gens {
			row[c] = g.value(&gens[c], i, ts)
		}
		buf = append(buf, Record{Row: row, Offset: i})
		i += r.n
	}
	if i != r.next {
		r.emitted += (i - r.next) / r.n
		r.next = i
	}
	return buf, r.end >= 0 && r.next >= r.end, nil
}

// RecycleRows implements RowRecycler.
func (r *datagenReader) RecycleRows() { r.slab.recycle() }

func (r *datagenReader) Ready() <-chan struct{} {
	g := r.g
	if g.rps == 0 || (r.end >= 0 && r.next >= r.end) {
		return closedChan
	}
	now := g.clock.Now()
	at := r.due(r.emitted)
	if !at.After(now) {
		return closedChan
	}
	if r.readyCh == nil || !r.readyAt.Equal(at) {
		r.readyAt = at
		r.readyCh = timeChan(g.clock.After(at.Sub(now)))
	}
	return r.readyCh
}

func (r *datagenReader) NextOffset() int64 {
	if r.ranged && r.next > r.end {
		return r.end
	}
	return r.next
}

func (r *datagenReader) Close() error { return nil }
