package server

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// Tests with real clients. Each starts a server on 127.0.0.1:0 and runs the
// client against it; a client that is not installed is skipped with a
// message saying what to install (the CI script installs them all):
//
//	apt-get install -y postgresql-client python3-psycopg2 libpostgresql-jdbc-java default-jdk-headless nodejs npm
//	npm install -g pg

// needTool skips the test unless the program is installed.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (%s)", name, install)
	}
	return p
}

// runClient runs a client program with a timeout and returns its output.
func runClient(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestLibPQ(t *testing.T) {
	ts, _ := startEngineServer(t, Config{Password: "pw"})
	db, err := sql.Open("postgres", ts.url("libpq", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := testCtx(t)
	if _, err := db.ExecContext(ctx, "CREATE TABLE events (id int8, name text, ts timestamp, amount float8)"); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b", "a"} {
		res, err := db.ExecContext(ctx, "INSERT INTO events (id, name, ts, amount) VALUES ($1, $2, $3, $4)",
			i+1, name, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 0.5+float64(i))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("rows affected %d", n)
		}
	}
	rows, err := db.QueryContext(ctx, "select id, name from events where name = $1", "a")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 3 {
		t.Fatalf("ids %v", ids)
	}
	var (
		n  int64
		s  string
		tm time.Time
	)
	if err := db.QueryRowContext(ctx, "select $1::bigint, $2::text, ts from events where id = $3", 7, "x", 2).Scan(&n, &s, &tm); err != nil {
		t.Fatal(err)
	}
	if n != 7 || s != "x" || !tm.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("got %d %q %v", n, s, tm)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO events (id) VALUES ($1)", 10); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Wrong password.
	bad, _ := sql.Open("postgres", ts.url("libpq", "nope"))
	defer bad.Close()
	if err := bad.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "28P01") && !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestPsql(t *testing.T) {
	psql := needTool(t, "psql", "apt-get install postgresql-client")
	ts, _ := startEngineServer(t, Config{})
	dir := t.TempDir()
	data := filepath.Join(dir, "in.tsv")
	if err := os.WriteFile(data, []byte("1\tone\n2\t\\N\n3\tthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(csv, []byte("id,name\n4,\"fo,ur\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{
		"CREATE TABLE t (id int8, name text);",
		`\copy t from '` + data + `'`,
		`\copy t from '` + csv + `' with (format csv, header)`,
		"SELECT * FROM t;",
		"SELECT 1; SELECT 'two' AS b;",
		"BEGIN;",
		"SELECT 3;",
		"COMMIT;",
		`\copy t to '` + filepath.Join(dir, "out.tsv") + `'`,
	}, "\n")
	sf := filepath.Join(dir, "script.sql")
	os.WriteFile(sf, []byte(script), 0o644)
	out, err := runClient(t, nil, psql, "-X", "-v", "ON_ERROR_STOP=1", "-A", "-F", "|", "-d", ts.url("psql", ""), "-f", sf)
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	for _, want := range []string{"COPY 3", "COPY 1", "1|one", "2|", "4|fo,ur", "two", "BEGIN", "COMMIT", "COPY 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q:\n%s", want, out)
		}
	}
	copied, _ := os.ReadFile(filepath.Join(dir, "out.tsv"))
	if string(copied) != "1\tone\n2\t\\N\n3\tthree\n4\tfo,ur\n" {
		t.Errorf("\\copy to: %q", copied)
	}
	// Errors come back with their SQLSTATE and position.
	out, err = runClient(t, nil, psql, "-X", "-v", "VERBOSITY=verbose", "-d", ts.url("psql", ""), "-c", "SELECT * FROM nosuch")
	if err == nil || !strings.Contains(out, "42P01") || !strings.Contains(out, "LINE 1: SELECT * FROM nosuch") {
		t.Errorf("psql error: %v\n%s", err, out)
	}
	// Password authentication (psql sends an empty SCRAM user name).
	ts2, _ := startEngineServer(t, Config{Password: "secret"})
	out, err = runClient(t, []string{"PGPASSWORD=secret"}, psql, "-X", "-A", "-t", "-d", ts2.url("bob", ""), "-c", "SHOW session_authorization")
	if err != nil || strings.TrimSpace(out) != "bob" {
		t.Errorf("psql with password: %v\n%s", err, out)
	}
	// current_user and session_user are the session's login user.
	out, err = runClient(t, []string{"PGPASSWORD=secret"}, psql, "-X", "-A", "-t", "-d", ts2.url("bob", ""), "-c", "SELECT current_user, session_user, user")
	if err != nil || strings.TrimSpace(out) != "bob|bob|bob" {
		t.Errorf("current_user: %v\n%s", err, out)
	}
	out, err = runClient(t, []string{"PGPASSWORD=wrong"}, psql, "-X", "-d", ts2.url("bob", ""), "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, "password authentication failed") {
		t.Errorf("psql with a wrong password: %v\n%s", err, out)
	}
}

