package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"swarm/metainfo"
	"swarm/peer"
	"swarm/piece"
)

// The HTTP side of web seeds (BEP 19): a fetch reads runs of contiguous
// blocks with range requests, one per file a run spans, and posts them to
// the loop. It reads exactly the bytes asked for, never more.

// fetchWebSeed fetches blocks (picked for ws) from base within limit and
// posts the result; ctx is the torrent's.
func (t *Torrent) fetchWebSeed(ctx context.Context, limit time.Duration, base string, ws *webSeed, blocks []piece.Block) {
	ev := webSeedFetched{ws: ws}
	fctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	slices.SortFunc(blocks, func(a, b piece.Block) int {
		return int(t.geo.Offset(a) - t.geo.Offset(b))
	})
	for i := 0; i < len(blocks); {
		// A run: blocks that follow each other in the content.
		j, off := i+1, t.geo.Offset(blocks[i])
		end := off + int64(blocks[i].Length)
		for j < len(blocks) && t.geo.Offset(blocks[j]) == end {
			end += int64(blocks[j].Length)
			j++
		}
		buf := make([]byte, end-off)
		if err := t.readWeb(fctx, base, off, buf); err != nil {
			ev.err, ev.missing = err, blocks[i:]
			break
		}
		for _, b := range blocks[i:j] {
			d := getBlock(int(b.Length))
			at := t.geo.Offset(b) - off
			copy(d, buf[at:])
			ev.blocks, ev.data = append(ev.blocks, b), append(ev.data, d)
		}
		i = j
	}
	if !t.post(ctx, ev) {
		dropWebSeedFetched(ev)
	}
}

// readWeb fills buf with the content at off from the web seed at base:
// pad files are zeros, other files are asked for by range.
func (t *Torrent) readWeb(ctx context.Context, base string, off int64, buf []byte) error {
	info := &t.m.Info
	files := info.Files
	i := sort.Search(len(files), func(i int) bool { return files[i].Offset+files[i].Length > off })
	for pos := int64(0); pos < int64(len(buf)) && i < len(files); i++ {
		f := files[i]
		if f.Length == 0 {
			continue
		}
		foff := off + pos - f.Offset
		k := min(f.Length-foff, int64(len(buf))-pos)
		dst := buf[pos : pos+k]
		if f.Padding {
			clear(dst)
		} else if err := t.getRange(ctx, webSeedURL(base, info, f), foff, dst); err != nil {
			return err
		}
		pos += k
	}
	return nil
}

// getRange reads len(dst) bytes at foff of the file at u. A server that
// answers 200 (no range support) is read from the start only when foff
// is 0; otherwise it is an error.
func (t *Torrent) getRange(ctx context.Context, u string, foff int64, dst []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("web seed request %s: %w", u, err)
	}
	last := foff + int64(len(dst)) - 1
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", foff, last))
	resp, err := t.webClient.Do(req)
	if err != nil {
		return fmt.Errorf("web seed GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, end, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != foff || end != last {
			return fmt.Errorf("web seed GET %s bytes %d-%d: server sent range %q", u, foff, last, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK && foff == 0:
	case resp.StatusCode == http.StatusOK:
		return fmt.Errorf("web seed GET %s bytes %d-%d: server ignores range requests", u, foff, last)
	default:
		return fmt.Errorf("web seed GET %s bytes %d-%d: HTTP %s", u, foff, last, resp.Status)
	}
	// Read a block at a time under the download rate limit.
	for pos := 0; pos < len(dst); {
		n := min(peer.BlockSize, len(dst)-pos)
		if err := sleep(ctx, t.down.reserve(n)); err != nil {
			return err
		}
		if _, err := io.ReadFull(resp.Body, dst[pos:pos+n]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("web seed GET %s bytes %d-%d: %w", u, foff, last, err)
		}
		pos += n
	}
	return nil
}

// webSeedURL maps a file of the torrent to its URL (BEP 19): a
// single-file torrent's URL is base itself, or base + name when base ends
// in "/"; a multi-file torrent's files are at base/name/path..., each
// component escaped.
func webSeedURL(base string, info *metainfo.Info, f metainfo.File) string {
	if !info.MultiFile {
		if strings.HasSuffix(base, "/") {
			return base + url.PathEscape(info.Name)
		}
		return base
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	parts := make([]string, 0, 1+len(f.Path))
	parts = append(parts, url.PathEscape(info.Name))
	for _, c := range f.Path {
		parts = append(parts, url.PathEscape(c))
	}
	return base + strings.Join(parts, "/")
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be *).
func parseContentRange(s string) (start, end int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	return start, end, err1 == nil && err2 == nil && 0 <= start && start <= end
}
