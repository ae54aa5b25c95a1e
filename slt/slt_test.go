package slt

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpus runs the project's end-to-end sqllogictest files
// (testdata/slt/*.slt), each on a fresh engine.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("../testdata/slt/*.slt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .slt files found: %v", err)
	}
	for _, f := range files {
		f := f
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out strings.Builder
			sum, err := RunFile(f, Options{Out: &out})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed > 0 || sum.Passed == 0 {
				t.Fatalf("%d passed, %d failed\n%s", sum.Passed, sum.Failed, out.String())
			}
		})
	}
}
