package lab

import (
	"fmt"
	"io"
	"strings"
	"time"

	"swarm/internal/humanize"
	"swarm/session"
)

// Board shows a run's Snapshots as `swarm demo` does: one line per leecher
// and one for the seed, redrawn in place on a terminal; elsewhere one short
// line a second. Its Draw is meant for Config.Progress.
type Board struct {
	W        io.Writer
	Terminal bool
	drawn    int // lines on screen (terminal)
	printed  time.Duration
}

// Draw shows s.
func (b *Board) Draw(s Snapshot) {
	if !b.Terminal {
		if s.Elapsed-b.printed < time.Second && !allDone(s) {
			return
		}
		b.printed = s.Elapsed
		var have, total int
		done := 0
		for _, l := range s.Leechers {
			have += l.Have
			total += l.Pieces
			if l.Complete {
				done++
			}
		}
		fmt.Fprintf(b.W, "%5.1fs  leechers hold %3.0f%% of their pieces, %d of %d done\n",
			s.Elapsed.Seconds(), 100*float64(have)/float64(max(total, 1)), done, len(s.Leechers))
		return
	}
	var out strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&out, "\x1b[%dA", b.drawn) // back to the first line
	}
	for i, l := range s.Leechers {
		fmt.Fprintf(&out, "\r\x1b[Kleecher %-2d %s\n", i+1, leecherBar(l))
	}
	fmt.Fprintf(&out, "\r\x1b[Kseed       uploaded %s at %s/s   %.1fs\n",
		humanize.Size(s.Seed.Uploaded), humanize.Size(int64(s.Seed.UpRate)), s.Elapsed.Seconds())
	b.drawn = len(s.Leechers) + 1
	io.WriteString(b.W, out.String())
}

func leecherBar(st session.Stats) string {
	const width = 24
	full := int(st.Percent() / 100 * width)
	state := fmt.Sprintf("down %9s/s  up %9s/s", humanize.Size(int64(st.DownRate)), humanize.Size(int64(st.UpRate)))
	if st.Complete {
		state = "done, seeding"
	}
	return fmt.Sprintf("[%s%s] %5.1f%%  %s", strings.Repeat("#", full), strings.Repeat(".", width-full), st.Percent(), state)
}

func allDone(s Snapshot) bool {
	for _, l := range s.Leechers {
		if !l.Complete {
			return false
		}
	}
	return true
}

// WriteSummary says what a run did, from its result and its last
// snapshot: how long it took, how much came from the seed and from the
// leechers, and the time against the bound.
func WriteSummary(w io.Writer, res Result, last Snapshot) {
	var between int64
	for _, l := range last.Leechers {
		between += l.Uploaded
	}
	fromSeed := last.Seed.Uploaded
	fmt.Fprintf(w, "\nAll %d leechers hold the file, byte for byte, after %.1fs.\n", res.Leechers, res.Measured)
	if total := fromSeed + between; total > 0 {
		fmt.Fprintf(w, "They received %s: %s (%.0f%%) from the seed and %s (%.0f%%) from each other.\n",
			humanize.Size(total), humanize.Size(fromSeed), 100*float64(fromSeed)/float64(total),
			humanize.Size(between), 100*float64(between)/float64(total))
	}
	fmt.Fprintf(w, "The least time any swarm could take is %.1fs (the P2P bound): %.2f times that.\n", res.Bound, res.Ratio)
	fmt.Fprintf(w, "The seed alone, serving each leecher in turn, would need %.1fs.\n", res.ClientServer)
	fmt.Fprintf(w, "\nNext: 'swarm lab --plot lab.png' runs this for 4 to 32 leechers and draws the figure.\n")
}
