package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// module is swarm's module path (go.mod).
const module = "swarm"

// allowed is the package map of ARCHITECTURE.md ("Packages"): each package
// may import the packages in its row and, transitively, whatever those may
// import. Arrows point down only. Paths are relative to the module; "x/..."
// means x and every package below it, and the longest matching row
// applies. Standard library and third-party imports are not checked here
// (metainfo's one, "bencode only", is github.com/anacrolix/torrent/bencode).
//
// A new package needs a row. Before adding an arrow to a row, check that
// it points down: if a package needs something from one above it, move the
// thing down or pass an interface in.
var allowed = map[string][]string{
	// Leaves: nothing of ours.
	"metainfo":           {"internal/atomicfile"},
	"peer":               nil,
	"choke":              nil,
	"dht":                {"internal/atomicfile"},
	"utp":                nil,
	"lpd":                nil,
	"mse":                nil,
	"internal/chart":     nil,
	"internal/randfile":  nil,
	"internal/humanize":  nil,
	"internal/deptest":   nil,
	"internal/memnet":    nil, // test support: see testOnly
	"internal/redistest": nil, // test support: see testOnly
	"internal/pgtest":    nil, // test support: see testOnly

	// Replacing a file whole (temp file, fsync, rename): standard library
	// only, so the leaves that write files (metainfo, dht) may use it and
	// stay leaves.
	"internal/atomicfile": nil,
	// The daemon's web page: it speaks the Transmission RPC over HTTP from
	// the browser, so it needs nothing of ours.
	"web": nil,

	"piece":               {"metainfo"},
	"storage":             {"metainfo", "piece"},
	"storage/storagetest": {"storage"}, // test support: see testOnly
	"tracker":             {"metainfo"},
	"tracker/server":      {"tracker", "metainfo"},
	"tracker/private":     {"tracker/server", "tracker", "metainfo", "internal/humanize"},
	// The private tracker's admin API: HTTP over tracker/private; peer
	// for the client names of peer ids.
	"tracker/adminapi": {"tracker/private", "tracker/server", "metainfo", "peer"},

	// metadata assembles a magnet's info dict from ut_metadata pieces; the
	// torrent loop in session owns the connections.
	"metadata": {"peer"},

	// The engine and composition root.
	"session": {"metainfo", "piece", "storage", "peer", "mse", "choke", "dht", "utp", "lpd",
		"tracker", "tracker/server", "tracker/private", "metadata"},

	"lab":        {"session", "dht", "internal/randfile", "internal/chart", "internal/humanize"},
	"lab/dhtlab": {"dht", "internal/chart"},

	// A long-running service over the engine: the torrent list, queue and
	// persistence (daemon); the Transmission RPC over it (daemon/rpc).
	"daemon":     {"session"},
	"daemon/rpc": {"daemon", "internal/humanize"},

	// The binary: flags, output and one call into the engine per command.
	"cmd/...": {"session", "daemon/rpc", "web", "lab", "lab/dhtlab", "tracker/private", "tracker/adminapi", "internal/humanize", "internal/progress"},

	// A torrent's progress for a terminal, a log or JSON lines: front-end
	// code that draws session.Stats, shared by the commands that follow a
	// torrent.
	"internal/progress": {"session", "internal/humanize"},

	// Benchmarks drive swarm's binary as a process; they may use the
	// tracker packages and their own helpers, never session.
	// mse: bench/transfer --encrypt checks a seeder is ready with an MSE handshake.
	"bench/...":          {"bench/internal/...", "tracker/private", "internal/randfile", "mse"},
	"bench/internal/...": {"bench/internal/...", "metainfo", "internal/randfile", "mse"},

	// Tests against real clients; no production code.
	"interop": nil,
}

// testOnly are packages for tests: they may import testing, and only test
// files may import them.
var testOnly = []string{"storage/storagetest", "internal/memnet", "internal/redistest", "internal/pgtest"}

// pkg is the part of `go list -json` this test reads.
type pkg struct {
	ImportPath   string
	Imports      []string // direct imports of the non-test files
	Deps         []string // every package the non-test files need, transitively
	TestImports  []string
	XTestImports []string
}

// list returns `go list -json` of every package of the module, run once
// for all the tests.
func list(t *testing.T) []pkg {
	t.Helper()
	pkgs, err := goList()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

var goList = sync.OnceValues(func() ([]pkg, error) {
	if err := touchSources(filepath.Join("..", "..")); err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s/...: %v\n%s", module, err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("go list %s/... listed no packages", module)
	}
	return pkgs, nil
})

// touchSources stats every Go file and go.mod below root. The go command
// caches a passing test until a file the test opened or stat'ed changes;
// files only go list read would not count, and a new upward import could
// then pass from the cache.
func touchSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
}

// ours returns path relative to the module, or false for a package of
// the standard library or another module.
func ours(path string) (string, bool) {
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel, true
	}
	return "", false
}

