package connector

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// The 'nexmark' connector generates the Nexmark benchmark's three streams
// following the rules of its reference generator (Apache Beam's and the
// nexmark/nexmark Flink GeneratorConfig, PersonGenerator, AuctionGenerator
// and BidGenerator): of every 50 events, 1 is a person, 3 are auctions and
// 46 are bids; event number i is a person when i%50 == 0, an auction when
// i%50 is 1..3, a bid otherwise. Ids are derived from the event number alone
// (so the three tables agree for the same parameters): person ids and
// auction ids start at 1000 and count the persons and auctions generated so
// far; bids go to a hot auction with probability 1/2 and come from a hot
// bidder with probability 3/4, auctions have a hot seller with probability
// 3/4; other references pick among the recent persons (1000 active) and
// auctions (100 in flight), allowing ids slightly in the future. Prices are
// 100·10^U(0,6) rounded; 'extra' pads events to the reference's average
// sizes (person 200, auction 500, bid 100 bytes).
//
// Every value of event i is a function of (seed, i), so a replay regenerates
// identical records. Event times are start_time (default 2015-07-15
// 00:00:00, the reference's base time) plus i/events_per_second seconds,
// where events_per_second defaults to 10,000,000 (1 ms of event time per
// 10,000 events) and, when given, also throttles the source by processing
// time. `event_rate` sets the events per second of event time without
// throttling (like datagen's): a bounded run then generates as fast as it
// can while its event times span as many windows as the rate makes them.
// Offsets are global event numbers; `events` bounds the global count (all
// three kinds).
const (
	nexProportionPerson  = 1
	nexProportionAuction = 3
	nexProportionBid     = 46
	nexTotalProportion   = nexProportionPerson + nexProportionAuction + nexProportionBid

	nexFirstPersonID   = 1000
	nexFirstAuctionID  = 1000
	nexFirstCategoryID = 10
	nexNumCategories   = 5

	nexHotAuctionRatio   = 100 // hot auctions are every 100th auction
	nexHotSellerRatio    = 100
	nexHotBidderRatio    = 100
	nexHotAuctionsProb   = 2 // P(hot auction) = 1 - 1/2
	nexHotSellersProb    = 4 // P(hot seller) = 1 - 1/4
	nexHotBiddersProb    = 4 // P(hot bidder) = 1 - 1/4
	nexHotChannelsProb   = 2
	nexChannels          = 10_000
	nexActivePeople      = 1000
	nexInFlightAuctions  = 100
	nexPersonIDLead      = 10
	nexAuctionIDLead     = 10
	nexMinStringLength   = 3
	nexAvgPersonBytes    = 200
	nexAvgAuctionBytes   = 500
	nexAvgBidBytes       = 100
	nexDefaultEventsRate = 10_000_000
)

var (
	nexFirstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	nexLastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	nexCities     = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	nexStates     = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	nexHotChans   = []string{"Google", "Facebook", "Baidu", "Apple"}
	nexHotURLs    = []string{
		"https://www.nexmark.com/googl/item.htm?query=1",
		"https://www.nexmark.com/meta/item.htm?query=1",
		"https://www.nexmark.com/baidu/item.htm?query=1",
		"https://www.nexmark.com/apple/item.htm?query=1",
	}
)

// nexmark table kinds.
const (
	nexPerson = iota
	nexAuction
	nexBid
)

// nexFields lists each table's columns and their kinds.
var nexFields = [3][]struct {
	name string
	kind datum.Kind
}{
	nexPerson: {{"id", datum.KindInt}, {"name", datum.KindString}, {"email_address", datum.KindString},
		{"credit_card", datum.KindString}, {"city", datum.KindString}, {"state", datum.KindString},
		{"date_time", datum.KindTimestamp}, {"extra", datum.KindString}},
	nexAuction: {{"id", datum.KindInt}, {"item_name", datum.KindString}, {"description", datum.KindString},
		{"initial_bid", datum.KindInt}, {"reserve", datum.KindInt}, {"date_time", datum.KindTimestamp},
		{"expires", datum.KindTimestamp}, {"seller", datum.KindInt}, {"category", datum.KindInt},
		{"extra", datum.KindString}},
	nexBid: {{"auction", datum.KindInt}, {"bidder", datum.KindInt}, {"price", datum.KindInt},
		{"channel", datum.KindString}, {"url", datum.KindString}, {"date_time", datum.KindTimestamp},
		{"extra", datum.KindString}},
}

