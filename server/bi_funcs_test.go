package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weir-sql/weir/internal/pgtest"
)

// TestPgStatActivityCancel finds a running statement in pg_stat_activity
// from another session and cancels it with pg_cancel_backend.
func TestPgStatActivityCancel(t *testing.T) {
	ts, _ := startEngineServer(t, Config{})
	ctx := testCtx(t)
	busy := connectPgx(t, ts.url("alice", ""), pgx.QueryExecModeCacheDescribe)
	watcher := connectPgx(t, ts.url("bob", ""), pgx.QueryExecModeCacheDescribe)
	var busyPID int32
	if err := busy.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&busyPID); err != nil || busyPID != int32(busy.PgConn().PID()) {
		t.Fatalf("pg_backend_pid() %d, BackendKeyData %d: %v", busyPID, busy.PgConn().PID(), err)
	}
	const long = "SELECT count(*) FROM generate_series(1, 4000000000) g"
	done := make(chan error, 1)
	go func() {
		_, err := busy.Exec(ctx, long)
		done <- err
	}()
	// Wait (with a deadline) until the statement shows as active.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var state, query, user string
		err := watcher.QueryRow(ctx, "SELECT state, query, usename FROM pg_stat_activity WHERE pid = $1", busyPID).Scan(&state, &query, &user)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if state == "active" && query == long {
			if user != "alice" {
				t.Errorf("usename %q, want alice", user)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the statement never showed as active (state %q, query %q)", state, query)
		}
	}
	var own int
	if err := watcher.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND usename = 'bob'", int32(watcher.PgConn().PID())).Scan(&own); err != nil || own != 1 {
		t.Fatalf("the watcher's own row: %d, %v", own, err)
	}
	var ok bool
	if err := watcher.QueryRow(ctx, "SELECT pg_cancel_backend($1)", busyPID).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_cancel_backend: %v %v", ok, err)
	}
	select {
	case err := <-done:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Fatalf("canceled statement: %v, want 57014", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the statement was not canceled")
	}
	if err := watcher.QueryRow(ctx, "SELECT pg_cancel_backend(1)").Scan(&ok); err != nil || ok {
		t.Fatalf("pg_cancel_backend of no session: %v %v", ok, err)
	}
	var state string
	if err := watcher.QueryRow(ctx, "SELECT state FROM pg_stat_activity WHERE pid = $1", busyPID).Scan(&state); err != nil || state != "idle" {
		t.Fatalf("state after the cancel: %q %v", state, err)
	}
}

