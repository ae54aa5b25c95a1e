package slt

import (
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// ManualClockStart is where processing time starts in a file that uses
// advance-time.
var ManualClockStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure a run.
type Options struct {
	// Rewrite replaces expected results in the files with actual ones.
	Rewrite bool
	// Out receives failure reports (and progress with Verbose).
	Out     io.Writer
	Verbose bool
	// Timeout bounds one statement or query (default 60s).
	Timeout time.Duration
}

// Summary counts records.
type Summary struct {
	Passed, Failed, Skipped int
}

// RunFiles runs each file on a fresh engine and returns the totals.
func RunFiles(files []string, o Options) (Summary, error) {
	var total Summary
	for _, f := range files {
		s, err := RunFile(f, o)
		total.Passed += s.Passed
		total.Failed += s.Failed
		total.Skipped += s.Skipped
		if err != nil {
			return total, fmt.Errorf("%s: %w", f, err)
		}
	}
	return total, nil
}

// record is one parsed record of a file.
type record struct {
	line     int      // 1-based line of the record's first line
	kind     string   // statement, query, advance-watermark, advance-time, wait-job, halt, hash-threshold
	args     []string // the record header's words after the kind
	sql      string
	expected []string // lines after ----
	hasSep   bool
	skip     bool
	start    int // index of the first line of the record in the file
	end      int // index after the record's last line
}

func parse(lines []string) []*record {
	var recs []*record
	i := 0
	for i < len(lines) {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			i++
			continue
		}
		r := &record{line: i + 1, start: i}
		// skipif/onlyif prefix lines
		for strings.HasPrefix(line, "skipif ") || strings.HasPrefix(line, "onlyif ") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if (f[0] == "skipif" && f[1] == "weir") || (f[0] == "onlyif" && f[1] != "weir") {
					r.skip = true
				}
			}
			i++
			if i >= len(lines) {
				break
			}
			line = strings.TrimSpace(lines[i])
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			i++
			continue
		}
		r.kind, r.args = f[0], f[1:]
		i++
		switch r.kind {
		case "statement", "query":
			var sqlLines []string
			for i < len(lines) && strings.TrimSpace(lines[i]) != "" && strings.TrimSpace(lines[i]) != "----" {
				sqlLines = append(sqlLines, lines[i])
				i++
			}
			r.sql = strings.Join(sqlLines, "\n")
			if i < len(lines) && strings.TrimSpace(lines[i]) == "----" {
				r.hasSep = true
				i++
				for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
					r.expected = append(r.expected, lines[i])
					i++
				}
			}
		}
		r.end = i
		recs = append(recs, r)
	}
	return recs
}

