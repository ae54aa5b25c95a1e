package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
)

// The kinds of malformed records the bad-input test generates.
type badKind int

const (
	kindStructure    badKind = iota // CSV: wrong field count, an empty line; JSONL: broken JSON
	kindType                        // a value that does not parse for its column
	kindUTF8                        // invalid UTF-8 bytes, a NUL byte
	kindNull                        // NULL (or a missing value) in a NOT NULL column
	kindOversize                    // a record over connector.MaxRecordBytes
	kindDivZero                     // decodes, but the job's 100 / d divides by zero
	kindUnterminated                // CSV: a quote still open at the end of the file
	numKinds
)

var kindNames = [numKinds]string{"structure", "wrong type", "invalid UTF-8", "NULL in NOT NULL", "oversize", "division by zero", "unterminated quote"}

// badRec is what the dead letter of one malformed record must hold.
type badRec struct {
	kind    badKind
	raw     []byte   // the record's bytes (oversize: the head the engine keeps)
	decoded []byte   // division by zero: the decoded row rendered as CSV (to explain a mismatch)
	errSubs []string // substrings the error text must contain
}

// badInput is the generated input and everything the test expects of it.
type badInput struct {
	want    []string         // the result table, as query returns it
	bad     map[int64]badRec // malformed records by byte offset
	perKind [numKinds]int
	valid   int // records that count in the result
	decoded int // records that decode (valid + division by zero)
	size    int
}

// maxRawBytes mirrors connector's cap on the raw bytes kept for an
// oversize record (connector/framer.go maxRawBytes).
const maxRawBytes = 64 << 10

const badInputSQL = `CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, d BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (connector = 'file', path = '${file}', format = '${format}');
-- No primary key: every pane is appended, so a pane emitted twice shows.
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, total BIGINT, q BIGINT);
CREATE JOB badjob WITH (parallelism = '3') AS INSERT INTO per_minute
  SELECT window_start, device, count(*), sum(rpm), sum(100 / d)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, window_end, device;
`

