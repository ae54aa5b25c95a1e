package sql

import (
	"encoding/json"
	"os"
	"testing"
)

// TestPGClients parses every statement that real PostgreSQL clients send
// (shared/pg-clients/queries.json, beside the repository).
func TestPGClients(t *testing.T) {
	data, err := os.ReadFile("../../shared/pg-clients/queries.json")
	if err != nil {
		t.Skipf("pg-clients corpus not found: %v", err)
	}
	var queries []struct{ Client, SQL string }
	if err := json.Unmarshal(data, &queries); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		stmts, errs := ParseScript(q.SQL, ParseOptions{})
		if len(errs) > 0 {
			t.Errorf("query %d (%s): %s at %d:%d\n%s", i, q.Client, errs[0].Message, errs[0].Line, errs[0].Col, q.SQL)
			continue
		}
		for _, s := range stmts {
			checkRoundTrip(t, q.Client, s)
		}
	}
}
