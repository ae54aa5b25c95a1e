package repl

import (
	"context"
	"strings"
	"testing"
)

func TestCompleter(t *testing.T) {
	f := newFakeSession()
	for _, q := range []string{
		"CREATE TABLE readings (device VARCHAR, temp DOUBLE)",
		"CREATE TABLE results (device VARCHAR, n BIGINT)",
		"CREATE SOURCE clicks (user_id BIGINT, ts TIMESTAMP)",
		"CREATE SINK sunk (user_id BIGINT)",
		"CREATE JOB rollup AS INSERT INTO sunk SELECT user_id FROM clicks",
	} {
		if _, err := f.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	sh := &shell{sess: f, now: fakeClock()}
	sh.objects = &objectCache{sh: sh}
	c := &completer{sh: sh}
	cases := []struct{ line, want string }{
		{"SELECT * FROM re", "readings results"},
		{"SELECT * FROM ", "clicks readings results weir_dead_letters weir_jobs weir_key_ranges weir_operators weir_snapshots"},
		{"sel", "select"},
		{"SEL", "SELECT"},
		{"SELECT dev", "device"},
		{"SELECT user", "user_id"},
		{"DRAIN JOB ", "rollup"},
		{"INSERT INTO s", "sunk"},
		{"SELECT * FROM TUMBLE(", "clicks"},
		{"CREATE TABLE re", ""},
		{`\d r`, "readings results rollup"},
		{`\ti`, "timing"},
		{"SELECT 'rea", ""},
		{"SELECT ", ""},
	}
	for _, tc := range cases {
		got, n := c.Do([]rune(tc.line), len([]rune(tc.line)))
		var words []string
		for _, g := range got {
			words = append(words, tc.line[len(tc.line)-n:]+strings.TrimSuffix(string(g), " "))
		}
		if strings.Join(words, " ") != tc.want {
			t.Errorf("%q: got %q, want %q", tc.line, words, tc.want)
		}
	}
	// The cache is refreshed after DDL.
	if _, err := f.Exec(context.Background(), "CREATE TABLE rebuilt (a INT)"); err != nil {
		t.Fatal(err)
	}
	sh.objects.noteTag("CREATE TABLE")
	got, _ := c.Do([]rune("SELECT * FROM reb"), len("SELECT * FROM reb"))
	if len(got) != 1 || string(got[0]) != "uilt " {
		t.Errorf("after DDL: %q", got)
	}
}