const psycopg2Script = `
import os, sys, io, datetime
import psycopg2
dsn = os.environ["DSN"]
try:
    psycopg2.connect(dsn.replace(":pw@", ":bad@"))
    print("FAIL: connected with a wrong password"); sys.exit(1)
except psycopg2.OperationalError as e:
    assert "password authentication failed" in str(e), e
conn = psycopg2.connect(dsn)
cur = conn.cursor()
cur.execute("CREATE TABLE events (id int8, name text, ts timestamp)")
cur.execute("insert into events(id,name) values (%s, %s)", (5, "o'k"))
cur.execute("insert into events(id,name,ts) values (%s, %s, %s)", (6, "a", datetime.datetime(2026, 11, 22, 10, 2)))
conn.commit()
cur.execute("select id, name from events where name = %s", ("o'k",))
assert cur.fetchall() == [(5, "o'k")], "select"
cur.execute("select id, name, ts from events where id = %s", (6,))
row = cur.fetchone()
assert row == (6, "a", datetime.datetime(2026, 11, 22, 10, 2)), row
cur.execute("select %s::int8, %s::text, %s::float8, %s::bool", (7, "x", 1.5, True))
assert cur.fetchone() == (7, "x", 1.5, True)
cur.copy_expert("COPY events (id, name) FROM STDIN", io.StringIO("8\teight\n9\t\\N\n"))
conn.commit()
cur.execute("select name from events where id = %s", (8,))
assert cur.fetchone() == ("eight",)
try:
    cur.execute("select * from nosuch")
    print("FAIL: no error"); sys.exit(1)
except psycopg2.Error as e:
    assert e.pgcode == "42P01", e.pgcode
conn.rollback()
cur.execute("select 1")
print("OK")
`

func TestPsycopg2(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("/usr/bin/python3 is not installed (apt-get install python3-psycopg2)")
	}
	if out, err := runClient(t, nil, py, "-c", "import psycopg2"); err != nil {
		t.Skipf("psycopg2 is not installed (apt-get install python3-psycopg2): %s", out)
	}
	ts, _ := startEngineServer(t, Config{Password: "pw"})
	out, err := runClient(t, []string{"DSN=" + ts.url("py", "pw")}, py, "-c", psycopg2Script)
	if err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("psycopg2: %v\n%s", err, out)
	}
}

const nodePgScript = `
const { Client } = require('pg');
(async () => {
  const bad = new Client({ connectionString: process.env.DSN.replace(':pw@', ':bad@') });
  try { await bad.connect(); console.log('FAIL: connected'); process.exit(1); }
  catch (e) { if (e.code !== '28P01') { console.log('FAIL: ' + e.code + ' ' + e.message); process.exit(1); } }
  const c = new Client({ connectionString: process.env.DSN });
  await c.connect();
  await c.query('CREATE TABLE events (id int8, name text, ts timestamptz)');
  for (const [id, name] of [[1, 'a'], [2, 'b'], [3, 'a']]) {
    await c.query('insert into events(id, name, ts) values ($1, $2, $3)', [id, name, new Date(Date.UTC(2026, 0, id))]);
  }
  let r = await c.query('select id, name, ts from events where name = $1', ['a']);
  if (r.rows.length !== 2 || r.rows[1].id !== '3' || r.rows[1].ts.getTime() !== Date.UTC(2026, 0, 3)) {
    console.log('FAIL: ' + JSON.stringify(r.rows)); process.exit(1);
  }
  r = await c.query('select $1::int as x', [41]);
  if (r.rows[0].x !== 41 || r.fields[0].dataTypeID !== 23) { console.log('FAIL: ' + JSON.stringify(r)); process.exit(1); }
  try { await c.query('select * from nosuch'); console.log('FAIL: no error'); process.exit(1); }
  catch (e) { if (e.code !== '42P01') { console.log('FAIL: ' + e.code); process.exit(1); } }
  r = await c.query('select 2 as y');
  if (r.rows[0].y !== 2) { console.log('FAIL'); process.exit(1); }
  await c.end();
  console.log('OK');
})().catch(e => { console.log('FAIL: ' + e.stack); process.exit(1); });
`

func TestNodePostgres(t *testing.T) {
	node := needTool(t, "node", "apt-get install nodejs npm && npm install -g pg")
	env := []string{}
	if npm, err := exec.LookPath("npm"); err == nil {
		if root, err := exec.Command(npm, "root", "-g").Output(); err == nil {
			env = append(env, "NODE_PATH="+strings.TrimSpace(string(root)))
		}
	}
	if out, err := runClient(t, env, node, "-e", "require('pg')"); err != nil {
		t.Skipf("node-postgres is not installed (npm install -g pg): %s", out)
	}
	ts, _ := startEngineServer(t, Config{Password: "pw"})
	out, err := runClient(t, append(env, "DSN="+ts.url("node", "pw")), node, "-e", nodePgScript)
	if err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("node-postgres: %v\n%s", err, out)
	}
}

