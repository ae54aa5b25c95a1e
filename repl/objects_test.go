package repl

import (
	"strings"
	"testing"
)

func TestParseDefinition(t *testing.T) {
	d := parseDefinition(`CREATE SOURCE "Clicks" (
  user_id BIGINT NOT NULL,
  "URL"   VARCHAR(200),
  ts      TIMESTAMP NOT NULL,
  price   NUMERIC(10, 2) DEFAULT 0,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'datagen', rows_per_second = '10')`)
	var cols []string
	for _, c := range d.columns {
		s := c.name + " " + c.typ
		if c.notNull {
			s += " not null"
		}
		cols = append(cols, s)
	}
	want := "user_id BIGINT not null|URL VARCHAR(200)|ts TIMESTAMP not null|price NUMERIC(10, 2)"
	if got := strings.Join(cols, "|"); got != want {
		t.Errorf("columns %q, want %q", got, want)
	}
	if d.watermark != "FOR ts AS ts - INTERVAL '5' SECOND" {
		t.Errorf("watermark %q", d.watermark)
	}
	if d.connector != "datagen" || len(d.options) != 2 || d.options[1] != "rows_per_second = '10'" {
		t.Errorf("options %q connector %q", d.options, d.connector)
	}
	d = parseDefinition("CREATE TABLE t (a INT PRIMARY KEY, b TEXT)")
	if strings.Join(d.primaryKey, ",") != "a" || !d.columns[0].notNull {
		t.Errorf("column primary key: %+v", d)
	}
	d = parseDefinition("CREATE TABLE t (w TIMESTAMP, k VARCHAR, n BIGINT, PRIMARY KEY (w, k))")
	if strings.Join(d.primaryKey, ",") != "w,k" || !d.columns[1].notNull || d.columns[2].notNull {
		t.Errorf("table primary key: %+v", d)
	}
}