type nexmark struct {
	cfg      SourceConfig
	clock    Clock
	table    int
	events   int64 // -1: unbounded
	eps      float64
	rate     uint64 // events per second of event time, when integral
	rateF    float64
	num      uint64 // event time of i: start + i*num/den µs (when i < mulLimit)
	den      uint64
	mulLimit uint64
	start    int64
	seed     uint64
	colOf    []int // generator field → schema column (-1: not selected)
	ncols    int

	letters   string // pool of random lowercase letters (extra)
	words     string // pool of letters with spaces (names, descriptions)
	channels  []datum.Datum
	urls      []datum.Datum
	hotChans  []datum.Datum
	hotURLs   []datum.Datum
	names     []datum.Datum // first × last
	cities    []datum.Datum
	states    []datum.Datum
	poolLimit int
}

const nexPoolSize = 1 << 16

func openNexmark(cfg SourceConfig, env Env) (Source, error) {
	const what = "nexmark source"
	if err := checkOptions(what, cfg.Options, []string{"table", "events", "events_per_second", "event_rate", "seed", "start_time"}, nil); err != nil {
		return nil, err
	}
	g := &nexmark{cfg: cfg, clock: env.clock(), events: -1, rate: nexDefaultEventsRate, rateF: nexDefaultEventsRate}
	switch t := strings.ToLower(cfg.Options["table"]); t {
	case "person", "people":
		g.table = nexPerson
	case "auction", "auctions":
		g.table = nexAuction
	case "bid", "bids":
		g.table = nexBid
	case "":
		return nil, pgerr.New(pgerr.InvalidParameterValue, "%s %q: option 'table' is required ('bid', 'auction' or 'person')", what, cfg.Name)
	default:
		return nil, badOption(what, "table", t, "expected 'bid', 'auction' or 'person'")
	}
	if v, ok, err := optInt(what, cfg.Options, "events", 0); err != nil {
		return nil, err
	} else if ok {
		g.events = v
	}
	if v, ok, err := optFloat(what, cfg.Options, "events_per_second"); err != nil {
		return nil, err
	} else if ok {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, badOption(what, "events_per_second", cfg.Options["events_per_second"], "must be a positive number")
		}
		g.eps, g.rateF, g.rate = v, v, 0
		if v == math.Trunc(v) && v <= 1e12 {
			g.rate = uint64(v)
		}
	}
	if v, ok, err := optFloat(what, cfg.Options, "event_rate"); err != nil {
		return nil, err
	} else if ok {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, badOption(what, "event_rate", cfg.Options["event_rate"], "must be a positive number")
		}
		g.rateF, g.rate = v, 0
		if v == math.Trunc(v) && v <= 1e12 {
			g.rate = uint64(v)
		}
	}
	if v, ok, err := optInt(what, cfg.Options, "seed", math.MinInt64); err != nil {
		return nil, err
	} else if ok {
		g.seed = uint64(v)
	}
	g.setRate()
	g.start = 1436918400 * 1_000_000 // 2015-07-15 00:00:00 UTC
	if s, ok := cfg.Options["start_time"]; ok {
		us, err := datum.ParseTimestamp(s)
		if err != nil {
			return nil, badOption(what, "start_time", s, "expected a timestamp")
		}
		g.start = us
	}
	// Map the declared columns to the table's fields.
	fields := nexFields[g.table]
	g.colOf = make([]int, len(fields))
	for i := range g.colOf {
		g.colOf[i] = -1
	}
	for c, col := range cfg.Schema {
		f := -1
		for i, fd := range fields {
			if strings.EqualFold(fd.name, col.Name) {
				f = i
				break
			}
		}
		if f < 0 {
			names := make([]string, len(fields))
			for i, fd := range fields {
				names[i] = fd.name
			}
			return nil, pgerr.New(pgerr.UndefinedColumn, "%s: table %q has no column %q", what, cfg.Options["table"], col.Name).
				WithHint("Its columns are %s.", strings.Join(names, ", "))
		}
		if col.Type.Kind() != fields[f].kind {
			return nil, pgerr.New(pgerr.DatatypeMismatch, "%s: column %q must be of a %s type, not %s", what, col.Name, nexKindWord(fields[f].kind), col.Type)
		}
		if col.Type == datum.TypeInt2 || col.Type == datum.TypeInt4 {
			return nil, pgerr.New(pgerr.DatatypeMismatch, "%s: column %q must be BIGINT, not %s", what, col.Name, col.Type)
		}
		g.colOf[f] = c
	}
	g.ncols = len(cfg.Schema)
	g.initTables()
	if g.events >= 0 {
		return &boundedNexmark{g}, nil
	}
	return g, nil
}

