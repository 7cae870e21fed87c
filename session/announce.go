package session

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"swarm/tracker"
)

// announceEvent is a lifecycle change the loop tells the announcer about.
type announceEvent int

const (
	announceCompleted announceEvent = 1
	// announceNow: Reannounce asked for peers now.
	announceNow announceEvent = 2
)

// Reannounce asks the trackers for peers now rather than at the next
// interval (Transmission's torrent-reannounce). Within the min interval
// of the tracker's last answer it is ignored, as the tracker asked and as
// Transmission does; it returns without waiting for the announce.
func (t *Torrent) Reannounce() {
	select {
	case t.announce <- announceNow:
	default: // an announce is queued already
	}
}

// A downloading torrent with fewer than fewPeers connections re-announces
// every shortOfPeersRetry (within the tracker's min interval) instead of
// waiting out the whole interval.
const (
	fewPeers          = 5
	shortOfPeersRetry = 30 * time.Second
)

// firstRetry is the wait after a round in which every tracker failed; it
// doubles with each such round in a row.
const firstRetry = 5 * time.Second

// lastAnnounceTimeout bounds the announces at shutdown ("completed" if it
// is still owed, then "stopped") together.
const lastAnnounceTimeout = 5 * time.Second

// trackers returns the tiers to announce to.
func (t *Torrent) trackers() [][]string {
	if t.cfg.Trackers != nil || t.m == nil {
		return t.cfg.Trackers
	}
	return t.m.Tiers()
}

// answerCounter counts the tracker URLs that have answered an announce.
// Only the announce loop's goroutine calls it.
type answerCounter struct {
	tracker.Transport
	seen  map[string]bool
	count *atomic.Int32
}

func (c *answerCounter) Announce(ctx context.Context, url string, req tracker.AnnounceRequest) (tracker.AnnounceResponse, error) {
	resp, err := c.Transport.Announce(ctx, url, req)
	if err == nil && !c.seen[url] {
		c.seen[url] = true
		c.count.Add(1)
	}
	return resp, err
}