// RunFile runs one file on a fresh embedded engine.
func RunFile(path string, o Options) (Summary, error) {
	var sum Summary
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return sum, err
	}
	lines := strings.Split(string(raw), "\n")
	recs := parse(lines)
	absDir, _ := filepath.Abs(filepath.Dir(path))
	opts := engine.Options{BaseDir: absDir, NoSync: true}
	var clock *connector.ManualClock
	for _, r := range recs {
		if r.kind == "advance-time" {
			// The file controls processing time.
			clock = connector.NewManualClock(ManualClockStart)
			opts.Clock = clock
			break
		}
	}
	e, err := engine.Open(opts)
	if err != nil {
		return sum, err
	}
	defer e.Close()
	s := e.NewSession()
	s.WaitForBoundedJobs = true
	defer s.Close()
	hashThreshold := 0
	var rewritten []string
	last := 0
	for _, r := range recs {
		if r.skip {
			sum.Skipped++
			continue
		}
		if r.kind == "halt" {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
		actual, failure := runRecord(ctx, e, s, clock, r, &hashThreshold, o.Rewrite)
		cancel()
		if o.Rewrite && r.kind == "query" && argAt(r.args, 0) != "error" {
			rewritten = append(rewritten, lines[last:r.start]...)
			rewritten = append(rewritten, lines[r.start:r.start+headerLines(lines, r)]...)
			rewritten = append(rewritten, "----")
			rewritten = append(rewritten, actual...)
			last = r.end
		}
		switch {
		case failure == "":
			sum.Passed++
			if o.Verbose {
				fmt.Fprintf(o.Out, "%s:%d: ok\n", path, r.line)
			}
		default:
			sum.Failed++
			fmt.Fprintf(o.Out, "%s:%d: %s\n", path, r.line, failure)
		}
	}
	if o.Rewrite {
		rewritten = append(rewritten, lines[last:]...)
		if err := os.WriteFile(path, []byte(strings.Join(rewritten, "\n")), 0o644); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// headerLines counts the record's lines before "----" (or all of them).
func headerLines(lines []string, r *record) int {
	n := 0
	for i := r.start; i < r.end; i++ {
		if strings.TrimSpace(lines[i]) == "----" {
			return n
		}
		n++
	}
	return n
}

// runRecord runs one record; it returns the actual result lines (queries)
// and a failure description ("" when it passed).
func runRecord(ctx context.Context, e *engine.Engine, s *engine.Session, clock *connector.ManualClock, r *record, hashThreshold *int, rewrite bool) ([]string, string) {
	switch r.kind {
	case "advance-time":
		d, err := time.ParseDuration(argAt(r.args, 0))
		if err != nil || d < 0 {
			return nil, "advance-time wants a duration such as 10s"
		}
		clock.Advance(d)
		return nil, ""
	case "hash-threshold":
		if len(r.args) > 0 {
			*hashThreshold, _ = strconv.Atoi(r.args[0])
		}
		return nil, ""
	case "advance-watermark":
		if len(r.args) < 2 {
			return nil, "advance-watermark wants SOURCE TIMESTAMP"
		}
		us, err := datum.ParseTimestamp(strings.Join(r.args[1:], " "))
		if err != nil {
			return nil, err.Error()
		}
		if err := e.AdvanceWatermark(r.args[0], us); err != nil {
			return nil, describe(err)
		}
		if err := e.WaitSourceWatermark(ctx, r.args[0], us); err != nil {
			return nil, describe(err)
		}
		return nil, ""
	case "wait-job":
		if len(r.args) < 1 {
			return nil, "wait-job wants NAME"
		}
		if err := e.WaitJob(ctx, r.args[0]); err != nil {
			return nil, describe(err)
		}
		return nil, ""
	case "statement":
		res, err := s.Exec(ctx, r.sql)
		mode := ""
		if len(r.args) > 0 {
			mode = r.args[0]
		}
		switch mode {
		case "ok":
			if err != nil {
				return nil, "statement failed: " + describe(err)
			}
		case "error":
			if f := expectError(err, r.args[1:]); f != "" {
				return nil, "statement " + f
			}
		case "count":
			if err != nil {
				return nil, "statement failed: " + describe(err)
			}
			want, _ := strconv.Atoi(argAt(r.args, 1))
			got := 0
			if len(res) > 0 {
				got = tagCount(res[len(res)-1].Tag)
			}
			if got != want {
				return nil, fmt.Sprintf("statement affected %d rows, expected %d", got, want)
			}
		default:
			return nil, fmt.Sprintf("unknown statement mode %q", mode)
		}
		return nil, ""
	case "query":
		if argAt(r.args, 0) == "error" {
			// query error [regexp]: the query must fail (and match).
			_, err := s.Exec(ctx, r.sql)
			if f := expectError(err, r.args[1:]); f != "" {
				return nil, "query " + f
			}
			return nil, ""
		}
		types, sortMode := argAt(r.args, 0), "nosort"
		retries, backoff := 0, 100*time.Millisecond
		for i := 1; i < len(r.args); i++ {
			switch a := r.args[i]; a {
			case "nosort", "rowsort", "valuesort":
				sortMode = a
			case "retry":
				retries, _ = strconv.Atoi(argAt(r.args, i+1))
				i++
			case "backoff":
				if d, err := time.ParseDuration(argAt(r.args, i+1)); err == nil {
					backoff = d
				}
				i++
			}
		}
		var actual []string
		var failure string
		for attempt := 0; ; attempt++ {
			actual, failure = runQuery(ctx, s, r, types, sortMode, *hashThreshold)
			// With rewrite, too, retry until the result is the expected one
			// (or the retries run out), so that a rewrite does not record a
			// result the job had not finished producing.
			if failure == "" || attempt >= retries {
				break
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return actual, failure
			}
		}
		if rewrite {
			return actual, ""
		}
		return actual, failure
	}
	return nil, fmt.Sprintf("unknown record %q", r.kind)
}

// expectError checks that err is an error matching the pattern in args
// (words joined by spaces; a regexp, matched against "SQLSTATE: message").
func expectError(err error, args []string) string {
	if err == nil {
		return "succeeded, expected an error"
	}
	if len(args) > 0 {
		pat := strings.Join(args, " ")
		if !matches(pat, describe(err)) {
			return fmt.Sprintf("error %q does not match %q", describe(err), pat)
		}
	}
	return ""
}

func runQuery(ctx context.Context, s *engine.Session, r *record, types, sortMode string, hashThreshold int) ([]string, string) {
	res, err := s.Exec(ctx, r.sql)
	if err != nil {
		return []string{"error: " + describe(err)}, "query failed: " + describe(err)
	}
	if len(res) == 0 || res[len(res)-1].Columns == nil {
		return nil, "query returned no rows description"
	}
	out := res[len(res)-1]
	var rows [][]string
	for _, row := range out.Rows {
		vals := make([]string, len(row))
		for i, d := range row {
			t := byte('T')
			if i < len(types) {
				t = types[i]
			}
			vals[i] = formatValue(d, t)
		}
		rows = append(rows, vals)
	}
	var actual []string
	switch sortMode {
	case "rowsort":
		sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], " ") < strings.Join(rows[j], " ") })
	case "valuesort":
		var all []string
		for _, r := range rows {
			all = append(all, r...)
		}
		sort.Strings(all)
		rows = [][]string{}
		for _, v := range all {
			rows = append(rows, []string{v})
		}
	}
	nvals := 0
	for _, r := range rows {
		actual = append(actual, strings.Join(r, " "))
		nvals += len(r)
	}
	if hashThreshold > 0 && nvals > hashThreshold {
		h := md5.New()
		for _, r := range rows {
			for _, v := range r {
				io.WriteString(h, v+"\n")
			}
		}
		actual = []string{fmt.Sprintf("%d values hashing to %x", nvals, h.Sum(nil))}
	}
	if strings.Join(actual, "\n") != strings.Join(trimAll(r.expected), "\n") {
		return actual, fmt.Sprintf("query results differ\n--- expected\n%s\n--- actual\n%s", strings.Join(r.expected, "\n"), strings.Join(actual, "\n"))
	}
	return actual, ""
}

func trimAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(l, " \t")
	}
	return out
}

func formatValue(d datum.Datum, t byte) string {
	if d.IsNull() {
		return "NULL"
	}
	switch t {
	case 'R':
		if d.Kind() == datum.KindFloat || d.Kind() == datum.KindInt {
			return strconv.FormatFloat(d.AsFloat(), 'f', 3, 64)
		}
	case 'I':
		if d.Kind() == datum.KindFloat {
			return strconv.FormatInt(int64(d.Float()), 10)
		}
	}
	s := d.Format()
	if s == "" {
		return "(empty)"
	}
	return s
}

func describe(err error) string {
	pe := pgerr.Wrap(err)
	return fmt.Sprintf("%s: %s", pe.Code, pe.Message)
}

func matches(pat, s string) bool {
	re, err := regexp.Compile(pat)
	if err != nil {
		return strings.Contains(s, pat)
	}
	return re.MatchString(s)
}

func argAt(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return ""
}

func tagCount(tag string) int {
	f := strings.Fields(tag)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}