// TestBIFunctionsVsPostgres runs the functions BI tools call on random
// inputs against Weir and a real PostgreSQL 15 and compares the results
// (rows as text, or the SQLSTATE of the error).
func TestBIFunctionsVsPostgres(t *testing.T) {
	seed := *biSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("-seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	pg := pgtest.Start(t)
	ts, _ := startEngineServer(t, Config{})
	ctx := testCtx(t)
	w := connectPgx(t, ts.url("weir", ""), pgx.QueryExecModeSimpleProtocol)
	p := connectPgx(t, pg.URL, pgx.QueryExecModeSimpleProtocol)
	setup := []string{
		"CREATE TABLE items (id bigint, name text, qty integer, PRIMARY KEY (id))",
		"CREATE TABLE tags (tag text, weight double precision)",
	}
	for _, st := range setup {
		for _, c := range []*pgx.Conn{w, p} {
			if _, err := c.Exec(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	word := func() string {
		const letters = "abcxyzAB_ "
		n := 1 + rng.Intn(5)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(letters[rng.Intn(len(letters))])
		}
		return b.String()
	}
	for i := 0; i < 30; i++ {
		ins := fmt.Sprintf("INSERT INTO items VALUES (%d, '%s', %d)", i, word(), rng.Intn(7)-2)
		for _, c := range []*pgx.Conn{w, p} {
			if _, err := c.Exec(ctx, ins); err != nil {
				t.Fatal(err)
			}
		}
	}
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	sep := func() string { return []string{",", ", ", ";", "x", ""}[rng.Intn(5)] }
	joined := func() string {
		parts := make([]string, 1+rng.Intn(5))
		s := sep()
		if s == "" {
			s = ","
		}
		for i := range parts {
			parts[i] = word()
		}
		return strings.Join(parts, s)
	}
	ident := func() string {
		var parts []string
		for i := 0; i < 1+rng.Intn(3); i++ {
			switch rng.Intn(4) {
			case 0:
				parts = append(parts, `"`+strings.ReplaceAll(word(), `"`, `""`)+`"`)
			case 1:
				parts = append(parts, "Ab"+fmt.Sprint(rng.Intn(9)))
			default:
				parts = append(parts, strings.Trim(strings.ReplaceAll(word(), " ", "_"), "_")+"x")
			}
		}
		s := strings.Join(parts, ".")
		if rng.Intn(6) == 0 {
			s += ".." // invalid
		}
		return s
	}
	privs := []string{"SELECT", "insert", "UPDATE, DELETE", "select with grant option", "truncate", "references", "trigger", "bogus", "usage"}
	var queries []string
	for i := 0; i < 12; i++ {
		queries = append(queries,
			fmt.Sprintf("SELECT * FROM regexp_split_to_table(%s, %s) WITH ORDINALITY AS t(w, n)", lit(joined()), lit([]string{",", " +", "[;x]", "", "a|b"}[rng.Intn(5)])),
			fmt.Sprintf("SELECT * FROM string_to_table(%s, %s) WITH ORDINALITY", lit(joined()), lit(sep())),
			fmt.Sprintf("SELECT s, n FROM unnest(string_to_array(%s, %s)) WITH ORDINALITY AS u(s, n) ORDER BY n DESC", lit(joined()), lit(sep())),
			fmt.Sprintf("SELECT * FROM string_to_array(%s, %s) AS a", lit(joined()), lit(sep())),
			fmt.Sprintf("SELECT * FROM unnest(string_to_array(%s, ','), string_to_array(%s, ',')) WITH ORDINALITY AS t(a, b, n)", lit(joined()), lit(joined())),
			fmt.Sprintf("SELECT upper(regexp_split_to_table(%s, ',')), string_to_table(%s, ',')", lit(joined()), lit(joined())),
			fmt.Sprintf("SELECT parse_ident(%s)", lit(ident())),
			fmt.Sprintf("SELECT parse_ident(%s, false)", lit(ident()+[]string{"", "(", " x"}[rng.Intn(3)])),
			fmt.Sprintf("SELECT quote_ident(%s)", lit(word())),
			fmt.Sprintf("SELECT regexp_matches(%s, %s, 'g')", lit(joined()), lit([]string{"[a-c]+", "(x)(y)?", "A"}[rng.Intn(3)])),
			fmt.Sprintf("SELECT has_table_privilege(%s, %s)", lit([]string{"items", "public.tags", "nosuch"}[rng.Intn(3)]), lit(privs[rng.Intn(len(privs))])),
			fmt.Sprintf("SELECT has_column_privilege('items', %s, %s)", lit([]string{"id", "name", "nosuch"}[rng.Intn(3)]), lit(privs[rng.Intn(len(privs))])),
			fmt.Sprintf("SELECT has_any_column_privilege('tags', %s)", lit(privs[rng.Intn(len(privs))])),
			// (Nobody creates objects in pg_catalog in Weir; PostgreSQL's
			// superuser may: that pair is left out.)
			fmt.Sprintf("SELECT has_schema_privilege(%s, %s)", lit([]string{"public", "nosuch"}[rng.Intn(2)]), lit([]string{"USAGE", "create", "select"}[rng.Intn(3)])),
			fmt.Sprintf("SELECT has_schema_privilege('pg_catalog', %s)", lit([]string{"USAGE", "select"}[rng.Intn(2)])),
			fmt.Sprintf("SELECT has_database_privilege(current_database(), %s)", lit([]string{"CONNECT", "temp", "create", "select"}[rng.Intn(4)])),
			fmt.Sprintf("SELECT has_table_privilege(current_user, 'items', %s)", lit(privs[rng.Intn(len(privs))])),
			fmt.Sprintf("SELECT qty, array_agg(id ORDER BY name %s, id), string_agg(name, '|' ORDER BY id %s) FROM items WHERE id %% %d = 0 GROUP BY qty ORDER BY qty",
				[]string{"", "DESC"}[rng.Intn(2)], []string{"", "DESC"}[rng.Intn(2)], 1+rng.Intn(3)),
			fmt.Sprintf("SELECT x, n FROM generate_series(%d, %d) WITH ORDINALITY AS g(x, n)", rng.Intn(5), rng.Intn(9)),
			fmt.Sprintf("SELECT g.x, u.* FROM generate_series(1, %d) g(x), LATERAL unnest(string_to_array(%s, ',')) WITH ORDINALITY u ORDER BY 1, 3", rng.Intn(4), lit(joined())),
			fmt.Sprintf("SELECT i.id, w.* FROM items i CROSS JOIN LATERAL regexp_split_to_table(i.name, %s) WITH ORDINALITY w WHERE i.id < %d ORDER BY 1, 3", lit([]string{"", " ", "[ab]"}[rng.Intn(3)]), rng.Intn(8)),
			fmt.Sprintf("SELECT i.id, s FROM items i JOIN LATERAL generate_series(1, i.qty) s ON s > %d ORDER BY 1, 2", rng.Intn(3)),
			fmt.Sprintf("SELECT pg_size_pretty(%d::bigint)", rng.Int63n(1<<45)),
			fmt.Sprintf("SELECT * FROM json_each(%s) WITH ORDINALITY", lit(randJSON(rng, 2))),
			fmt.Sprintf("SELECT * FROM json_each_text(%s)", lit(randJSON(rng, 2))),
			fmt.Sprintf("SELECT json_array_elements(%s)", lit(randJSON(rng, 2))),
			fmt.Sprintf("SELECT * FROM json_array_elements_text(%s) AS e(v)", lit(randJSON(rng, 2))),
			fmt.Sprintf("SELECT * FROM json_object_keys(%s)", lit(randJSON(rng, 2))),
			fmt.Sprintf("SELECT set_config('application_name', %s, false), current_setting('application_name')", lit(word())),
		)
	}
	// Grafana's PostgreSQL data source lists tables and columns with these
	// (the weir_* system tables left out: PostgreSQL has none).
	searchPath := `SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), array_upper(string_to_array(current_setting('search_path'),','),1)) as i, string_to_array(current_setting('search_path'),',') s`
	queries = append(queries,
		"SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema IN ("+searchPath+") AND table_name NOT LIKE 'weir%' ORDER BY table_name",
		"SELECT quote_ident(column_name) AS \"column\", data_type AS \"type\" FROM information_schema.columns WHERE CASE WHEN array_length(parse_ident('items'),1) = 2 THEN quote_ident(table_schema) = (parse_ident('items'))[1] AND quote_ident(table_name) = (parse_ident('items'))[2] ELSE quote_ident(table_name) = 'items' AND table_schema IN ("+searchPath+") END ORDER BY 1",
		"SELECT n.nspname, c.relname, has_table_privilege(c.oid, 'SELECT'), has_any_column_privilege(c.oid, 'SELECT, INSERT') FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','v','m','f','p') AND n.nspname NOT IN ('information_schema', 'pg_catalog') AND c.relname NOT LIKE 'weir%' ORDER BY 1, 2",
		"SELECT schemaname, relname, seq_tup_read >= 0, n_tup_upd FROM pg_stat_user_tables ORDER BY relname",
		"SELECT schemaname, relname, idx_blks_hit IS NULL FROM pg_statio_user_tables ORDER BY relname",
		"SELECT count(*) FROM pg_locks WHERE granted AND NOT granted",
	)
	run := func(c *pgx.Conn, q string) string {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return "error " + errCode(err)
		}
		var out []string
		for rows.Next() {
			vals := rows.RawValues()
			cells := make([]string, len(vals))
			for i, v := range vals {
				if v == nil {
					cells[i] = "NULL"
				} else {
					cells[i] = string(v)
				}
			}
			out = append(out, strings.Join(cells, "|"))
		}
		if err := rows.Err(); err != nil {
			return "error " + errCode(err)
		}
		return strings.Join(out, "\n")
	}
	errs := 0
	for _, q := range queries {
		got, want := run(w, q), run(p, q)
		if got != want {
			t.Errorf("%s\nweir:\n%s\npostgres:\n%s", q, got, want)
		}
		if strings.HasPrefix(want, "error ") {
			errs++
		}
	}
	// The inputs are mostly valid: an oracle that only errors checks nothing.
	if errs > len(queries)/3 {
		t.Errorf("%d of %d queries failed on PostgreSQL", errs, len(queries))
	}
}

func errCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

// randJSON is a random JSON value, with random spacing (json keeps it).
func randJSON(rng *rand.Rand, depth int) string {
	sp := func() string { return []string{"", " ", "  "}[rng.Intn(3)] }
	n := rng.Intn(4)
	switch k := rng.Intn(7); {
	case depth > 0 && k < 3:
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, fmt.Sprintf("%q%s:%s%s", string(rune('a'+rng.Intn(4)))+"k", sp(), sp(), randJSON(rng, depth-1)))
		}
		return "{" + sp() + strings.Join(parts, ","+sp()) + "}"
	case depth > 0 && k < 6:
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, randJSON(rng, depth-1))
		}
		return "[" + strings.Join(parts, ","+sp()) + sp() + "]"
	}
	return []string{"1", "-2.5", `"s"`, `"x y"`, "null", "true", `"\\u00e9"`}[rng.Intn(7)]
}