// matches reports whether rel is pattern's package or, for "x/...", x or
// a package below it.
func matches(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

// row returns the key of the table row for rel: its own, or the longest
// "x/..." that matches.
func row(rel string) (string, bool) {
	best, found := "", false
	for key := range allowed {
		if matches(key, rel) && (!found || len(key) > len(best)) {
			best, found = key, true
		}
	}
	return best, found
}

// mayImport returns the patterns rel may import: its row, and the rows
// of those, transitively.
func mayImport(rel string) []string {
	key, ok := row(rel)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	queue := slices.Clone(allowed[key])
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		// A pattern brings in the rows of every key it matches.
		for k, next := range allowed {
			if matches(p, strings.TrimSuffix(k, "/...")) {
				queue = append(queue, next...)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func allows(rel, dep string) bool {
	return slices.ContainsFunc(mayImport(rel), func(p string) bool { return matches(p, dep) })
}

func isTestOnly(rel string) bool {
	return slices.ContainsFunc(testOnly, func(p string) bool { return matches(p, rel) })
}

func describe(rel string) string {
	if m := mayImport(rel); len(m) > 0 {
		return strings.Join(m, ", ")
	}
	return "nothing of ours"
}

// TestImportsPointDown checks every import of one of our packages by the
// non-test files of another against the table.
func TestImportsPointDown(t *testing.T) {
	for _, p := range list(t) {
		rel, _ := ours(p.ImportPath)
		if _, ok := row(rel); !ok {
			t.Errorf("package %s has no row in the allowed table (internal/deptest/deptest_test.go): add one naming what it may import", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := ours(imp)
			if !ok {
				continue
			}
			switch {
			case matches("cmd/...", dep):
				t.Errorf("%s imports %s: nothing imports cmd/", p.ImportPath, imp)
			case isTestOnly(dep):
				t.Errorf("%s imports %s, which is for tests only", p.ImportPath, imp)
			case !allows(rel, dep):
				t.Errorf("arrow goes up: %s imports %s; the table lets %s import %s", p.ImportPath, imp, rel, describe(rel))
			}
		}
	}
}

// TestTestsImportNoCommand checks the test files: they may import any
// package of ours (session included) but cmd/.
func TestTestsImportNoCommand(t *testing.T) {
	for _, p := range list(t) {
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			if dep, ok := ours(imp); ok && matches("cmd/...", dep) {
				t.Errorf("tests of %s import %s: nothing imports cmd/", p.ImportPath, imp)
			}
		}
	}
}

// TestProductionCodeDoesNotImportTesting checks every package's transitive
// dependencies, so the binary links no testing code. A package that gets
// testing through another of ours is left to that one's report.
func TestProductionCodeDoesNotImportTesting(t *testing.T) {
	pkgs := list(t)
	linksTesting := map[string]bool{}
	for _, p := range pkgs {
		linksTesting[p.ImportPath] = slices.Contains(p.Deps, "testing")
	}
	for _, p := range pkgs {
		rel, _ := ours(p.ImportPath)
		if isTestOnly(rel) || !linksTesting[p.ImportPath] {
			continue
		}
		if slices.Contains(p.Imports, "testing") {
			t.Errorf("%s imports testing; production code must not", p.ImportPath)
			continue
		}
		if !slices.ContainsFunc(p.Imports, func(imp string) bool { return linksTesting[imp] }) {
			t.Errorf("%s links testing through a package outside the module; production code must not", p.ImportPath)
		}
	}
}

// TestTableKeepsItsShape checks the table itself, so that an arrow added to
// silence TestImportsPointDown cannot turn the map upside down: the leaves
// stay leaves, only the binary and the lab reach session, and no row names
// cmd/.
func TestTableKeepsItsShape(t *testing.T) {
	// internal/atomicfile imports nothing of ours: a leaf may use it.
	notLeaf := func(p string) bool { return p == "internal/atomicfile" }
	for _, leaf := range []string{"metainfo", "peer", "choke", "dht", "utp", "lpd"} {
		if m := slices.DeleteFunc(mayImport(leaf), notLeaf); len(m) > 0 {
			t.Errorf("the table lets leaf %s import %s; it must import nothing of ours", leaf, strings.Join(m, ", "))
		}
	}
	if m := slices.DeleteFunc(mayImport("piece"), notLeaf); !slices.Equal(m, []string{"metainfo"}) {
		t.Errorf("the table lets piece import %s; it may import only metainfo", strings.Join(m, ", "))
	}
	// Who may import session: the binary, the lab (it runs many sessions in
	// one process), the daemon, the daemon's RPC through the daemon's
	// types (it imports daemon only), and the progress display front ends
	// share.
	sessionUsers := []string{"cmd/...", "lab", "daemon", "daemon/rpc", "internal/progress"}
	for key := range allowed {
		if !slices.Contains(sessionUsers, key) && allows(strings.TrimSuffix(key, "/..."), "session") {
			t.Errorf("the table lets %s import session; only %s may", key, strings.Join(sessionUsers, ", "))
		}
		for _, p := range allowed[key] {
			if matches("cmd/...", strings.TrimSuffix(p, "/...")) {
				t.Errorf("the table lets %s import %s; nothing imports cmd/", key, p)
			}
		}
	}
}

// TestCheckCatchesAnUpwardArrow makes sure the check can fail: arrows that
// go up today must be refused by the table.
func TestCheckCatchesAnUpwardArrow(t *testing.T) {
	for _, arrow := range [][2]string{
		{"peer", "session"}, {"piece", "storage"}, {"metainfo", "piece"},
		{"dht", "tracker"}, {"tracker", "tracker/server"}, {"bench/lab", "session"},
		{"choke", "piece"}, {"storage", "session"},
	} {
		if allows(arrow[0], arrow[1]) {
			t.Errorf("the table allows %s -> %s, an arrow that goes up", arrow[0], arrow[1])
		}
	}
	for _, arrow := range [][2]string{
		{"session", "peer"}, {"lab", "storage"}, {"cmd/swarm", "tracker"},
		{"bench/internal/ltpy", "bench/internal/proc"}, {"tracker/private", "metainfo"},
	} {
		if !allows(arrow[0], arrow[1]) {
			t.Errorf("the table refuses %s -> %s, an arrow that points down", arrow[0], arrow[1])
		}
	}
}
