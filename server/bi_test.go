package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/weir-sql/weir/internal/pgtest"
)

// Tests with the SQL clients and tools BI users run (pgcli, SQLAlchemy and
// pandas, pg_dump, pgjdbc's DatabaseMetaData as DBeaver calls it): each
// program completes a short session against the engine with no statement
// failing, SQLAlchemy's reflection and pg_dump's schema agree with a real
// PostgreSQL 15 holding the same tables, and every statement each program
// sent is kept in testdata/clients/<program>.txt, so that a change in what
// they send, or a statement that starts failing, shows as a diff (go test
// -rewrite updates the files).
//
// The tables are random (names, column types, primary keys) from -seed
// (printed; 0 picks one); the corpus files are written with placeholders
// for the random names so they do not depend on it.
//
//	apt-get install -y pgcli python3-sqlalchemy python3-pandas postgresql-client postgresql

var biSeed = flag.Int64("seed", 0, "TestBI*: seed of the random tables (0: a new one, printed)")

// biColumnTypes are the types both Weir and PostgreSQL accept and report
// alike.
var biColumnTypes = []string{"bigint", "integer", "smallint", "text", "character varying", "double precision",
	"real", "boolean", "timestamp without time zone", "timestamp with time zone", "date", "bytea", "numeric",
	"uuid", "interval"}

type biColumn struct{ name, typ string }

type biTable struct {
	name string
	cols []biColumn
	pk   []int
}

// biSchema is the random tables of a test: three, so that the corpus of
// statements per table is the same for every seed.
type biSchema struct {
	seed   int64
	tables []biTable
}