func nexKindWord(k datum.Kind) string {
	switch k {
	case datum.KindInt:
		return "BIGINT"
	case datum.KindString:
		return "VARCHAR"
	}
	return "TIMESTAMP"
}

// initTables precomputes the value tables and string pools (from the seed),
// so generating an event allocates nothing but its row (and, for persons, an
// e-mail address and a card number).
func (g *nexmark) initTables() {
	r := nexRand{s: splitmix64(g.seed ^ 0x6e65786d61726b)}
	letters := make([]byte, nexPoolSize)
	words := make([]byte, nexPoolSize)
	for i := range letters {
		letters[i] = byte('a' + r.intn(26))
		if r.intn(13) == 0 {
			words[i] = ' '
		} else {
			words[i] = byte('a' + r.intn(26))
		}
	}
	g.letters, g.words = string(letters), string(words)
	g.channels = make([]datum.Datum, nexChannels)
	g.urls = make([]datum.Datum, nexChannels)
	for c := range g.channels {
		g.channels[c] = datum.NewString("channel-" + strconv.Itoa(c))
		url := "https://www.nexmark.com/" + nexWord(&r, g.words, 5) + "/" + nexWord(&r, g.words, 5) + "/" +
			nexWord(&r, g.words, 5) + "/item.htm?query=1"
		if r.intn(10) > 0 {
			url += "&channel_id=" + strconv.FormatInt(int64(bits.Reverse32(uint32(c))>>1), 10)
		}
		g.urls[c] = datum.NewString(strings.ReplaceAll(url, " ", "_"))
	}
	for i := range nexHotChans {
		g.hotChans = append(g.hotChans, datum.NewString(nexHotChans[i]))
		g.hotURLs = append(g.hotURLs, datum.NewString(nexHotURLs[i]))
	}
	for _, f := range nexFirstNames {
		for _, l := range nexLastNames {
			g.names = append(g.names, datum.NewString(f+" "+l))
		}
	}
	for _, c := range nexCities {
		g.cities = append(g.cities, datum.NewString(c))
	}
	for _, s := range nexStates {
		g.states = append(g.states, datum.NewString(s))
	}
}

// nexRand is a small counter-based generator (SplitMix64).
type nexRand struct{ s uint64 }

func (r *nexRand) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *nexRand) intn(n uint64) uint64 { return below(r.next(), n) }

func (r *nexRand) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// nexWord is the reference's nextString: 3 to maxLength-1 characters,
// letters with an occasional space, trimmed; here a slice of the pool.
func nexWord(r *nexRand, pool string, maxLength int) string {
	n := nexMinStringLength + int(r.intn(uint64(maxLength-nexMinStringLength)))
	off := int(r.intn(uint64(len(pool) - n)))
	return strings.TrimSpace(pool[off : off+n])
}

// nexExtra is the reference's nextExtra: letters padding an event of
// currentSize bytes to about desired bytes (±20%).
func (g *nexmark) nexExtra(r *nexRand, currentSize, desired int) datum.Datum {
	if currentSize > desired {
		return datum.NewString("")
	}
	desired -= currentSize
	delta := int(math.Round(float64(desired) * 0.2))
	size := desired - delta
	if delta > 0 {
		size += int(r.intn(uint64(2 * delta)))
	}
	off := int(r.intn(uint64(len(g.letters) - size)))
	return datum.NewString(g.letters[off : off+size])
}

// nexPrice is the reference's nextPrice, round(100·10^U(0,6)), with 10^x
// interpolated from a table (math.Pow would be a quarter of the cost of a
// bid).
func nexPrice(r *nexRand) int64 {
	x := r.float() * 6 * nexPowSteps
	k := int(x)
	t := x - float64(k)
	v := nexPow10[k] + (nexPow10[k+1]-nexPow10[k])*t
	return int64(math.Round(v * 100))
}

const nexPowSteps = 1024

// nexPow10[k] = 10^(k/nexPowSteps) for k in [0, 6·nexPowSteps].
var nexPow10 = func() []float64 {
	t := make([]float64, 6*nexPowSteps+1)
	for k := range t {
		t[k] = math.Pow(10, float64(k)/nexPowSteps)
	}
	return t
}()

// lastBase0PersonID is the 0-based id of the last person generated at or
// before event id.
func lastBase0PersonID(id int64) int64 {
	epoch, off := id/nexTotalProportion, id%nexTotalProportion
	if off >= nexProportionPerson {
		off = nexProportionPerson - 1
	}
	return epoch*nexProportionPerson + off
}