const jdbcSource = `
import java.sql.*;
import java.util.Properties;

public class WeirJdbc {
  static void check(boolean ok, String what) { if (!ok) { System.out.println("FAIL: " + what); System.exit(1); } }
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + "/weir";
    Properties bad = new Properties(); bad.setProperty("user", "j"); bad.setProperty("password", "bad");
    try { DriverManager.getConnection(url, bad); check(false, "wrong password accepted"); }
    catch (SQLException e) { check("28P01".equals(e.getSQLState()), "state " + e.getSQLState()); }
    Properties p = new Properties(); p.setProperty("user", "j"); p.setProperty("password", "pw");
    try (Connection c = DriverManager.getConnection(url, p)) {
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE events (id int8, name text, amount float8)");
      }
      try (PreparedStatement ps = c.prepareStatement("insert into events(id, name, amount) values (?, ?, ?)")) {
        for (int i = 1; i <= 6; i++) {
          ps.setLong(1, i); ps.setString(2, i % 2 == 0 ? "even" : "odd"); ps.setDouble(3, i * 0.5);
          check(ps.executeUpdate() == 1, "insert");
        }
      }
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("select id, name, amount from events where name = ?")) {
        for (int round = 0; round < 7; round++) {   // past prepareThreshold: server-side prepared
          ps.setString(1, "even");
          int n = 0;
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) { n++; check(rs.getLong(1) % 2 == 0 && rs.getDouble(3) == rs.getLong(1) * 0.5, "row"); }
          }
          check(n == 3, "rows " + n);
        }
      }
      c.commit();
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        try { s.executeQuery("select * from nosuch"); check(false, "no error"); }
        catch (SQLException e) { check("42P01".equals(e.getSQLState()), "state " + e.getSQLState()); }
        try (ResultSet rs = s.executeQuery("select 1")) { check(rs.next() && rs.getInt(1) == 1, "select 1"); }
      }
    }
    System.out.println("OK");
  }
}
`

// jdbcJar finds the PostgreSQL JDBC driver (Debian's libpostgresql-jdbc-java).
func jdbcJar() string {
	for _, p := range []string{os.Getenv("WEIR_PGJDBC_JAR"), "/usr/share/java/postgresql.jar"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

func TestPgJDBC(t *testing.T) {
	java := needTool(t, "java", "apt-get install default-jdk-headless libpostgresql-jdbc-java")
	jar := jdbcJar()
	if jar == "" {
		t.Skip("pgjdbc is not installed (apt-get install libpostgresql-jdbc-java)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "WeirJdbc.java")
	os.WriteFile(src, []byte(jdbcSource), 0o644)
	ts, _ := startEngineServer(t, Config{Password: "pw"})
	out, err := runClient(t, nil, java, "-cp", jar, src, ts.addr)
	if err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("pgjdbc: %v\n%s", err, out)
	}
}

// TestPsqlMeta runs psql's describe commands against the engine's
// pg_catalog.
func TestPsqlMeta(t *testing.T) {
	psql := needTool(t, "psql", "apt-get install postgresql-client")
	ts, _ := startEngineServer(t, Config{})
	setup := "CREATE TABLE events (id BIGINT, name VARCHAR, ts TIMESTAMP, PRIMARY KEY (id));" +
		"CREATE SOURCE readings (device VARCHAR, temp DOUBLE, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)"
	if out, err := runClient(t, nil, psql, "-X", "-d", ts.url("psql", ""), "-c", setup); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct {
		cmd  string
		want []string
	}{
		{`\d`, []string{"events", "readings", "table"}},
		{`\dt`, []string{"events", "readings"}},
		{`\dn`, []string{"public"}},
		{`\l`, []string{"weir", "UTF8"}},
		{`\di`, []string{"events_pkey"}},
		{`\dv`, nil},
		{`\d events`, []string{`Table "public.events"`, "id     | bigint", "not null", `"events_pkey" PRIMARY KEY, btree (id)`}},
		{`\d readings`, []string{`Table "public.readings"`, "temp   | double precision"}},
		{`\d+ events`, []string{"plain", "Access method"}},
		{`\dt+`, []string{"Weir table"}},
		{`\d pg_catalog.pg_class`, []string{"relname"}},
	} {
		out, err := runClient(t, nil, psql, "-X", "-d", ts.url("psql", ""), "-c", c.cmd)
		if err != nil {
			t.Errorf("%s: %v\n%s", c.cmd, err, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.cmd, w, out)
			}
		}
	}
}
