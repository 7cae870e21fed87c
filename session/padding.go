package session

import (
	"sort"

	"swarm/metainfo"
	"swarm/piece"
)

// padBlocks returns the piece.Config.Known function of a torrent with BEP 47
// pad files: a block that lies wholly inside one pad file is zeros known in
// advance, so it is never requested (storage reads pad bytes as zeros and
// drops writes to them, so the piece's hash check still covers them). A
// block that is only partly padding is requested as usual. Nil when the
// torrent has no pad file.
func padBlocks(info *metainfo.Info, geo piece.Geometry) func(piece.Block) bool {
	var pads []metainfo.File
	for _, f := range info.Files {
		if f.Padding && f.Length > 0 {
			pads = append(pads, f)
		}
	}
	if len(pads) == 0 {
		return nil
	}
	return func(b piece.Block) bool {
		off := geo.Offset(b)
		end := off + int64(b.Length)
		// The last pad file that starts at or before off.
		i := sort.Search(len(pads), func(i int) bool { return pads[i].Offset > off }) - 1
		return i >= 0 && end <= pads[i].Offset+pads[i].Length
	}
}