// writeBadInput writes n records (format "csv" or "jsonl"), 100 per second
// of event time, out of order by up to 2 s (below the 5 s watermark delay,
// so no valid record is late in any partition), 50 devices. About 1% of the
// records are malformed for each kind, except oversize records (nOversize
// of them: 1% would be gigabytes) and, in CSV, one record with an
// unterminated quote at the end of the file (an open quote swallows every
// following line up to the next quote, so only at the end is its extent
// one line). Valid records vary their text (NULL rpm, 'T' or ' ' in
// timestamps, numbers as JSON strings, blank JSONL lines, which are not
// records) so that a dead letter's raw bytes can only come from the file.
func writeBadInput(t *testing.T, path, format string, n, nOversize int, rng *rand.Rand) *badInput {
	t.Helper()
	const sec = int64(1_000_000)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	jsonl := format == "jsonl"
	in := &badInput{bad: map[int64]badRec{}}
	type agg struct {
		n, total, q int64
		hasTotal    bool
	}
	want := map[string]*agg{}
	oversizeAt := map[int]bool{}
	for len(oversizeAt) < nOversize {
		oversizeAt[rng.Intn(n)] = true
	}
	var buf bytes.Buffer
	if !jsonl {
		buf.WriteString("device,rpm,d,ts\n")
	}
	for i := 0; i < n; i++ {
		if jsonl && rng.Intn(1000) == 0 {
			buf.WriteString("\n") // a blank line: skipped, not a record
		}
		off := int64(buf.Len())
		ts := base + int64(i)*sec/100 - rng.Int63n(2*sec)
		dev := fmt.Sprintf("dev%02d", rng.Intn(50))
		rpm := rng.Int63n(10_000)
		rpmNull := rng.Intn(200) == 0
		d := 1 + rng.Int63n(9)
		tsText := datum.FormatTimestamp(ts)
		if rng.Intn(2) == 0 {
			tsText = strings.Replace(tsText, " ", "T", 1)
		}
		kind := badKind(-1)
		if oversizeAt[i] {
			kind = kindOversize
		} else if r := rng.Intn(100); r < 5 {
			kind = []badKind{kindStructure, kindType, kindUTF8, kindNull, kindDivZero}[r]
		}
		if kind == kindDivZero {
			d = 0
		}
		// The record's fields as text (CSV) and JSON values; bad kinds
		// overwrite some of them.
		devF, rpmF, dF, tsF := dev, strconv.FormatInt(rpm, 10), strconv.FormatInt(d, 10), tsText
		if rpmNull {
			rpmF = ""
		}
		jDev, jRpm, jD, jTs := strconv.Quote(dev), strconv.FormatInt(rpm, 10), strconv.FormatInt(d, 10), strconv.Quote(tsText)
		if rng.Intn(4) == 0 {
			jRpm = strconv.Quote(jRpm) // PostgreSQL text input in a JSON string
		}
		if rpmNull {
			jRpm = "null"
		}
		var errSubs []string
		var line []byte
		csvLine := func() []byte { return []byte(devF + "," + rpmF + "," + dF + "," + tsF) }
		jsonLine := func() []byte {
			var b strings.Builder
			b.WriteString("{")
			sep := ""
			for _, kv := range [][2]string{{"device", jDev}, {"rpm", jRpm}, {"d", jD}, {"ts", jTs}} {
				if kv[1] == "" {
					continue // key left out
				}
				fmt.Fprintf(&b, "%s%q:%s", sep, kv[0], kv[1])
				sep = ","
			}
			b.WriteString("}")
			return []byte(b.String())
		}
		switch kind {
		case -1, kindDivZero:
			if kind == kindDivZero {
				errSubs = []string{"division by zero"}
			}
			if jsonl {
				if rpmNull && rng.Intn(2) == 0 {
					jRpm = "" // a missing key reads as NULL
				}
				line = jsonLine()
			} else {
				line = csvLine()
			}
		case kindStructure:
			if jsonl {
				errSubs = []string{"invalid JSON"}
				l := jsonLine()
				switch rng.Intn(4) {
				case 0:
					line = l[:len(l)-1] // no closing brace
				case 1:
					line = append(l, " x"...)
				case 2:
					line = []byte("[" + jDev + "," + jRpm + "]")
				default:
					line = bytes.Replace(l, []byte(`,"rpm"`), []byte(` "rpm"`), 1)
				}
			} else {
				switch rng.Intn(3) {
				case 0:
					line = append(csvLine(), ",extra"...)
					errSubs = []string{"extra data after last expected column"}
				case 1:
					line = []byte(devF + "," + rpmF + "," + tsF)
					errSubs = []string{`missing data for column "ts"`}
				default:
					line = nil // an empty line
					errSubs = []string{`missing data for column "rpm"`}
				}
			}
		case kindType:
			switch v := rng.Intn(4); {
			case v == 0:
				rpmF, jRpm = "abc", `"abc"`
				errSubs = []string{`column "rpm"`, "invalid input syntax for type bigint"}
			case v == 1:
				tsF, jTs = "not-a-time", `"not-a-time"`
				errSubs = []string{`column "ts"`, "invalid input syntax for type timestamp"}
			case v == 2:
				dF, jD = "1.5", "1.5"
				errSubs = []string{`column "d"`, "invalid input syntax for type bigint"}
			case v == 3 && jsonl:
				jRpm = "true"
				errSubs = []string{`column "rpm"`, "cannot convert a JSON boolean"}
			default:
				rpmF, jRpm = "99999999999999999999", "99999999999999999999"
				errSubs = []string{`column "rpm"`, "out of range"}
			}
			if jsonl {
				line = jsonLine()
			} else {
				line = csvLine()
			}
		case kindUTF8:
			switch rng.Intn(3) {
			case 0:
				devF = "dev\xff" + dev[3:]
				errSubs = []string{`invalid byte sequence for encoding "UTF8": 0xff`}
			case 1:
				devF = "d\xc3(" + dev[1:]
				errSubs = []string{`invalid byte sequence for encoding "UTF8": 0xc3`}
			default:
				devF = "dev\x00" + dev[3:]
				errSubs = []string{`invalid byte sequence for encoding "UTF8": 0x00`}
			}
			jDev = `"` + devF + `"`
			if jsonl {
				line = jsonLine()
			} else {
				line = csvLine()
			}
		case kindNull:
			if rng.Intn(2) == 0 {
				devF, jDev = "", "null"
				errSubs = []string{`null value in column "device" violates not-null constraint`}
			} else {
				tsF, jTs = "", ""
				if rng.Intn(2) == 0 {
					jTs = "null"
				}
				errSubs = []string{`null value in column "ts" violates not-null constraint`}
			}
			if jsonl {
				line = jsonLine()
			} else {
				line = csvLine()
			}
		case kindOversize:
			pad := strings.Repeat("z", connector.MaxRecordBytes+1+rng.Intn(5000))
			if jsonl {
				line = []byte(`{"device":` + jDev + `,"pad":"` + pad + `","d":` + jD + `,"ts":` + jTs + "}")
			} else {
				line = []byte(devF + "," + pad + "," + dF + "," + tsF)
			}
			errSubs = []string{fmt.Sprintf("record is longer than %d bytes", connector.MaxRecordBytes)}
		}
		buf.Write(line)
		buf.WriteByte('\n')
		if kind >= 0 {
			raw := line
			if kind == kindOversize {
				raw = raw[:maxRawBytes]
			}
			b := badRec{kind: kind, raw: append([]byte{}, raw...), errSubs: errSubs}
			if kind == kindDivZero {
				b.decoded = []byte(dev + "," + rpmF + ",0," + datum.FormatTimestamp(ts))
			}
			in.bad[off] = b
			in.perKind[kind]++
			if kind == kindDivZero {
				in.decoded++
			}
			continue
		}
		in.valid++
		in.decoded++
		start := ts - ((ts%(60*sec))+60*sec)%(60*sec)
		k := datum.NewTimestamp(start).Format() + " " + dev
		a := want[k]
		if a == nil {
			a = &agg{}
			want[k] = a
		}
		a.n++
		a.q += 100 / d
		if !rpmNull {
			a.total += rpm
			a.hasTotal = true
		}
	}
	if !jsonl {
		// An unterminated quote at the end of the file: the record runs to
		// the end of the input, and the engine cuts it at its first newline.
		off := int64(buf.Len())
		line := []byte(`dev01,"12,3,2024-01-01 00:00:00`)
		buf.Write(line)
		buf.WriteByte('\n')
		in.bad[off] = badRec{kind: kindUnterminated, raw: line, errSubs: []string{"unterminated CSV quoted field"}}
		in.perKind[kindUnterminated]++
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	in.size = buf.Len()
	for k, a := range want {
		total := ""
		if a.hasTotal {
			total = strconv.FormatInt(a.total, 10)
		}
		in.want = append(in.want, fmt.Sprintf("%s %d %s %d", k, a.n, total, a.q))
	}
	sort.Strings(in.want)
	return in
}

// queryRows runs one statement on e and returns its rows.
func queryRows(t *testing.T, e *engine.Engine, q string) []datum.Row {
	t.Helper()
	s := e.NewSession()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.Exec(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res[len(res)-1].Rows
}

// TestBadInputDeadLetters runs a windowed aggregation (TUMBLE 1 minute by
// device: count, sum, and sum(100 / d), three file partitions and three key
// ranges) over a bounded file, CSV and JSON Lines, with about 1% of the
// records malformed for each kind (badKind), with `weir run --resume`,
// kills it with SIGKILL at random moments (and, every other run, lets it
// kill itself at commit edges) and restarts it until it finishes. After an
// uninterrupted run and after the killed ones: no run crashed or stalled;
// the result table equals the oracle computed over the valid records (0
// rows over, 0 under); weir_dead_letters holds exactly one row per
// malformed record, at its byte offset, with its raw bytes and an error
// naming its problem (reported per kind); weir_jobs says DONE with
// bad_records equal to the number of malformed records and nothing late.
// 100,000 records per format, at least 3 kills (1,000,000 and 10 under
// -stress).
func TestBadInputDeadLetters(t *testing.T) {
	seed := testSeed(t)
	n, bundle, minKills, nOversize := 100_000, "100", 3, 3
	if *stressFlag {
		n, bundle, minKills, nOversize = 1_000_000, "500", 10, 10
	}
	for fi, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed + int64(fi)))
			dir := t.TempDir()
			file := "readings." + format
			genStart := time.Now()
			in := writeBadInput(t, filepath.Join(dir, file), format, n, nOversize, rng)
			var counts []string
			total := 0
			for k := badKind(0); k < numKinds; k++ {
				if in.perKind[k] > 0 {
					counts = append(counts, fmt.Sprintf("%s %d", kindNames[k], in.perKind[k]))
				}
				total += in.perKind[k]
			}
			t.Logf("%d records (%d MB, written in %v): %d valid, %d malformed: %s; oracle %d rows",
				n, in.size>>20, time.Since(genStart).Round(time.Millisecond), in.valid, total, strings.Join(counts, ", "), len(in.want))
			writeFile(t, filepath.Join(dir, "job.sql"), badInputSQL)
			env := []string{"WEIR_BUNDLE_SIZE=" + bundle}
			args := func(data string) []string {
				return []string{"run", "job.sql", "--data", data, "--resume", "--param", "file=" + file, "--param", "format=" + format}
			}
			checkExit := func(what string, res runResult) {
				t.Helper()
				if !res.exited || res.code != 0 || strings.Contains(res.stderr, "panic") {
					t.Fatalf("%s: weir exited %d (exited %v):\n%s", what, res.code, res.exited, res.stderr)
				}
			}

			// An uninterrupted run (the throughput figure, and the start-up
			// cost by resuming the finished job), checked too.
			full := runWeir(t, dir, env, 0, args("calibrate")...)
			checkExit("uninterrupted run", full)
			startup := runWeir(t, dir, env, 0, args("calibrate")...)
			checkExit("resuming a finished job", startup)
			work := full.elapsed - startup.elapsed
			t.Logf("uninterrupted run %v (start-up %v): %.0f events/s wall clock, %.0f events/s without the start-up",
				full.elapsed.Round(time.Millisecond), startup.elapsed.Round(time.Millisecond),
				float64(n)/full.elapsed.Seconds(), float64(n)/max(work, time.Millisecond).Seconds())
			verifyBadInput(t, dir, "calibrate", in)

			if work < 50*time.Millisecond {
				work = 50 * time.Millisecond
			}
			share := work / time.Duration(minKills)
			killStart := time.Now()
			runs, kills, selfKills := killRounds(t, rng, killPlan{dir: dir, env: env, startup: startup.elapsed, share: share, minKills: minKills,
				args:  args,
				check: func(run int, res runResult) { checkExit(fmt.Sprintf("run %d", run), res) },
				verify: func(round, roundKills int, data string) {
					verifyBadInput(t, dir, data, in)
					t.Logf("round %d: finished after %d kills", round, roundKills)
				}})
			t.Logf("%d runs in %v: %d SIGKILLs at random moments, %d self-kills at commit edges",
				runs, time.Since(killStart).Round(time.Millisecond), kills, selfKills)
		})
	}
}