// announceLoop announces to the trackers on their schedule (started first,
// completed when the loop says so, stopped at shutdown) and hands the peers
// they return to the loop.
func (t *Torrent) announceLoop(ctx context.Context, tiers [][]string) {
	a, err := tracker.NewAnnouncer(tracker.AnnouncerConfig{
		Tiers:     tiers,
		Transport: &answerCounter{Transport: &tracker.Client{UserAgent: "swarm/0.1", HTTP: t.sess.http}, seen: map[string]bool{}, count: &t.answered},
		Logger:    &t.log,
		// A client that cannot reach its tracker retries sooner than
		// the package default, as libtorrent does (about 5 s after a
		// first failure): an announce reset or timed out by a tracker
		// under a burst (hundreds of lab peers starting at once) costs
		// seconds, not a quarter of a minute. The backoff still doubles
		// to 30 min.
		MinBackoff: firstRetry,
	})
	if err != nil {
		t.log.Warn().Err(err).Msg("no usable tracker")
		return
	}
	event := tracker.EventStarted
	// completedOwed: the download completed and no tracker has acknowledged
	// "completed" yet. It goes out after "started" has, and at the latest
	// at shutdown, so that a private tracker counts the snatch even when
	// `swarm get` exits the moment the download completes (issue 13).
	completedOwed := false
	// lastDeadline bounds the announces at shutdown; zero means
	// lastAnnounceTimeout from when they start.
	var lastDeadline time.Time
	retry := magnetRetryMin // while fetching the metadata with no peer
	for {
		ev := event
		if ev == tracker.EventNone && completedOwed {
			ev = tracker.EventCompleted
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if ev == tracker.EventCompleted {
			// The shutdown that follows at once (get exits at completion)
			// must not cut "completed" short: the tracker may have counted
			// it, and sending it again would count it twice. Bounded as
			// the shutdown's announces are, which it then shares.
			actx, cancel = context.WithTimeout(context.WithoutCancel(ctx), lastAnnounceTimeout)
			lastDeadline, _ = actx.Deadline()
		}
		resp, err := a.Announce(actx, t.announceRequest(ev))
		cancel()
		if ev != tracker.EventCompleted || ctx.Err() == nil {
			lastDeadline = time.Time{} // no "completed" ran into the shutdown
		}
		switch {
		case err == nil:
			t.trackerErr.Store(nil)
			t.noteAnnounce(resp, nil, a.NextAnnounce())
			t.log.Debug().Stringer("event", ev).Int("peers", len(resp.Peers)).Dur("interval", resp.Interval).Msg("announced")
			if resp.WarningMessage != "" {
				t.log.Warn().Str("warning", resp.WarningMessage).Msg("tracker warning")
			}
			t.post(ctx, peersFound{addrs: resp.Peers, src: srcTracker})
			event = tracker.EventNone
			if ev == tracker.EventCompleted {
				completedOwed = false
			} else if completedOwed {
				continue // started has gone through: completed at once
			}
		case ctx.Err() != nil:
		case errors.Is(err, tracker.ErrTooSoon):
		default:
			// The status line gets one short line; the log the whole error.
			msg := "not answering"
			if fe := (*tracker.FailureError)(nil); errors.As(err, &fe) {
				msg = "refused: " + strings.Join(strings.Fields(fe.Reason), " ")
				t.log.Warn().Err(err).Msg("tracker refused the announce; trading with the peers we have")
			} else {
				t.log.Warn().Err(err).Msg("tracker unreachable; trading with the peers we have")
			}
			t.trackerErr.Store(&msg)
			t.noteAnnounce(resp, errors.New(msg), a.NextAnnounce())
		}
		wait := time.Until(a.NextAnnounce())
		if st := t.Stats(); !st.Complete && st.Peers < fewPeers {
			// Short of peers: ask again soon. The announcer refuses
			// (ErrTooSoon) until the tracker's min interval has passed.
			wait = min(wait, shortOfPeersRetry)
			if st.State == StateMetadata && st.Peers == 0 {
				// No peer to ask for the info dict: sooner still, as a
				// seed that announced just after us is named only now.
				wait, retry = min(wait, retry), min(2*retry, shortOfPeersRetry)
			}
		}
		timer := time.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			timer.Stop()
			t.announceLast(ctx, a, completedOwed || t.completedQueued(), lastDeadline)
			return
		case ev := <-t.announce:
			timer.Stop()
			if ev == announceCompleted {
				completedOwed = true
			}
		case <-timer.C:
		}
	}
}

// completedQueued reports whether the loop has queued "completed" for the
// announcer (the download completed as the session was stopping).
func (t *Torrent) completedQueued() bool {
	for {
		select {
		case ev := <-t.announce:
			if ev == announceCompleted {
				return true
			}
		default:
			return false
		}
	}
}

// announceLast tells the trackers we completed, if they have not heard it,
// and that we are leaving, by deadline (zero: lastAnnounceTimeout from now;
// a "completed" that ran into the shutdown has used part of it already).
// ctx is the torrent's, done already: only its values are kept.
func (t *Torrent) announceLast(ctx context.Context, a *tracker.Announcer, completed bool, deadline time.Time) {
	if deadline.IsZero() {
		deadline = time.Now().Add(lastAnnounceTimeout)
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if completed {
		if _, err := a.Announce(ctx, t.announceRequest(tracker.EventCompleted)); err != nil {
			t.log.Debug().Err(err).Msg("announce completed at shutdown")
		} else {
			t.log.Debug().Msg("announced completed at shutdown")
		}
	}
	if _, err := a.Announce(ctx, t.announceRequest(tracker.EventStopped)); err != nil {
		t.log.Debug().Err(err).Msg("announce stopped")
	}
}

func (t *Torrent) announceRequest(ev tracker.Event) tracker.AnnounceRequest {
	st := t.Stats()
	port := 0
	if a, ok := t.sess.listener.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	left := st.Left
	if st.State == StateMetadata || st.State == StateChecking {
		left = magnetLeft // not 0: the tracker would take us for a seed
	}
	return tracker.AnnounceRequest{
		InfoHash:   t.infoHash,
		PeerID:     t.sess.peerID,
		Port:       uint16(port),
		Uploaded:   st.Uploaded,
		Downloaded: st.Downloaded,
		Left:       left,
		Event:      ev,
		NumWant:    50,
		Key:        t.sess.key,
		Compact:    true,
	}
}
