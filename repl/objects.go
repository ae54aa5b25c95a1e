package repl

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// object is a user object the shell knows about, for \d and completion.
type object struct {
	name string
	kind string // "table", "source", "sink" or "job"
	// def is the parsed CREATE statement (nil for jobs).
	def *definition
	// jobID and state describe a job's newest launch.
	jobID, state string
}

// kindOrder sorts \d's listing.
var kindOrder = map[string]int{"table": 0, "source": 1, "sink": 2, "job": 3}

// systemTables are Weir's system tables with their columns, offered by
// completion (they are not in SHOW TABLES).
var systemTables = map[string][]string{
	"weir_jobs":         {"name", "job_id", "state", "started_at", "ended_at", "events_in", "events_out", "late_dropped"},
	"weir_operators":    {"job", "job_id", "stage", "operator", "stateful", "watermark", "state_bytes"},
	"weir_key_ranges":   {"job", "job_id", "stage", "range_start", "range_end", "worker", "events_per_second", "events", "watermark", "unit", "buckets", "partition", "backlog", "hot", "done"},
	"weir_snapshots":    {"name", "job", "job_id", "with_source", "created_at", "bytes", "operators"},
	"weir_dead_letters": {"job", "job_id", "source", "position", "raw", "error", "time"},
}

// objectCache holds the object list. It is loaded through the session on
// first use, after DDL (noteTag), and when older than maxAge (another
// client may have changed the catalog).
type objectCache struct {
	sh *shell

	// mu guards the fields below; it is held while loading, which queries
	// the session (under shell.sessMu, always taken after mu).
	mu     sync.Mutex
	objs   []object
	loaded time.Time
	stale  bool
}

const objectCacheMaxAge = 30 * time.Second

// noteTag marks the cache stale after a statement that may have changed
// the catalog or the set of jobs.
func (c *objectCache) noteTag(tag string) {
	word, _, _ := strings.Cut(tag, " ")
	switch word {
	case "CREATE", "DROP", "ALTER", "DRAIN", "CANCEL":
		c.mu.Lock()
		c.stale = true
		c.mu.Unlock()
	}
}

// get returns the objects, reloading them when stale, old, or force is set.
func (c *objectCache) get(ctx context.Context, force bool) []object {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.sh.now()
	if force || c.stale || c.loaded.IsZero() || now.Sub(c.loaded) > objectCacheMaxAge {
		c.objs = c.load(ctx)
		c.loaded, c.stale = now, false
	}
	return c.objs
}

// load queries the object lists. A query that fails (say, a PostgreSQL
// server without SHOW SOURCES) contributes nothing.
func (c *objectCache) load(ctx context.Context) []object {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var objs []object
	for _, k := range []struct{ show, kind string }{{"SHOW TABLES", "table"}, {"SHOW SOURCES", "source"}, {"SHOW SINKS", "sink"}} {
		r, err := c.sh.query(ctx, k.show)
		if err != nil || len(r.Columns) < 1 {
			continue
		}
		for _, row := range r.Rows {
			o := object{name: row[0].Format(), kind: k.kind}
			if len(row) > 1 {
				o.def = parseDefinition(row[1].Format())
			}
			objs = append(objs, o)
		}
	}
	if r, err := c.sh.query(ctx, "SELECT name, job_id, state FROM weir_jobs"); err == nil && len(r.Columns) == 3 {
		// weir_jobs has a row per launch; keep each name's newest.
		newest := map[string]int{}
		for _, row := range r.Rows {
			name := row[0].Format()
			id, _ := strconv.ParseInt(row[1].Format(), 10, 64)
			i, seen := newest[name]
			if seen {
				old, _ := strconv.ParseInt(objs[i].jobID, 10, 64)
				if id < old {
					continue
				}
				objs[i].jobID, objs[i].state = row[1].Format(), row[2].Format()
				continue
			}
			newest[name] = len(objs)
			objs = append(objs, object{name: name, kind: "job", jobID: row[1].Format(), state: row[2].Format()})
		}
	}
	sort.SliceStable(objs, func(i, j int) bool {
		if objs[i].kind != objs[j].kind {
			return kindOrder[objs[i].kind] < kindOrder[objs[j].kind]
		}
		return objs[i].name < objs[j].name
	})
	return objs
}

