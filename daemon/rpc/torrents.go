package rpc

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"swarm/internal/humanize"
	"swarm/metainfo"
)

// The calls a client makes on a daemon's torrents (swarm add, list, pause,
// resume, remove, verify use them; so can a script's Go program).

// Added is a torrent that torrent-add added or found already there.
type Added struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Hash string `json:"hashString"`
}

// Add adds source to the daemon: a magnet link or an http(s) URL is sent
// for the daemon to fetch, a .torrent file is checked here and sent whole.
// dir is the download folder on the daemon's machine ("" for its default).
// The answer has one key: "torrent-added", or "torrent-duplicate" when the
// daemon had the torrent already.
func (c *Client) Add(ctx context.Context, source, dir string, paused bool) (map[string]Added, error) {
	a := map[string]any{"paused": paused}
	if dir != "" {
		a["download-dir"] = dir
	}
	switch {
	case strings.HasPrefix(source, "magnet:") || strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		a["filename"] = source
	default:
		if _, err := metainfo.Load(source); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(source)
		if err != nil {
			return nil, err
		}
		a["metainfo"] = base64.StdEncoding.EncodeToString(b)
	}
	var out map[string]Added
	if err := c.Call(ctx, "torrent-add", a, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Listed is one torrent of List: the fields a table of torrents shows.
type Listed struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	PercentDone float64 `json:"percentDone"`
	Size        int64   `json:"sizeWhenDone"`
	Down        int64   `json:"rateDownload"`
	Up          int64   `json:"rateUpload"`
	Ratio       float64 `json:"uploadRatio"`
	Status      int     `json:"status"`
	Error       int     `json:"error"`
	ErrorString string  `json:"errorString"`
	Hash        string  `json:"hashString"`
}

// listFields are what List asks for: Listed's fields.
var listFields = []string{"id", "name", "percentDone", "sizeWhenDone", "rateDownload", "rateUpload", "uploadRatio", "status", "error", "errorString", "hashString"}

// List returns every torrent of the daemon, in its order.
func (c *Client) List(ctx context.Context) ([]Listed, error) {
	var out struct {
		Torrents []Listed `json:"torrents"`
	}
	if err := c.Call(ctx, "torrent-get", map[string]any{"fields": listFields}, &out); err != nil {
		return nil, err
	}
	return out.Torrents, nil
}

// WriteList writes ts as a table in 80 columns (the name takes what is
// left, cut with …), then one line per torrent in error.
func WriteList(w io.Writer, ts []Listed) {
	var b strings.Builder
	fmt.Fprintf(&b, "%4s %5s %7s %7s %7s %5s %-11s %s\n", "ID", "Done", "Size", "Down/s", "Up/s", "Ratio", "Status", "Name")
	for _, t := range ts {
		ratio := "-"
		if t.Ratio >= 0 {
			ratio = strconv.FormatFloat(t.Ratio, 'f', 2, 64)
		}
		name := []rune(t.Name)
		if len(name) > nameWidth {
			name = append(name[:nameWidth-1], '…')
		}
		fmt.Fprintf(&b, "%4d %4.0f%% %7s %7s %7s %5s %-11s %s\n", t.ID, math.Floor(100*t.PercentDone), humanize.ShortSize(t.Size),
			humanize.ShortSize(t.Down), humanize.ShortSize(t.Up), ratio, StatusName(t.Status, t.Error), string(name))
	}
	for _, t := range ts {
		if t.ErrorString != "" {
			fmt.Fprintf(&b, "%4d: %s\n", t.ID, t.ErrorString)
		}
	}
	io.WriteString(w, b.String())
}

// nameWidth is what 80 columns leave for the name.
const nameWidth = 80 - 53

// StatusName names a Transmission status code (with the torrent's error
// code: 3 is a local error) as a table shows it.
func StatusName(status, errCode int) string {
	if errCode == 3 {
		return "Error"
	}
	names := []string{"Stopped", "Check wait", "Checking", "Queued", "Downloading", "Seed wait", "Seeding"}
	if status >= 0 && status < len(names) {
		return names[status]
	}
	return "?"
}

// ParseIDs reads torrents named on a command line: ids (numbers from 1)
// and info hashes (40 hex characters, sent in lower case). "all" anywhere
// means every torrent, which is nil.
func ParseIDs(args []string) ([]any, error) {
	var ids []any
	for _, s := range args {
		if s == "all" {
			return nil, nil
		}
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			ids = append(ids, n)
		} else if _, err := metainfo.ParseHash(s); err == nil {
			ids = append(ids, strings.ToLower(s))
		} else {
			return nil, fmt.Errorf("%q: want a torrent id (a number), an info hash or all", s)
		}
	}
	return ids, nil
}

// Act runs method (torrent-start, torrent-stop, torrent-verify,
// torrent-remove, ...) on ids (nil: every torrent), with more arguments
// (nil for none), and returns the torrents it acted on (ID, Name and Hash
// set). The RPC answers "success" for ids it does not have, as
// Transmission does, so Act asks first: an id the daemon does not have is
// an error naming it, and nothing is done.
func (c *Client) Act(ctx context.Context, method string, ids []any, more map[string]any) ([]Listed, error) {
	a := map[string]any{}
	for k, v := range more {
		a[k] = v
	}
	if ids != nil {
		a["ids"] = ids
	}
	var got struct {
		Torrents []Listed `json:"torrents"`
	}
	if err := c.Call(ctx, "torrent-get", map[string]any{"ids": a["ids"], "fields": []string{"id", "name", "hashString"}}, &got); err != nil {
		return nil, err
	}
	if missing := missingIDs(ids, got.Torrents); len(missing) > 0 {
		return nil, fmt.Errorf("no torrent %s in the daemon ('swarm list' shows the ids); nothing done", strings.Join(missing, ", "))
	}
	if err := c.Call(ctx, method, a, nil); err != nil {
		return nil, err
	}
	return got.Torrents, nil
}

// missingIDs are the ids (numbers or info hashes) that no torrent in have
// answers to.
func missingIDs(ids []any, have []Listed) []string {
	var missing []string
	for _, id := range ids {
		found := false
		for _, t := range have {
			found = found || id == any(t.ID) || id == any(t.Hash)
		}
		if !found {
			missing = append(missing, fmt.Sprint(id))
		}
	}
	return missing
}
