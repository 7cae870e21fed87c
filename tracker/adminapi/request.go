package adminapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"swarm/metainfo"
	"swarm/tracker/private"
)

// The request bodies the API accepts, and their decoding: strict JSON (an
// unknown field is an error, so a misspelt "can_leach" is not silently
// ignored), one value, checked before anything touches the database.

// userCreate is POST /api/users.
type userCreate struct {
	Name string `json:"name"`
	// Passkey is the 32 hex characters to give the user; empty means a
	// new random one.
	Passkey  string `json:"passkey,omitempty"`
	CanLeech *bool  `json:"can_leech,omitempty"` // nil: true
	Disabled bool   `json:"disabled,omitempty"`
}

// userPatch is PATCH /api/users/{name}: the fields given are changed.
type userPatch struct {
	Disabled *bool `json:"disabled,omitempty"`
	CanLeech *bool `json:"can_leech,omitempty"`
}

// torrentRegister is POST /api/torrents in JSON: either Torrent, the
// .torrent file in base64, or InfoHash with an optional name and size.
type torrentRegister struct {
	InfoHash string `json:"info_hash,omitempty"`
	Name     string `json:"name,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Torrent  string `json:"torrent,omitempty"`
}

// badRequest is an error in what the client sent: answered 400 with its
// text.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// decodeJSON reads exactly one JSON value of v's type from body.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badf("empty request body: want a JSON object")
		}
		return badf("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badf("request body: want one JSON object, found more after it")
	}
	return nil
}

// decodeUserCreate decodes and checks a userCreate. The passkey, if any,
// comes back parsed.
func decodeUserCreate(body []byte) (userCreate, *private.Passkey, error) {
	var req userCreate
	if err := decodeJSON(body, &req); err != nil {
		return req, nil, err
	}
	if err := private.CheckName(req.Name); err != nil {
		return req, nil, &badRequest{err.Error()}
	}
	if req.Passkey == "" {
		return req, nil, nil
	}
	p, err := private.ParsePasskey(req.Passkey)
	if err != nil {
		return req, nil, badf("passkey: %v", err)
	}
	return req, &p, nil
}

// decodeUserPatch decodes a userPatch; it must change something.
func decodeUserPatch(body []byte) (userPatch, error) {
	var req userPatch
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	if req.Disabled == nil && req.CanLeech == nil {
		return req, badf("nothing to change: give disabled or can_leech")
	}
	return req, nil
}

// decodeTorrentRegister decodes a torrentRegister into the torrent to
// register and, when given the .torrent file, its metainfo.
func decodeTorrentRegister(body []byte) (private.Torrent, *metainfo.MetaInfo, error) {
	var req torrentRegister
	if err := decodeJSON(body, &req); err != nil {
		return private.Torrent{}, nil, err
	}
	switch {
	case req.Torrent != "" && (req.InfoHash != "" || req.Name != "" || req.Size != 0):
		return private.Torrent{}, nil, badf("give either torrent, or info_hash with name and size, not both")
	case req.Torrent != "":
		data, err := base64.StdEncoding.DecodeString(req.Torrent)
		if err != nil {
			return private.Torrent{}, nil, badf("torrent: not base64: %v", err)
		}
		return parseTorrent(data)
	case req.InfoHash == "":
		return private.Torrent{}, nil, badf("want torrent (the .torrent file in base64) or info_hash")
	case req.Size < 0:
		return private.Torrent{}, nil, badf("size %d: want 0 or more bytes", req.Size)
	case len(req.Name) > 1024:
		return private.Torrent{}, nil, badf("name: want at most 1024 bytes")
	}
	h, err := metainfo.ParseHash(req.InfoHash)
	if err != nil {
		return private.Torrent{}, nil, badf("info_hash: %v", err)
	}
	return private.Torrent{InfoHash: h, Name: req.Name, Size: req.Size}, nil, nil
}

// parseTorrent reads a .torrent file's bytes into the torrent to register.
func parseTorrent(data []byte) (private.Torrent, *metainfo.MetaInfo, error) {
	m, err := metainfo.Parse(data)
	if err != nil {
		return private.Torrent{}, nil, badf("torrent file: %v", err)
	}
	return private.Torrent{InfoHash: m.InfoHash, Name: m.Info.Name, Size: m.Info.Length}, m, nil
}
