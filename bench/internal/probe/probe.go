// Package probe checks that a BitTorrent peer is up and serves a torrent:
// the benchmarks wait on it before they time a transfer or count a
// daemon's torrents as serving.
package probe

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"time"

	"swarm/mse"
)

// Handshake connects to addr, sends a BitTorrent handshake for ih (inside
// MSE with RC4 when encrypt is set) and checks that the answer names the
// same info hash. Connect and exchange are bounded (1 s and 2 s).
func Handshake(addr string, ih [20]byte, encrypt bool) error {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	msg := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	msg = append(msg, ih[:]...)
	id := []byte("-BENCH0-000000000000")
	rand.Read(id[8:])
	msg = append(msg, id...)
	c := nc
	if encrypt { // the handshake rides in MSE's initial payload
		if c, _, err = mse.Initiate(nc, ih, mse.RC4, msg); err != nil {
			return err
		}
	} else if _, err := c.Write(msg); err != nil {
		return err
	}
	resp := make([]byte, 68)
	if _, err := io.ReadFull(c, resp); err != nil {
		return err
	}
	if !bytes.Equal(resp[28:48], ih[:]) {
		return errors.New("handshake for another info hash")
	}
	return nil
}
