package session

import (
	"swarm/peer"
)

// onMetadata answers a peer's ut_metadata message: a request gets the
// 16 KiB piece of our info dict it names (so peers holding only a magnet
// link can start), anything out of range a reject. Data and rejects we
// never asked for are ignored.
func (t *Torrent) onMetadata(p *peerConn, payload []byte) error {
	msg, err := peer.ParseMetadataMessage(payload)
	if err != nil {
		return violation("ut_metadata: %v", err)
	}
	if msg.Type != peer.MetadataRequest || p.utMetadata == 0 {
		return nil
	}
	info := t.m.InfoBytes
	reply := peer.MetadataMessage{Type: peer.MetadataReject, Piece: msg.Piece}
	if msg.Piece < peer.MetadataPieces(len(info)) {
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
