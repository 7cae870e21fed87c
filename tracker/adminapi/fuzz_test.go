package adminapi

import (
	"errors"
	"strings"
	"testing"

	"swarm/tracker/private"
)

// FuzzDecodeRequest: request bodies come from the network (behind the
// token, but a site's bug or a stolen token is enough). Whatever the bytes,
// the decoders do not panic, every error is a badRequest (answered 400,
// never 500), and what they accept is valid: a good name, a parsed
// passkey, a change to make, a size of at least 0, a client prefix, a
// masked ban range, a window that ends after it starts. Seeds are in
// testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(byte(0), []byte(`{"name":"alice","passkey":"0123456789abcdef0123456789abcdef","can_leech":false}`))
	f.Add(byte(1), []byte(`{"disabled":true}`))
	f.Add(byte(2), []byte(`{"info_hash":"0123456789abcdef0123456789abcdef01234567","name":"x","size":1}`))
	f.Add(byte(3), []byte(`{"prefix":"-qB4"}`))
	f.Add(byte(4), []byte(`{"cidr":"::ffff:192.0.2.0/120","reason":"x"}`))
	f.Add(byte(5), []byte(`{"kind":"double_upload"}`))
	f.Add(byte(6), []byte(`{"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00+02:00","kind":"neutral"}`))
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		var err error
		switch kind % 7 {
		case 0:
			var req userCreate
			var p *private.Passkey
			req, p, err = decodeUserCreate(body)
			if err == nil {
				if private.CheckName(req.Name) != nil {
					t.Fatalf("accepted name %q", req.Name)
				}
				if (p == nil) != (req.Passkey == "") || p != nil && p.String() != strings.ToLower(req.Passkey) {
					t.Fatalf("passkey %q parsed as %v", req.Passkey, p)
				}
			}
		case 1:
			var req userPatch
			req, err = decodeUserPatch(body)
			if err == nil && req.Disabled == nil && req.CanLeech == nil {
				t.Fatal("accepted a patch that changes nothing")
			}
		case 2:
			tor, m, err2 := decodeTorrentRegister(body)
			err = err2
			if err == nil && (tor.Size < 0 || m == nil && len(tor.Name) > 1024 || m != nil && m.InfoHash != tor.InfoHash) {
				t.Fatalf("accepted torrent %+v", tor)
			}
		case 3:
			var p string
			if p, err = decodeClient(body); err == nil && (p == "" || len(p) > 20) {
				t.Fatalf("accepted client prefix %q", p)
			}
		case 4:
			var b private.Ban
			if b, err = decodeBan(body); err == nil && (!b.Prefix.IsValid() || b.Prefix != b.Prefix.Masked()) {
				t.Fatalf("accepted ban %v", b.Prefix)
			}
		case 5:
			_, err = decodeKind(body)
		case 6:
			var w private.FreeleechWindow
			if w, err = decodeWindow(body); err == nil && (!w.End.After(w.Start) || w.Kind == private.KindNormal) {
				t.Fatalf("accepted window %+v", w)
			}
		}
		var bad *badRequest
		if err != nil && !errors.As(err, &bad) {
			t.Fatalf("error %v (%T) is not a badRequest", err, err)
		}
	})
}