// lastBase0AuctionID is the 0-based id of the last auction generated at or
// before event id.
func lastBase0AuctionID(id int64) int64 {
	epoch, off := id/nexTotalProportion, id%nexTotalProportion
	switch {
	case off < nexProportionPerson:
		epoch--
		off = nexProportionAuction - 1
	case off >= nexProportionPerson+nexProportionAuction:
		off = nexProportionAuction - 1
	default:
		off -= nexProportionPerson
	}
	return epoch*nexProportionAuction + off
}

func nextBase0PersonID(id int64, r *nexRand) int64 {
	people := lastBase0PersonID(id)
	active := min(people, nexActivePeople)
	return people - active + int64(r.intn(uint64(active+nexPersonIDLead)))
}

func nextBase0AuctionID(id int64, r *nexRand) int64 {
	maxA := lastBase0AuctionID(id)
	minA := max(maxA-nexInFlightAuctions, 0)
	return minA + int64(r.intn(uint64(maxA-minA+1+nexAuctionIDLead)))
}

// eventTime returns the event time of event i in microseconds.
func (g *nexmark) eventTime(i int64) int64 {
	if g.rate > 0 {
		if uint64(i) < g.mulLimit {
			return g.start + int64(uint64(i)*g.num/g.den)
		}
		hi, lo := bits.Mul64(uint64(i), 1_000_000)
		if hi < g.rate {
			q, _ := bits.Div64(hi, lo, g.rate)
			return g.start + int64(q)
		}
	}
	return g.start + int64(float64(i)*1e6/g.rateF)
}

// setRate reduces 1e6/rate to num/den for eventTime's fast path.
func (g *nexmark) setRate() {
	if g.rate == 0 {
		return
	}
	a, b := uint64(1_000_000), g.rate
	for b != 0 {
		a, b = b, a%b
	}
	g.num, g.den = 1_000_000/a, g.rate/a
	g.mulLimit = math.MaxUint64 / g.num
}

// kind layout: the table's events are, per epoch of 50, the count events
// starting at offset first.
func (g *nexmark) layout() (first, count int64) {
	switch g.table {
	case nexPerson:
		return 0, nexProportionPerson
	case nexAuction:
		return nexProportionPerson, nexProportionAuction
	}
	return nexProportionPerson + nexProportionAuction, nexProportionBid
}

// eventOf returns the global event number of the table's k-th event.
func (g *nexmark) eventOf(k int64) int64 {
	first, count := g.layout()
	return (k/count)*nexTotalProportion + first + k%count
}

// indexAt returns the index of the table's first event at or after event i.
func (g *nexmark) indexAt(i int64) int64 {
	first, count := g.layout()
	epoch, off := i/nexTotalProportion, i%nexTotalProportion
	switch {
	case off < first:
		return epoch * count
	case off < first+count:
		return epoch*count + off - first
	}
	return (epoch + 1) * count
}