// verifyBadInput opens the data directory in this process and checks the
// result table, the dead letters and the job's counters.
func verifyBadInput(t *testing.T, dir, data string, in *badInput) {
	t.Helper()
	e, err := engine.Open(engine.Options{DataDir: filepath.Join(dir, data), BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	got := query(t, e, "SELECT window_start, device, n, total, q FROM per_minute")
	if over, under := compareRows(in.want, got); len(over)+len(under) > 0 {
		t.Errorf("%s: table differs from the oracle: %d rows over, %d under (%d expected, %d got)\nover:  %v\nunder: %v",
			data, len(over), len(under), len(in.want), len(got), head(over, 5), head(under, 5))
	}

	type kindStat struct {
		found, missing, dup, rawBad, rendered, errBad, srcBad int
		examples                                              []string
	}
	var stats [numKinds]kindStat
	note := func(st *kindStat, format string, args ...any) {
		if len(st.examples) < 3 {
			st.examples = append(st.examples, fmt.Sprintf(format, args...))
		}
	}
	seen := map[int64]int{}
	unexpected := 0
	var unexpectedEx []string
	rows := queryRows(t, e, "SELECT position, raw, error, source FROM weir_dead_letters WHERE job = 'badjob'")
	for _, r := range rows {
		pos, raw, errText, src := r[0].Int(), r[1].Bytes(), r[2].Str(), r[3].Str()
		seen[pos]++
		b, ok := in.bad[pos]
		if !ok {
			unexpected++
			if len(unexpectedEx) < 5 {
				unexpectedEx = append(unexpectedEx, fmt.Sprintf("position %d raw %q error %q", pos, clip(raw), errText))
			}
			continue
		}
		st := &stats[b.kind]
		if seen[pos] > 1 {
			st.dup++
			note(st, "position %d dead-lettered %d times", pos, seen[pos])
			continue
		}
		st.found++
		if !bytes.Equal(raw, b.raw) {
			st.rawBad++
			why := ""
			if b.decoded != nil && bytes.Equal(raw, b.decoded) {
				st.rendered++
				why = " (the decoded row re-rendered, not the record as it is in the file)"
			}
			note(st, "position %d: raw %q (%d bytes), want %q (%d bytes)%s", pos, clip(raw), len(raw), clip(b.raw), len(b.raw), why)
		}
		for _, s := range b.errSubs {
			if !strings.Contains(errText, s) {
				st.errBad++
				note(st, "position %d: error %q, want it to contain %q", pos, errText, s)
				break
			}
		}
		if src != "readings" {
			st.srcBad++
			note(st, "position %d: source %q", pos, src)
		}
	}
	for pos, b := range in.bad {
		if seen[pos] == 0 {
			st := &stats[b.kind]
			st.missing++
			note(st, "position %d (raw %q) is not a dead letter", pos, clip(b.raw))
		}
	}
	var summary []string
	for k := badKind(0); k < numKinds; k++ {
		st := stats[k]
		want := in.perKind[k]
		if want == 0 && st.found == 0 {
			continue
		}
		summary = append(summary, fmt.Sprintf("%s %d/%d", kindNames[k], st.found, want))
		if st.found != want || st.missing+st.dup+st.rawBad+st.errBad+st.srcBad > 0 {
			t.Errorf("%s: dead letters of kind %q: %d malformed records, %d found once, %d missing, %d duplicates, %d with wrong raw bytes (%d of them the decoded row re-rendered), %d with a wrong error, %d with a wrong source; e.g.\n  %s",
				data, kindNames[k], want, st.found, st.missing, st.dup, st.rawBad, st.rendered, st.errBad, st.srcBad, strings.Join(st.examples, "\n  "))
		}
	}
	if unexpected > 0 {
		t.Errorf("%s: %d dead letters at positions of no malformed record, e.g.\n  %s", data, unexpected, strings.Join(unexpectedEx, "\n  "))
	}
	t.Logf("%s: %d dead letters (found/expected per kind: %s)", data, len(rows), strings.Join(summary, ", "))

	nbad := len(in.bad)
	jobs := query(t, e, "SELECT state, late_dropped, bad_records, events_in FROM weir_jobs WHERE name = 'badjob'")
	prefix := fmt.Sprintf("DONE 0 %d ", nbad)
	if len(jobs) != 1 || !strings.HasPrefix(jobs[0], prefix) {
		t.Errorf("%s: weir_jobs (state, late_dropped, bad_records, events_in) %v, want %q...", data, jobs, prefix)
		return
	}
	// events_in counts the records read, once: either only those that
	// went through (valid) or every one that decoded.
	ev, _ := strconv.Atoi(strings.TrimPrefix(jobs[0], prefix))
	if ev != in.valid && ev != in.decoded {
		t.Errorf("%s: weir_jobs events_in %d, want %d (valid records) or %d (records that decode)", data, ev, in.valid, in.decoded)
	}
	t.Logf("%s: weir_jobs DONE, bad_records %d, late_dropped 0, events_in %d (valid %d, decoded %d)", data, nbad, ev, in.valid, in.decoded)
}

// clip shortens raw bytes for a message.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return append(append([]byte{}, b[:80]...), "..."...)
	}
	return b
}