// colDef is a column of a CREATE statement, its type as written.
type colDef struct {
	name, typ string
	notNull   bool
}

// definition is what the shell reads from an object's CREATE statement
// (the definition column of SHOW TABLES/SOURCES/SINKS). The shell parses
// it itself, leniently, so that \d works the same against any server.
type definition struct {
	columns    []colDef
	primaryKey []string
	watermark  string   // "FOR ts AS ts - INTERVAL '5' SECOND", or ""
	options    []string // "connector = 'log'", ...
	connector  string
}

// splitList splits the tokens between toks[open] "(" and its matching ")"
// at top-level commas. It returns the elements and the index of the ")".
func splitList(toks []token, open int) ([][]token, int) {
	var elems [][]token
	depth := 0
	start := open + 1
	for i := open; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tkPunct {
			continue
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				if i > start {
					elems = append(elems, toks[start:i])
				}
				return elems, i
			}
		case ",":
			if depth == 1 {
				if i > start {
					elems = append(elems, toks[start:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(toks) {
		elems = append(elems, toks[start:])
	}
	return elems, len(toks)
}

func isWord(t token, w string) bool { return t.kind == tkWord && strings.EqualFold(t.text, w) }

func span(text string, toks []token) string {
	if len(toks) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(text[toks[0].pos:toks[len(toks)-1].end]), " ")
}

// parseDefinition reads columns, primary key, watermark and options from a
// CREATE TABLE/SOURCE/SINK statement.
func parseDefinition(text string) *definition {
	d := &definition{}
	toks := lex(text).toks
	open := -1
	for i, t := range toks {
		if t.kind == tkPunct && t.text == "(" {
			open = i
			break
		}
	}
	if open < 0 {
		return d
	}
	elems, closeAt := splitList(toks, open)
	for _, e := range elems {
		switch {
		case isWord(e[0], "WATERMARK"):
			d.watermark = span(text, e[1:])
		case isWord(e[0], "PRIMARY") && len(e) > 2 && isWord(e[1], "KEY"):
			keys, _ := splitList(e, 2)
			for _, k := range keys {
				d.primaryKey = append(d.primaryKey, unquote(k[0]))
			}
		case isWord(e[0], "CONSTRAINT"), isWord(e[0], "UNIQUE"), isWord(e[0], "CHECK"):
		default:
			c := colDef{name: unquote(e[0])}
			typeEnd := len(e)
			for i := 1; i < len(e); i++ {
				switch {
				case isWord(e[i], "NOT") && i+1 < len(e) && isWord(e[i+1], "NULL"):
					c.notNull = true
				case isWord(e[i], "PRIMARY"):
					d.primaryKey = append(d.primaryKey, c.name)
					c.notNull = true
				case isWord(e[i], "NULL"), isWord(e[i], "DEFAULT"), isWord(e[i], "CONSTRAINT"),
					isWord(e[i], "REFERENCES"), isWord(e[i], "CHECK"), isWord(e[i], "UNIQUE"):
				default:
					continue
				}
				if i < typeEnd {
					typeEnd = i
				}
			}
			c.typ = span(text, e[1:typeEnd])
			d.columns = append(d.columns, c)
		}
	}
	for _, name := range d.primaryKey {
		for i := range d.columns {
			if d.columns[i].name == name {
				d.columns[i].notNull = true
			}
		}
	}
	rest := toks[min(closeAt+1, len(toks)):]
	for i := 0; i+1 < len(rest); i++ {
		if isWord(rest[i], "WITH") && rest[i+1].kind == tkPunct && rest[i+1].text == "(" {
			opts, _ := splitList(rest, i+1)
			for _, o := range opts {
				d.options = append(d.options, span(text, o))
				if isWord(o[0], "connector") && len(o) >= 3 {
					d.connector = o[len(o)-1].text
				}
			}
			break
		}
	}
	return d
}
