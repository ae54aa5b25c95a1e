package console

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestImports enforces the layering in doc.go: the console is a SQL client
// of the engine; of Weir's packages it imports engine, sql, datum, pgerr
// and connector (the clock) only.
func TestImports(t *testing.T) {
	allowed := map[string]bool{"engine": true, "sql": true, "datum": true, "pgerr": true, "connector": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/weir-sql/weir/"
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if rest, ok := strings.CutPrefix(path, mod); ok && !allowed[rest] {
				t.Errorf("%s imports %s; the console may import only %v", f, path, allowed)
			}
		}
	}
}