// gen fills row with event i's values (the table's kind).
func (g *nexmark) gen(row datum.Row, i int64) {
	r := nexRand{s: splitmix64(g.seed ^ uint64(i)*0xD1B54A32D192ED03)}
	ts := g.eventTime(i)
	set := func(f int, d datum.Datum) {
		if c := g.colOf[f]; c >= 0 {
			row[c] = d
		}
	}
	switch g.table {
	case nexPerson:
		name := g.names[r.intn(uint64(len(g.names)))]
		// Every value is drawn whether or not its column is selected, so
		// sources declaring different columns agree.
		email := nexWord(&r, g.words, 7) + "@" + nexWord(&r, g.words, 5) + ".com"
		var b [19]byte
		for k := 0; k < 4; k++ {
			v := r.intn(10000)
			p := b[k*5:]
			p[0], p[1], p[2], p[3] = byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10)
			if k < 3 {
				p[4] = ' '
			}
		}
		card := string(b[:])
		city := g.cities[r.intn(uint64(len(g.cities)))]
		state := g.states[r.intn(uint64(len(g.states)))]
		set(0, datum.NewInt(lastBase0PersonID(i)+nexFirstPersonID))
		set(1, name)
		set(2, datum.NewString(email))
		set(3, datum.NewString(card))
		set(4, city)
		set(5, state)
		set(6, datum.NewTimestamp(ts))
		size := 8 + len(name.Str()) + len(email) + len(card) + len(city.Str()) + len(state.Str())
		set(7, g.nexExtra(&r, size, nexAvgPersonBytes))
	case nexAuction:
		id := lastBase0AuctionID(i) + nexFirstAuctionID
		var seller int64
		if r.intn(nexHotSellersProb) > 0 {
			seller = (lastBase0PersonID(i) / nexHotSellerRatio) * nexHotSellerRatio
		} else {
			seller = nextBase0PersonID(i, &r)
		}
		seller += nexFirstPersonID
		category := int64(nexFirstCategoryID + r.intn(nexNumCategories))
		initial := nexPrice(&r)
		// Auctions last on average until numInFlightAuctions more auctions
		// were generated (the reference's nextAuctionLengthMs, in µs).
		horizon := g.eventTime(i+nexInFlightAuctions*nexTotalProportion/nexProportionAuction) - ts
		expires := ts + 1000 + int64(r.intn(uint64(max(2*horizon, 1))))
		name := nexWord(&r, g.words, 20)
		desc := nexWord(&r, g.words, 100)
		reserve := initial + nexPrice(&r)
		set(0, datum.NewInt(id))
		set(1, datum.NewString(name))
		set(2, datum.NewString(desc))
		set(3, datum.NewInt(initial))
		set(4, datum.NewInt(reserve))
		set(5, datum.NewTimestamp(ts))
		set(6, datum.NewTimestamp(expires))
		set(7, datum.NewInt(seller))
		set(8, datum.NewInt(category))
		set(9, g.nexExtra(&r, 8+len(name)+len(desc)+8+8+8+8+8, nexAvgAuctionBytes))
	default:
		var auction int64
		if r.intn(nexHotAuctionsProb) > 0 {
			auction = (lastBase0AuctionID(i) / nexHotAuctionRatio) * nexHotAuctionRatio
		} else {
			auction = nextBase0AuctionID(i, &r)
		}
		auction += nexFirstAuctionID
		var bidder int64
		if r.intn(nexHotBiddersProb) > 0 {
			// The second person of the batch, so hot bidders and hot
			// sellers differ.
			bidder = (lastBase0PersonID(i)/nexHotBidderRatio)*nexHotBidderRatio + 1
		} else {
			bidder = nextBase0PersonID(i, &r)
		}
		bidder += nexFirstPersonID
		price := nexPrice(&r)
		var channel, url datum.Datum
		if r.intn(nexHotChannelsProb) > 0 {
			k := r.intn(uint64(len(g.hotChans)))
			channel, url = g.hotChans[k], g.hotURLs[k]
		} else {
			k := r.intn(nexChannels)
			channel, url = g.channels[k], g.urls[k]
		}
		set(0, datum.NewInt(auction))
		set(1, datum.NewInt(bidder))
		set(2, datum.NewInt(price))
		set(3, channel)
		set(4, url)
		set(5, datum.NewTimestamp(ts))
		set(6, g.nexExtra(&r, 32, nexAvgBidBytes))
	}
}

func (g *nexmark) Partitions(want int) int {
	if want < 1 {
		return 1
	}
	return want
}

func (g *nexmark) Bounded() bool { return g.events >= 0 }

