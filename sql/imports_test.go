package sql

import (
	goparser "go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the package's dependency rule (see doc.go).
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := goparser.ParseFile(gotoken.NewFileSet(), f, src, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(path, ".") {
				continue // standard library
			}
			switch {
			case path == "github.com/weir-sql/weir/datum", path == "github.com/weir-sql/weir/pgerr",
				strings.HasPrefix(path, "github.com/pingcap/tidb/pkg/parser"):
			default:
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
