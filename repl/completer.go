package repl

import (
	"context"
	"sort"
	"strings"
	"unicode"
)

// keywords are completed in the case the user is typing in.
var keywords = strings.Fields(`
	ALL ALTER AND AS ASC AVG BEGIN BETWEEN BIGINT BOOLEAN BY BYTEA CANCEL CASE CAST
	COALESCE COMMIT CONNECTOR COPY COUNT CREATE CROSS CSV DATE DELETE DESC DISTINCT
	DOUBLE DRAIN DROP ELSE END EXISTS EXPLAIN FALSE FILTER FOR FROM FULL GROUP HAVING HOP
	IF IN INNER INSERT INTEGER INTERVAL INTO IS JOB JOBS JOIN KEY LEFT LIKE LIMIT
	MAPPING MAX MIN NOT NULL OFFSET ON OR ORDER OUTER OVER PANE_INDEX PANE_TIMING
	PARTITION PRIMARY RIGHT ROLLBACK SECOND MINUTE HOUR DAY SELECT SET SHOW SINK
	SINKS SNAPSHOT SNAPSHOTS SOURCE SOURCES STDIN SUM TABLE TABLES TEMPLATE
	TEMPLATES TEXT THEN TIMESTAMP TRUE TUMBLE TUMBLE_END TUMBLE_START HOP_START
	HOP_END UNION UPDATE USING VALUES VARCHAR WATERMARK WHEN WHERE WITH
`)

// metaCommands are completed after a backslash.
var metaCommands = strings.Fields(`? conninfo d echo g i include jobs p pset q r timing watch x`)

// completer is readline's tab completion: keywords, object names
// (tables, sources, sinks, jobs, system tables) and column names, narrowed
// by the word before the cursor's word (FROM offers relations, DRAIN JOB
// offers jobs, \d offers objects).
type completer struct{ sh *shell }

func isWordRune(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// Do implements readline.AutoCompleter: it returns the candidates' suffixes
// after the word being typed, and that word's length.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	start := pos
	for start > 0 && isWordRune(line[start-1]) {
		start--
	}
	prefix := line[start:pos]
	cands := c.candidates(string(line[:start]), string(prefix))
	out := make([][]rune, 0, len(cands))
	for _, cand := range cands {
		rc := []rune(cand)
		if len(rc) >= len(prefix) {
			out = append(out, append(rc[len(prefix):], ' '))
		}
	}
	return out, len(prefix)
}

// candidates lists the completions of prefix after the text before.
func (c *completer) candidates(before, prefix string) []string {
	lower := strings.ToLower(prefix)
	var pool []string
	add := func(names ...string) {
		for _, n := range names {
			if strings.HasPrefix(strings.ToLower(n), lower) {
				pool = append(pool, n)
			}
		}
	}
	trimmed := strings.TrimLeft(before, " \t")
	if strings.HasPrefix(trimmed, `\`) {
		if trimmed == `\` {
			add(metaCommands...)
			return finish(pool)
		}
		cmd, args := metaArgs(trimmed)
		if (cmd == `\d` || cmd == `\d+`) && len(args) == 0 {
			c.addObjects(add, func(object) bool { return true }, true)
		}
		return finish(pool)
	}
	sc := lex(before)
	if sc.state != stNormal || sc.meta >= 0 {
		return nil
	}
	var last, prev string
	if n := len(sc.toks); n > 0 {
		last = strings.ToUpper(sc.toks[n-1].text)
		if n > 1 {
			prev = strings.ToUpper(sc.toks[n-2].text)
		}
	}
	kind := func(k string) func(object) bool { return func(o object) bool { return o.kind == k } }
	relation := func(o object) bool { return o.kind != "job" && o.kind != "sink" }
	switch {
	case prev == "CREATE" && (last == "TABLE" || last == "SOURCE" || last == "SINK" || last == "JOB" || last == "TEMPLATE"):
		// A new name: nothing to offer.
	case last == "FROM" || last == "JOIN" || last == "UPDATE":
		c.addObjects(add, relation, true)
	case last == "INTO":
		c.addObjects(add, func(o object) bool { return o.kind != "job" }, false)
	case last == "TABLE" || last == "SOURCE" || last == "SINK":
		c.addObjects(add, kind(strings.ToLower(last)), false)
	case last == "JOB":
		c.addObjects(add, kind("job"), false)
	case last == "(" && (prev == "TUMBLE" || prev == "HOP"):
		c.addObjects(add, kind("source"), false)
	case prefix == "":
		// Too many to be useful.
	default:
		kws := keywords
		if strings.ToUpper(prefix) != prefix {
			kws = make([]string, len(keywords))
			for i, k := range keywords {
				kws[i] = strings.ToLower(k)
			}
		}
		add(kws...)
		c.addObjects(add, func(object) bool { return true }, true)
		for _, o := range c.objects() {
			if o.def != nil {
				for _, col := range o.def.columns {
					add(col.name)
				}
			}
		}
		for _, cols := range systemTables {
			add(cols...)
		}
	}
	return finish(pool)
}

func (c *completer) objects() []object {
	return c.sh.objects.get(context.Background(), false)
}

func (c *completer) addObjects(add func(...string), keep func(object) bool, system bool) {
	for _, o := range c.objects() {
		if keep(o) {
			add(o.name)
		}
	}
	if system {
		for name := range systemTables {
			add(name)
		}
	}
}

// finish sorts and de-duplicates candidates.
func finish(pool []string) []string {
	sort.Strings(pool)
	out := pool[:0]
	for i, s := range pool {
		if i == 0 || s != pool[i-1] {
			out = append(out, s)
		}
	}
	return out
}
