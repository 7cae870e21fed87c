package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// static holds the page. It is plain HTML, CSS and JavaScript with no build
// step and no library, so the binary carries everything and nothing needs
// the internet to build or to load.
//
//go:embed static
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// contentTypes are the types of the files in static, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// csp lets the page load only its own files and talk only to its own
// origin; the page has no inline script or style, so nothing else is needed.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the handler that serves the page at "/" and its files
// below it. It answers GET and HEAD only, redirects Transmission's
// /transmission/web/ to "/", and 404 for any other path, so a daemon can
// mount it at "/" beside its RPC.
func Handler() http.Handler {
	assets := map[string]asset{}
	// static is embedded: walking it cannot fail unless the build is broken.
	_ = fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(path, "static")
		ext := name[strings.LastIndexByte(name, '.'):]
		assets[name] = asset{body: body, ctype: contentTypes[ext], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	assets["/"] = assets["/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/transmission/web" || r.URL.Path == "/transmission/web/" {
			// Transmission's page is there: bookmarks and apps that open
			// it land on this one. 302, so a browser remembers nothing.
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		// frame-ancestors above says the same to current browsers; older
		// ones (and some embedded views) know only this header, and a
		// framed page could be clicked on by the page around it.
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// no-cache: the browser revalidates with the ETag, so a new binary's
		// page is never mixed with an old cached script.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if a.ctype != "" {
			h.Set("Content-Type", a.ctype)
		}
		// ServeContent answers HEAD, If-None-Match (from the ETag) and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
