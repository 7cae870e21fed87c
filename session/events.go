package session

import (
	"crypto/sha1"
	"net"
	"net/netip"

	"swarm/peer"
	"swarm/piece"
)

// event is something that happened to a torrent, handled by its loop. The
// set is closed: only the types in this file implement it.
type event interface{ isEvent() }

// peerConnected: a handshake finished; the loop adopts the connection.
type peerConnected struct {
	nc       net.Conn
	hs       peer.Handshake
	addr     netip.AddrPort
	outgoing bool
}

// dialFailed: an outgoing connection attempt to addr failed.
type dialFailed struct {
	addr netip.AddrPort
	err  error
}

// peerMessage: a message other than a piece arrived. Its slices are the
// reader's own copies.
type peerMessage struct {
	p   *peerConn
	msg peer.Message
}

// peerBlock: a piece message arrived; data comes from the block pool.
type peerBlock struct {
	p     *peerConn
	block piece.Block
	data  []byte
}

// peerClosed: the connection's reader ended; err says why.
type peerClosed struct {
	p   *peerConn
	err error
}

// blockWritten: a block reached storage (or failed to).
type blockWritten struct {
	block piece.Block
	err   error
}

// pieceHashed: a complete piece was hashed (from memory, then written if
// it passed; or read back, if it was spilled to storage).
type pieceHashed struct {
	piece int
	ok    bool
	err   error
	// blocks holds the SHA-1 of each 16 KiB block when the piece failed,
	// or when it passed and blockSums was asked for (smart ban).
	blocks [][sha1.Size]byte
}

// peersFound: a tracker (or the user) gave us peers to try.
type peersFound struct {
	addrs []netip.AddrPort
	src   addrSource
}

// contentOpened: TorrentConfig.Open returned, for a magnet link's torrent.
type contentOpened struct {
	cfg TorrentConfig
	err error
}

// prioritiesSet: SetFilePriorities gave new file priorities.
type prioritiesSet struct{ prios []int }

func (peerConnected) isEvent() {}
func (dialFailed) isEvent()    {}
func (peerMessage) isEvent()   {}
func (peerBlock) isEvent()     {}
func (peerClosed) isEvent()    {}
func (blockWritten) isEvent()  {}
func (pieceHashed) isEvent()   {}
func (peersFound) isEvent()    {}
func (contentOpened) isEvent() {}
func (prioritiesSet) isEvent() {}