func newBISchema(t *testing.T) *biSchema {
	seed := *biSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("random tables from -seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	words := []string{"orders", "users", "clicks", "device", "price", "amount", "region", "created", "note", "score", "flag", "ts"}
	s := &biSchema{seed: seed}
	for i := 0; i < 3; i++ {
		tb := biTable{name: fmt.Sprintf("t%d_%s_%d", i+1, words[rng.Intn(len(words))], rng.Intn(1000))}
		// The first table, which the programs read, has every type once
		// (so that the type lookups pgjdbc sends do not depend on the
		// seed), in a random order; the others random ones.
		types := make([]string, 2+rng.Intn(5))
		for j := range types {
			types[j] = biColumnTypes[rng.Intn(len(biColumnTypes))]
		}
		if i == 0 {
			types = types[:0]
			for _, j := range rng.Perm(len(biColumnTypes)) {
				types = append(types, biColumnTypes[j])
			}
		}
		n := len(types)
		for j, typ := range types {
			tb.cols = append(tb.cols, biColumn{fmt.Sprintf("c%d_%s", j+1, words[rng.Intn(len(words))]), typ})
		}
		// A primary key of up to two columns; the first table always has
		// one (the statements pg_dump sends for indexes then do not depend
		// on the seed).
		for _, j := range rng.Perm(n) {
			if len(tb.pk) == 2 || len(tb.pk) == 1 && rng.Intn(2) == 0 || len(tb.pk) == 0 && i > 0 && rng.Intn(3) == 0 {
				break
			}
			switch tb.cols[j].typ {
			case "double precision", "real", "bytea", "interval":
				continue // not a key type in Weir
			}
			tb.pk = append(tb.pk, j)
		}
		s.tables = append(s.tables, tb)
	}
	return s
}

// ddl is the CREATE TABLE statements, in the syntax both accept.
func (s *biSchema) ddl() string {
	var b strings.Builder
	for _, tb := range s.tables {
		fmt.Fprintf(&b, "CREATE TABLE %s (", tb.name)
		for j, c := range tb.cols {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %s", c.name, c.typ)
		}
		if len(tb.pk) > 0 {
			var names []string
			for _, j := range tb.pk {
				names = append(names, tb.cols[j].name)
			}
			fmt.Fprintf(&b, ", PRIMARY KEY (%s)", strings.Join(names, ", "))
		}
		b.WriteString(");\n")
	}
	return b.String()
}

// placeholders maps the random names to stable ones (t1, t1.c2, ...) for
// the corpus, longest first so that no name replaces part of another.
func (s *biSchema) placeholders() *strings.Replacer {
	type pair struct{ from, to string }
	var ps []pair
	for _, tb := range s.tables {
		i := tb.name[:strings.IndexByte(tb.name, '_')]
		ps = append(ps, pair{tb.name, "<" + i + ">"})
		for _, c := range tb.cols {
			ps = append(ps, pair{c.name, "<" + i + "." + c.name[:strings.IndexByte(c.name, '_')] + ">"})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return len(ps[i].from) > len(ps[j].from) })
	var args []string
	for _, p := range ps {
		args = append(args, p.from, p.to)
	}
	return strings.NewReplacer(args...)
}

// biWeirDDL adds Weir's streaming objects, which the programs must show
// or skip without failing (they are not compared with PostgreSQL).
const biWeirDDL = `CREATE SOURCE readings (device VARCHAR, temp DOUBLE, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE SINK alerts (device VARCHAR, temp DOUBLE) WITH (connector = 'blackhole');`

// stmtLog records the statements a program sends and the errors they
// end with.
type stmtLog struct {
	mu     sync.Mutex
	stmts  []string
	failed []string
}

func (l *stmtLog) record(text string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stmts = append(l.stmts, text)
	if err != nil {
		l.failed = append(l.failed, firstLine(text)+"\n    -> "+err.Error())
	}
}

// reset forgets what was recorded (the test's own setup statements).
func (l *stmtLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stmts, l.failed = nil, nil
}

var (
	oidRe   = regexp.MustCompile(`\b(1[6-9]\d{3}|[2-9]\d{4}|\d{6,})\b`)
	oidsRe  = regexp.MustCompile(`<oid>(, ?<oid>)+`)
	spaceRe = regexp.MustCompile(`\s+`)
)

// check fails t for every statement that failed, and compares the
// distinct statements (whitespace collapsed, the random names and OIDs of
// user objects replaced) with testdata/clients/<name>.txt.
func (l *stmtLog) check(t *testing.T, name string, s *biSchema) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failed) > 0 {
		t.Errorf("%s: %d statements failed:\n%s", name, len(l.failed), strings.Join(l.failed, "\n"))
	}
	if len(l.stmts) == 0 {
		t.Errorf("%s sent no statement", name)
	}
	rep := s.placeholders()
	seen := map[string]bool{}
	var out []string
	for _, st := range l.stmts {
		st = strings.TrimSpace(spaceRe.ReplaceAllString(st, " "))
		st = oidRe.ReplaceAllString(rep.Replace(st), "<oid>")
		st = oidsRe.ReplaceAllString(st, "<oid>")
		if !seen[st] {
			seen[st] = true
			out = append(out, st)
		}
	}
	sort.Strings(out)
	got := strings.Join(out, "\n") + "\n"
	path := filepath.Join("testdata", "clients", name+".txt")
	if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -rewrite to make it)", err)
	}
	if string(want) != got {
		t.Errorf("the statements %s sent differ from %s (go test -rewrite updates it):\n%s", name, path, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// startBIServer starts the engine server with the random tables and the
// streaming objects, recording statements from then on.
func startBIServer(t *testing.T, s *biSchema) (*testServer, *stmtLog) {
	t.Helper()
	log := &stmtLog{}
	ts, _ := startEngineServer(t, Config{LogStatement: log.record})
	conn := connectPgx(t, ts.url("weir", ""), 0)
	for _, st := range strings.Split(s.ddl()+biWeirDDL, ";") {
		if strings.TrimSpace(st) == "" {
			continue
		}
		if _, err := conn.Exec(testCtx(t), st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	conn.Close(context.Background())
	log.reset()
	return ts, log
}

// startBIPostgres starts a real PostgreSQL with the same tables (and a
// role weir, which Weir's dumps name as the owner).
func startBIPostgres(t *testing.T, s *biSchema) string {
	t.Helper()
	pg := pgtest.Start(t)
	conn := connectPgx(t, pg.URL, 0)
	defer conn.Close(context.Background())
	for _, st := range []string{"CREATE ROLE weir", "CREATE DATABASE restored", s.ddl()} {
		if _, err := conn.Exec(testCtx(t), st); err != nil {
			t.Fatal(err)
		}
	}
	return pg.URL
}

const sqlalchemyScript = `
import json, os, sys
import sqlalchemy as sa
eng = sa.create_engine(os.environ["DSN"].replace("postgres://", "postgresql://", 1))
insp = sa.inspect(eng)
out = {"tables": {}}
for t in sorted(insp.get_table_names()):
    out["tables"][t] = {
        "columns": [[c["name"], str(c["type"]), c["nullable"]] for c in insp.get_columns(t)],
        "pk": insp.get_pk_constraint(t)["constrained_columns"],
        "indexes": sorted([i["name"], i["column_names"], i["unique"]] for i in insp.get_indexes(t)),
        "fks": insp.get_foreign_keys(t),
        "unique": insp.get_unique_constraints(t),
        "checks": insp.get_check_constraints(t),
    }
    insp.get_table_comment(t)
out["views"] = sorted(insp.get_view_names())
out["schemas"] = sorted(insp.get_schema_names())
try:
    import pandas
    t = os.environ["TABLE"]
    df = pandas.read_sql("SELECT * FROM " + t, eng)
    out["pandas"] = list(df.columns)
except ImportError:
    out["pandas"] = None
print("RESULT " + json.dumps(out))
`

type sqlalchemyResult struct {
	Tables map[string]struct {
		Columns [][]any `json:"columns"`
		PK      []string
		Indexes [][]any
		FKs     []any `json:"fks"`
		Unique  []any
		Checks  []any
	}
	Views   []string
	Schemas []string
	Pandas  []string
}

func runSQLAlchemy(t *testing.T, dsn, table string) sqlalchemyResult {
	t.Helper()
	out, err := runClient(t, []string{"DSN=" + dsn, "TABLE=" + table}, "/usr/bin/python3", "-c", sqlalchemyScript)
	if err != nil {
		t.Fatalf("SQLAlchemy: %v\n%s", err, out)
	}
	i := strings.LastIndex(out, "RESULT ")
	if i < 0 {
		t.Fatalf("SQLAlchemy printed no result:\n%s", out)
	}
	var r sqlalchemyResult
	if err := json.Unmarshal([]byte(out[i+len("RESULT "):]), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// TestBISQLAlchemy reflects the tables with SQLAlchemy's inspector (and
// reads one with pandas) against Weir and PostgreSQL and compares.
func TestBISQLAlchemy(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 is not installed (apt-get install python3-sqlalchemy python3-psycopg2)")
	}
	if out, err := runClient(t, nil, "/usr/bin/python3", "-c", "import sqlalchemy, psycopg2"); err != nil {
		t.Skipf("SQLAlchemy or psycopg2 is not installed (apt-get install python3-sqlalchemy python3-psycopg2): %s", out)
	}
	s := newBISchema(t)
	ts, log := startBIServer(t, s)
	weir := runSQLAlchemy(t, ts.url("weir", ""), s.tables[0].name)
	log.check(t, "sqlalchemy", s)
	pg := runSQLAlchemy(t, startBIPostgres(t, s), s.tables[0].name)
	for _, tb := range s.tables {
		w, p := weir.Tables[tb.name], pg.Tables[tb.name]
		wj, _ := json.Marshal(w)
		pj, _ := json.Marshal(p)
		if string(wj) != string(pj) {
			t.Errorf("table %s reflects differently:\n weir: %s\n   pg: %s", tb.name, wj, pj)
		}
	}
	if !reflectHas(weir, "readings") {
		t.Errorf("the source readings is not among Weir's tables: %v", weir.Tables)
	}
	if !contains(weir.Views, "alerts") {
		t.Errorf("the sink alerts is not among Weir's views: %v", weir.Views)
	}
	if pg.Pandas != nil && strings.Join(weir.Pandas, ",") != strings.Join(pg.Pandas, ",") {
		t.Errorf("pandas.read_sql columns: weir %v, pg %v", weir.Pandas, pg.Pandas)
	}
}

func reflectHas(r sqlalchemyResult, table string) bool { _, ok := r.Tables[table]; return ok }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dumpTables reads the CREATE TABLE statements of a pg_dump script: each
// table's column lines, and its primary key.
func dumpTables(script string) map[string][]string {
	out := map[string][]string{}
	createRe := regexp.MustCompile(`(?s)CREATE TABLE public\.(\w+) \((.*?)\n\);`)
	for _, m := range createRe.FindAllStringSubmatch(script, -1) {
		for _, l := range strings.Split(m[2], "\n") {
			if l = strings.TrimSuffix(strings.TrimSpace(l), ","); l != "" {
				out[m[1]] = append(out[m[1]], l)
			}
		}
	}
	pkRe := regexp.MustCompile(`ALTER TABLE ONLY public\.(\w+)\s+ADD CONSTRAINT (\w+) PRIMARY KEY \(([^)]*)\);`)
	for _, m := range pkRe.FindAllStringSubmatch(script, -1) {
		out[m[1]] = append(out[m[1]], "PRIMARY KEY "+m[2]+" ("+m[3]+")")
	}
	return out
}

// TestBIPgDump dumps Weir's schema with pg_dump --schema-only, restores
// the script into a real PostgreSQL and compares the tables with those
// made there from the same DDL.
func TestBIPgDump(t *testing.T) {
	pgDump := needTool(t, "pg_dump", "apt-get install postgresql-client")
	psql := needTool(t, "psql", "apt-get install postgresql-client")
	s := newBISchema(t)
	ts, log := startBIServer(t, s)
	script, err := runClient(t, nil, pgDump, "--schema-only", "--no-password", "-d", ts.url("weir", ""))
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, script)
	}
	log.check(t, "pg_dump", s)
	weir := dumpTables(script)
	if _, ok := weir["readings"]; !ok {
		t.Errorf("the dump does not create the source readings:\n%s", script)
	}
	pgURL := startBIPostgres(t, s)
	pgScript, err := runClient(t, nil, pgDump, "--schema-only", "-d", pgURL)
	if err != nil {
		t.Fatalf("pg_dump of PostgreSQL: %v\n%s", err, pgScript)
	}
	pg := dumpTables(pgScript)
	for _, tb := range s.tables {
		if w, p := strings.Join(weir[tb.name], "\n"), strings.Join(pg[tb.name], "\n"); w != p {
			t.Errorf("table %s dumps differently:\nweir:\n%s\npg:\n%s", tb.name, w, p)
		}
	}
	// The script runs on PostgreSQL and makes the same tables.
	f := filepath.Join(t.TempDir(), "dump.sql")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	restoredURL := strings.Replace(pgURL, "/postgres?", "/restored?", 1)
	if out, err := runClient(t, nil, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", restoredURL, "-f", f); err != nil {
		t.Fatalf("restoring Weir's dump into PostgreSQL: %v\n%s", err, out)
	}
	restored, err := runClient(t, nil, pgDump, "--schema-only", "-d", restoredURL)
	if err != nil {
		t.Fatalf("pg_dump of the restored database: %v\n%s", err, restored)
	}
	back := dumpTables(restored)
	for _, tb := range s.tables {
		if w, p := strings.Join(back[tb.name], "\n"), strings.Join(pg[tb.name], "\n"); w != p {
			t.Errorf("table %s restored from Weir's dump differs:\nrestored:\n%s\npg:\n%s", tb.name, w, p)
		}
	}
}

// jdbcMetaSource calls DatabaseMetaData as DBeaver does when it connects
// and opens a table.
const jdbcMetaSource = `
import java.sql.*;
import java.util.*;

public class WeirMeta {
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + "/weir";
    Properties p = new Properties(); p.setProperty("user", "weir"); p.setProperty("password", "");
    try (Connection c = DriverManager.getConnection(url, p)) {
      DatabaseMetaData md = c.getMetaData();
      System.out.println("PRODUCT " + md.getDatabaseProductName());
      try (ResultSet rs = md.getCatalogs()) { while (rs.next()) System.out.println("CATALOG " + rs.getString(1)); }
      try (ResultSet rs = md.getSchemas()) { while (rs.next()) System.out.println("SCHEMA " + rs.getString(1)); }
      try (ResultSet rs = md.getTableTypes()) { while (rs.next()) System.out.println("TABLETYPE " + rs.getString(1)); }
      try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"TABLE", "VIEW"})) {
        while (rs.next()) System.out.println("TABLE " + rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
      }
      try (ResultSet rs = md.getColumns(null, "public", args[1], "%")) {
        while (rs.next()) System.out.println("COLUMN " + rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME") + " " + rs.getInt("ORDINAL_POSITION"));
      }
      try (ResultSet rs = md.getPrimaryKeys(null, "public", args[1])) {
        while (rs.next()) System.out.println("PK " + rs.getString("COLUMN_NAME") + " " + rs.getInt("KEY_SEQ"));
      }
      try (ResultSet rs = md.getIndexInfo(null, "public", args[1], false, true)) { while (rs.next()) System.out.println("INDEX " + rs.getString("INDEX_NAME")); }
      try (ResultSet rs = md.getImportedKeys(null, "public", args[1])) { while (rs.next()) System.out.println("FK " + rs.getString(3)); }
      try (ResultSet rs = md.getExportedKeys(null, "public", args[1])) { while (rs.next()) System.out.println("XFK " + rs.getString(3)); }
      int types = 0;
      try (ResultSet rs = md.getTypeInfo()) { while (rs.next()) types++; }
      System.out.println("TYPEINFO " + types);
      try (ResultSet rs = md.getFunctions(null, "public", "%")) { while (rs.next()) System.out.println("FUNC " + rs.getString(3)); }
      try (ResultSet rs = md.getTablePrivileges(null, "public", args[1])) { while (rs.next()) System.out.println("PRIV " + rs.getString("PRIVILEGE")); }
      try (ResultSet rs = md.getBestRowIdentifier(null, "public", args[1], DatabaseMetaData.bestRowSession, true)) { while (rs.next()) System.out.println("BEST " + rs.getString("COLUMN_NAME")); }
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM " + args[1])) {
        ResultSetMetaData rm = rs.getMetaData();
        for (int i = 1; i <= rm.getColumnCount(); i++) System.out.println("RSMD " + rm.getColumnName(i));
      }
    }
    System.out.println("OK");
  }
}
`

// TestBIPgJDBCMetaData runs DatabaseMetaData's calls through pgjdbc.
func TestBIPgJDBCMetaData(t *testing.T) {
	java := needTool(t, "java", "apt-get install default-jdk-headless libpostgresql-jdbc-java")
	jar := jdbcJar()
	if jar == "" {
		t.Skip("pgjdbc is not installed (apt-get install libpostgresql-jdbc-java)")
	}
	s := newBISchema(t)
	ts, log := startBIServer(t, s)
	src := filepath.Join(t.TempDir(), "WeirMeta.java")
	if err := os.WriteFile(src, []byte(jdbcMetaSource), 0o644); err != nil {
		t.Fatal(err)
	}
	tb := s.tables[0]
	out, err := runClient(t, nil, java, "-cp", jar, src, ts.addr, tb.name)
	if err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("pgjdbc: %v\n%s", err, out)
	}
	log.check(t, "pgjdbc", s)
	want := []string{"TABLE readings TABLE", "TABLE alerts VIEW"}
	for _, x := range s.tables {
		want = append(want, "TABLE "+x.name+" TABLE")
	}
	for i, c := range tb.cols {
		want = append(want, fmt.Sprintf("COLUMN %s ", c.name), fmt.Sprintf(" %d\n", i+1), "RSMD "+c.name)
	}
	for i, j := range tb.pk {
		want = append(want, fmt.Sprintf("PK %s %d", tb.cols[j].name, i+1))
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("pgjdbc output lacks %q:\n%s", w, out)
		}
	}
}

// ptySession drives an interactive program in a pseudo-terminal: what it
// prints is collected, and waitFor waits (with a deadline) for text to
// appear in it, escape sequences removed.
type ptySession struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	more chan struct{}
	done chan struct{}
}

