package state

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the dependency rule in doc.go: state is a leaf of the
// engine. Besides the standard library it may import only these.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/cockroachdb/pebble/v2",
		"github.com/google/btree",
		"github.com/cespare/xxhash/v2",
		"github.com/weir-sql/weir/pgerr",
		"github.com/weir-sql/weir/datum",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				if path == a || strings.HasPrefix(path, a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s; state may import only the standard library and %v", f, path, allowed)
			}
		}
	}
}
