package metainfo

// ShareableMagnet is the magnet link to give others to download the torrent
// with, or "" for a private torrent: its peers never serve the info dict
// (BEP 27; swarm and libtorrent offer no ut_metadata for private torrents),
// so a magnet of it cannot work, and its tracker URLs hold the user's
// passkey.
func (m *MetaInfo) ShareableMagnet() string {
	if m.Info.Private {
		return ""
	}
	return m.Magnet().String()
}