func (g *nexmark) Open(p, n int, from int64) (Reader, error) {
	if n < 1 || p < 0 || p >= n {
		return nil, pgerr.New(pgerr.InternalError, "nexmark source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	if from < 0 {
		from = 0
	}
	return g.newReader(p, n, from, g.events, false), nil
}

// newReader returns a reader of partition p of n from event from (>= 0) to
// event end (<0: unbounded). A ranged reader's NextOffset stops at end.
func (g *nexmark) newReader(p, n int, from, end int64, ranged bool) *nexReader {
	k := g.firstIndex(p, n, from)
	r := &nexReader{g: g, n: int64(n), k: k, from: from, end: end, ranged: ranged}
	if g.eps > 0 {
		r.t0 = g.clock.Now()
		r.nsPerEvent = 1e9 / g.eps
	}
	return r
}

// firstIndex returns the table index of partition p of n's first event at
// or after event from.
func (g *nexmark) firstIndex(p, n int, from int64) int64 {
	k := g.indexAt(from)
	return k + ((int64(p)-k%int64(n))%int64(n)+int64(n))%int64(n)
}

// boundedNexmark is a nexmark source with 'events': a RangeSource whose
// offsets are global event numbers (partition p of n holds the table's
// events whose table index is ≡ p mod n). Every value of an event is a
// function of (seed, event number), so a range reader generates exactly
// what a partition reader would. events_per_second throttles a range reader
// by event number from its from, like a reader reopened there: event i is
// due (i-from)/events_per_second seconds after OpenRange.
type boundedNexmark struct{ *nexmark }

// Extent returns [the partition's first event, events).
func (g *boundedNexmark) Extent(p, n int) (start, end int64, err error) {
	if n < 1 || p < 0 || p >= n {
		return 0, 0, pgerr.New(pgerr.InternalError, "nexmark source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	return min(g.eventOf(int64(p)), g.events), g.events, nil
}

// rangeOf validates [from, end) and returns the table index of partition
// p's first event at or after from and the number of its events in the
// range.
func (g *boundedNexmark) rangeOf(p, n int, from, end int64) (first, count int64, err error) {
	if n < 1 || p < 0 || p >= n {
		return 0, 0, pgerr.New(pgerr.InternalError, "nexmark source %q: bad partition %d of %d", g.cfg.Name, p, n)
	}
	if from < 0 || from > end || end > g.events {
		return 0, 0, pgerr.New(pgerr.InternalError, "nexmark source %q: range [%d, %d) is outside [0, %d)", g.cfg.Name, from, end, g.events)
	}
	first = g.firstIndex(p, n, from)
	if kEnd := g.indexAt(end); first < kEnd {
		count = (kEnd - first + int64(n) - 1) / int64(n)
	}
	return first, count, nil
}

// SplitPoint returns the event number of the middle event of partition p in
// [from, end); a range holding fewer than two of its events does not split.
func (g *boundedNexmark) SplitPoint(p, n int, from, end int64) (mid int64, ok bool, err error) {
	first, count, err := g.rangeOf(p, n, from, end)
	if err != nil || count < 2 {
		return 0, false, err
	}
	return g.eventOf(first + count/2*int64(n)), true, nil
}

// OpenRange opens a reader of partition p's events in [from, end).
func (g *boundedNexmark) OpenRange(p, n int, from, end int64) (Reader, error) {
	if _, _, err := g.rangeOf(p, n, from, end); err != nil {
		return nil, err
	}
	return g.newReader(p, n, from, end, true), nil
}

type nexReader struct {
	g    *nexmark
	n    int64 // stride in table indexes
	k    int64 // next table index
	from int64 // global event number at Open (throttling origin)
	end  int64 // events at or above it are not read (<0: unbounded)
	slab rowSlab

	ranged bool // OpenRange: NextOffset stops at end

	t0         time.Time
	nsPerEvent float64
	readyAt    time.Time
	readyCh    <-chan struct{}
}

// due returns how long after Open event i may be emitted (throttled).
func (r *nexReader) due(i int64) time.Duration {
	return time.Duration(math.Ceil(float64(i-r.from) * r.nsPerEvent))
}

func (r *nexReader) done() bool { return r.end >= 0 && r.g.eventOf(r.k) >= r.end }

func (r *nexReader) Read(buf []Record, max int) ([]Record, bool, error) {
	g := r.g
	var elapsed time.Duration
	if g.eps > 0 {
		elapsed = g.clock.Now().Sub(r.t0)
	}
	for n := 0; n < max; n++ {
		i := g.eventOf(r.k)
		if r.end >= 0 && i >= r.end {
			return buf, true, nil
		}
		if g.eps > 0 && r.due(i) > elapsed {
			break
		}
		row := r.slab.row(g.ncols)
		g.gen(row, i)
		buf = append(buf, Record{Row: row, Offset: i})
		r.k += r.n
	}
	return buf, r.done(), nil
}

// RecycleRows implements RowRecycler.
func (r *nexReader) RecycleRows() { r.slab.recycle() }

func (r *nexReader) Ready() <-chan struct{} {
	g := r.g
	if g.eps == 0 || r.done() {
		return closedChan
	}
	elapsed := g.clock.Now().Sub(r.t0)
	d := r.due(g.eventOf(r.k))
	if d <= elapsed {
		return closedChan
	}
	at := r.t0.Add(d)
	if r.readyCh == nil || !r.readyAt.Equal(at) {
		r.readyAt = at
		r.readyCh = timeChan(g.clock.After(d - elapsed))
	}
	return r.readyCh
}

// NextOffset is the global event number of the next event this reader would
// emit.
func (r *nexReader) NextOffset() int64 {
	if i := r.g.eventOf(r.k); !r.ranged || i < r.end {
		return i
	}
	return r.end
}

func (r *nexReader) Close() error { return nil }
