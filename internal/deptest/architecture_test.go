package deptest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// graphStart and graphEnd enclose the package graph in ARCHITECTURE.md.
const (
	graphStart = "<!-- package graph: checked by internal/deptest -->"
	graphEnd   = "<!-- end of package graph -->"
)

var backquoted = regexp.MustCompile("`([^`]+)`")

// readGraph returns the rows of ARCHITECTURE.md's package graph: each
// package with the packages of ours it imports.
func readGraph(t *testing.T) map[string][]string {
	t.Helper()
	path := filepath.Join("..", "..", "ARCHITECTURE.md")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open the project's map: %v", err)
	}
	defer f.Close()
	rows := map[string][]string{}
	in, ended := false, false
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == graphStart:
			in = true
		case text == graphEnd:
			in, ended = false, true
		case in && strings.HasPrefix(text, "| `"):
			cells := strings.Split(text, "|")
			if len(cells) < 3 {
				t.Fatalf("%s:%d: want | package | imports |, got %q", path, line, text)
			}
			m := backquoted.FindStringSubmatch(cells[1])
			if m == nil {
				t.Fatalf("%s:%d: no package in %q", path, line, cells[1])
			}
			var imps []string
			for _, im := range backquoted.FindAllStringSubmatch(cells[2], -1) {
				imps = append(imps, im[1])
			}
			if _, dup := rows[m[1]]; dup {
				t.Errorf("%s:%d: package %s listed twice", path, line, m[1])
			}
			rows[m[1]] = imps
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !ended || len(rows) == 0 {
		t.Fatalf("%s has no package graph between %q and %q", path, graphStart, graphEnd)
	}
	return rows
}

// TestArchitectureGraphIsTrue checks the package graph in ARCHITECTURE.md
// against go list: every package has its row, and each row names exactly
// the packages of ours it imports.
func TestArchitectureGraphIsTrue(t *testing.T) {
	doc := readGraph(t)
	listed := map[string]bool{}
	for _, p := range list(t) {
		rel, _ := ours(p.ImportPath)
		listed[rel] = true
		var imps []string
		for _, imp := range p.Imports {
			if dep, ok := ours(imp); ok {
				imps = append(imps, dep)
			}
		}
		slices.Sort(imps)
		want, ok := doc[rel]
		if !ok {
			t.Errorf("ARCHITECTURE.md's package graph has no row for %s; add | `%s` | %s |", rel, rel, cell(imps))
			continue
		}
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(want, imps) {
			t.Errorf("ARCHITECTURE.md says %s imports %s; go list says %s", rel, cell(want), cell(imps))
		}
	}
	for rel := range doc {
		if !listed[rel] {
			t.Errorf("ARCHITECTURE.md's package graph lists %s, which go list does not know", rel)
		}
	}
}

// cell formats imports as a row of the table does.
func cell(imps []string) string {
	if len(imps) == 0 {
		return "—"
	}
	return "`" + strings.Join(imps, "`, `") + "`"
}
