package planner

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestImports enforces the layering in doc.go: of Weir's packages the
// planner imports sql, catalog, expr, datum, pgerr and plan only.
func TestImports(t *testing.T) {
	checkImports(t, ".", []string{"sql", "catalog", "expr", "datum", "pgerr", "plan"})
}

func checkImports(t *testing.T, dir string, allowed []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
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
			if !strings.HasPrefix(path, mod) {
				continue
			}
			ok := false
			for _, a := range allowed {
				if strings.TrimPrefix(path, mod) == a {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s; allowed: %v", f, path, allowed)
			}
		}
	}
}
