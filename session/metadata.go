package session

import (
	"swarm/peer"
)

// offerMetadata adds ut_metadata (BEP 9) to our extension handshake, for a
// public torrent only: a private torrent's info dict goes only to peers
// that have the .torrent from its tracker (BEP 27), so it neither offers
// nor serves it, as libtorrent does.
// Before the info dict is known, ut_metadata is offered without a size: we
// fetch it under our id.
func (t *Torrent) offerMetadata(hs *peer.ExtensionHandshake) {
	if t.private() {
		return
	}
	hs.M[peer.MetadataExtension] = peer.MetadataID
	if t.m != nil {
		hs.MetadataSize = len(t.m.InfoBytes)
	}
}

// metadataRounds is how many times a peer may fetch the whole info dict
// over one connection; its later requests get rejects. Each answer is 16
// KiB for a request of some 30 bytes, sent outside the upload rate limit.
const metadataRounds = 2

// onMetadata answers a peer's ut_metadata message: a request gets the
// 16 KiB piece of our info dict it names (so peers holding only a magnet
// link can start), anything out of range, or past metadataRounds of the
// whole dict, a reject (every request while we have no info dict
// ourselves). Data and rejects go to the fetch of a magnet link's torrent
// (magnet.go); once it is done they are ignored, and so is everything for a
// private torrent.
func (t *Torrent) onMetadata(p *peerConn, payload []byte) error {
	if t.private() {
		return nil // never offered: an extension we do not speak
	}
	msg, err := peer.ParseMetadataMessage(payload)
	if err != nil {
		return violation("ut_metadata: %v", err)
	}
	if t.meta != nil && msg.Type != peer.MetadataRequest {
		return t.onMetadataPiece(p, msg)
	}
	if msg.Type != peer.MetadataRequest || p.utMetadata == 0 {
		return nil
	}
	var info []byte // nil until we have it: every request is rejected
	if t.m != nil {
		info = t.m.InfoBytes
	}
	pieces := peer.MetadataPieces(len(info))
	reply := peer.MetadataMessage{Type: peer.MetadataReject, Piece: msg.Piece}
	if msg.Piece < pieces && p.metaServed < metadataRounds*pieces {
		p.metaServed++
		start := msg.Piece * peer.MetadataPieceSize
		reply = peer.MetadataMessage{Type: peer.MetadataData, Piece: msg.Piece, TotalSize: len(info),
			Data: info[start : start+peer.MetadataPieceLen(len(info), msg.Piece)]}
	}
	out, err := reply.Marshal()
	if err != nil {
		return err
	}
	p.send(peer.Message{ID: peer.Extended, ExtendedID: p.utMetadata, Payload: out})
	return nil
}