var ansiRe = regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r`)

func startPty(t *testing.T, env []string, name string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptySession{t: t, f: f, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				p.mu.Lock()
				p.out.Write(buf[:n])
				p.mu.Unlock()
				select {
				case p.more <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		<-p.done
	})
	return p
}

// text is the output so far without escape sequences.
func (p *ptySession) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ansiRe.ReplaceAllString(p.out.String(), "")
}

// mark is the current length of the output, to wait for text after it.
func (p *ptySession) mark() int { return len(p.text()) }

// waitFor waits until want appears in the output after mark, or fails.
func (p *ptySession) waitFor(mark int, want string, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if s := p.text(); len(s) >= mark && strings.Contains(s[mark:], want) {
			return true
		}
		select {
		case <-p.more:
		case <-p.done:
			return strings.Contains(p.text()[mark:], want)
		case <-deadline.C:
			return false
		}
	}
}

func (p *ptySession) send(s string) {
	if _, err := p.f.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// TestBIPgcli connects pgcli in a pseudo-terminal, lists the tables with
// \dt and completes a table name and a column name.
func TestBIPgcli(t *testing.T) {
	pgcli := needTool(t, "pgcli", "apt-get install pgcli")
	s := newBISchema(t)
	ts, log := startBIServer(t, s)
	home := t.TempDir()
	p := startPty(t, []string{"HOME=" + home, "TERM=xterm", "PAGER=cat", "LESS=", "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")},
		pgcli, "--less-chatty", "--no-password", ts.url("weir", ""))
	if !p.waitFor(0, "weir>", 30*time.Second) {
		t.Fatalf("no pgcli prompt:\n%s", p.text())
	}
	m := p.mark()
	p.send("\\dt\r")
	for _, tb := range s.tables {
		if !p.waitFor(m, tb.name, 20*time.Second) {
			t.Fatalf("\\dt does not list %s:\n%s", tb.name, p.text()[m:])
		}
	}
	tb := s.tables[0]
	// Completion needs pgcli's metadata, loaded in the background after
	// connecting: retry until the table name completes.
	complete := func(prefix, want string) bool {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			m := p.mark()
			p.send(prefix + "\t")
			if p.waitFor(m, want, 2*time.Second) {
				p.send("\x15") // Ctrl-U: clear the line
				return true
			}
			p.send("\x1b\x15")
		}
		return false
	}
	if !complete("SELECT * FROM "+tb.name[:4], tb.name) {
		t.Fatalf("pgcli did not complete the table %s:\n%s", tb.name, p.text())
	}
	col := tb.cols[len(tb.cols)-1].name
	if !complete("SELECT * FROM "+tb.name+" WHERE "+col[:3], col) {
		t.Fatalf("pgcli did not complete the column %s:\n%s", col, p.text())
	}
	p.send("\x04") // Ctrl-D: quit
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("pgcli did not exit:\n%s", p.text())
	}
	log.check(t, "pgcli", s)
}
