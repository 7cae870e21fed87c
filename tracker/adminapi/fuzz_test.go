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
// passkey, a change to make, a size of at least 0. Seeds are in
// testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(byte(0), []byte(`{"name":"alice","passkey":"0123456789abcdef0123456789abcdef","can_leech":false}`))
	f.Add(byte(1), []byte(`{"disabled":true}`))
	f.Add(byte(2), []byte(`{"info_hash":"0123456789abcdef0123456789abcdef01234567","name":"x","size":1}`))
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		var err error
		switch kind % 3 {
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
		}
		var bad *badRequest
		if err != nil && !errors.As(err, &bad) {
			t.Fatalf("error %v (%T) is not a badRequest", err, err)
		}
	})
}
