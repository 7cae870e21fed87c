package rpc_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"swarm/daemon/rpc"
)

// TestListTableFitsEightyColumns: every line of WriteList fits 80 columns,
// long names are cut, errors are named below the table.
func TestListTableFitsEightyColumns(t *testing.T) {
	var b bytes.Buffer
	rpc.WriteList(&b, []rpc.Listed{
		{ID: 1, Name: "a", PercentDone: 0.999, Size: 1 << 40, Down: 999, Up: 123456789, Ratio: 12.5, Status: 4},
		{ID: 9999, Name: strings.Repeat("long name ", 10), PercentDone: 1, Size: 5 << 30, Ratio: -1, Status: 6},
		{ID: 3, Name: "broken", Status: 0, Error: 3, ErrorString: "open /x: permission denied"},
	})
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header, 3 rows and an error line:\n%s", out)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	for i, want := range []string{"Status", "99%", "100%", "Error", "3: open /x: permission denied"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d lacks %q: %q", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[2], "…") || !strings.Contains(lines[1], "1.0T") {
		t.Errorf("long name not cut, or size not short:\n%s", out)
	}
}

// TestClientAddListAct: Add sends a magnet link for the daemon to fetch and
// a .torrent file inline (refusing one that does not parse before any
// call), List reads every torrent, ParseIDs and Act reach the backend; Act
// on an id the daemon lacks does nothing.
func TestClientAddListAct(t *testing.T) {
	ts, fb := newServer(t, rpc.Config{})
	c := &rpc.Client{Addr: strings.TrimPrefix(ts.URL, "http://")}
	ctx := context.Background()
	magnet := "magnet:?xt=urn:btih:" + strings.Repeat("ab", 20)
	out, err := c.Add(ctx, magnet, "/dl/x", true)
	if err != nil || out["torrent-added"].ID != 7 {
		t.Fatalf("Add(magnet) = %v, %v", out, err)
	}
	file := filepath.Join("..", "..", "testdata", "mktorrent-single.torrent")
	if _, err := c.Add(ctx, file, "", false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(t.TempDir(), "junk.torrent")
	if err := os.WriteFile(junk, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(ctx, junk, "", false); err == nil || !strings.Contains(err.Error(), "junk.torrent") {
		t.Errorf("Add(junk file) = %v, want an error naming the file", err)
	}
	if len(fb.added) != 2 || fb.added[0].Source != magnet || fb.added[0].Dir != "/dl/x" || !fb.added[0].Paused ||
		!bytes.Equal(fb.added[1].Torrent, data) || fb.added[1].Paused {
		t.Errorf("backend got %+v", fb.added)
	}

	ls, err := c.List(ctx)
	if err != nil || len(ls) != 2 || ls[1].Name != "two" || ls[1].PercentDone != 0.25 || ls[1].Error != 3 || ls[0].Hash != strings.Repeat("1", 40) {
		t.Fatalf("List = %+v, %v", ls, err)
	}

	ids, err := rpc.ParseIDs([]string{"1", strings.Repeat("2", 40)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "torrent-remove", []any{1, 7}, nil); err == nil || !strings.Contains(err.Error(), "no torrent 7") {
		t.Errorf("Act on an id the daemon lacks = %v, want an error naming 7", err)
	}
	done, err := c.Act(ctx, "torrent-remove", ids, map[string]any{"delete-local-data": true})
	if err != nil || len(done) != 2 || done[0].Name != "one" || done[1].Hash != strings.Repeat("2", 40) {
		t.Fatalf("Act = %+v, %v; want torrents one and two", done, err)
	}
	if all, err := rpc.ParseIDs([]string{"1", "all"}); err != nil || all != nil {
		t.Errorf("ParseIDs(1 all) = %v, %v; want nil (every torrent)", all, err)
	}
	if done, err := c.Act(ctx, "torrent-stop", nil, nil); err != nil || len(done) != 2 {
		t.Fatalf("Act on every torrent = %+v, %v", done, err)
	}
	if want := []string{"remove [1,2] true", "pause null"}; j(fb.calls) != j(want) {
		t.Errorf("backend calls %v, want %v (null: every torrent; nothing for the unknown id)", fb.calls, want)
	}
	for _, bad := range []string{"0", "x1", strings.Repeat("2", 39)} {
		if _, err := rpc.ParseIDs([]string{bad}); err == nil {
			t.Errorf("ParseIDs(%q) took it", bad)
		}
	}
}

// TestServeAnswersRPCAndPage: Serve answers the RPC at Path and below it,
// the page elsewhere behind the same auth, and returns nil once ctx ends.
func TestServeAnswersRPCAndPage(t *testing.T) {
	s, err := rpc.New(rpc.Config{Backend: &fakeBackend{}, User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") }))
	}()
	base := "http://" + ln.Addr().String()
	for _, tt := range []struct {
		path, user string
		status     int
	}{{rpc.Path, "u", http.StatusConflict}, {rpc.Path + "/", "u", http.StatusConflict}, {"/", "u", http.StatusOK}, {"/", "x", http.StatusUnauthorized}} {
		req, _ := http.NewRequest(http.MethodPost, base+tt.path, strings.NewReader("{}"))
		req.SetBasicAuth(tt.user, "p")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || tt.status == http.StatusOK && string(body) != "page" {
			t.Errorf("%s as %s: %s %q, want %d", tt.path, tt.user, resp.Status, body, tt.status)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after ctx ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
}
