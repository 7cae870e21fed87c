package interop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"swarm/internal/pgtest"
	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
)

// The private tracker under load: loadClients simulated clients, one per
// user per torrent, announce over HTTP as often as the tracker lets them,
// each keeping a ledger of the counters the tracker acknowledged.
const (
	loadUsers    = 50
	loadTorrents = 4
	loadClients  = loadUsers * loadTorrents
	// loadMinInterval is the tracker's min interval. Each client waits
	// 0.6 to 1.4 times it between announces, so about a third of its
	// announces come too soon and are refused: the next one carries their
	// bytes, as counters are cumulative.
	loadMinInterval = 100 * time.Millisecond
	// loadUserRate and loadUserBurst are the per-passkey limit: a user's
	// four clients announce about 10 times a second each, a little more
	// than it allows, so some announces are refused for the rate too.
	loadUserRate  = 30
	loadUserBurst = 10
	// flushMargin is how old an acknowledgment must be to be in the
	// database after SIGKILL: the 1 s flush interval and half a second for
	// the flush's transaction on a loaded machine.
	flushMargin = 1500 * time.Millisecond
	// loadMaxAnnounces bounds each client's loop; at one announce per
	// min interval a client makes about 200 in the test.
	loadMaxAnnounces = 2000
)

// TestPrivateTrackerSIGKILLUnderLoad: swarm tracker --private serves 200
// clients of 50 users on 4 registered torrents, announcing with growing
// counters as fast as the min interval and the per-passkey rate allow, and
// is SIGKILLed in the middle. The database then holds, for every user, at
// least what the tracker acknowledged more than flushMargin before the
// kill and at most what the clients had sent (nothing invented or counted
// twice). The tracker restarts on the same database while the clients
// carry on with their counters, and after they stop and the tracker is
// interrupted every user's totals, and every user's totals per torrent,
// are exactly the clients' final counters: the bytes the kill lost from
// the totals came back with the next announces.
//
// Reliability issue: "The private tracker is SIGKILLed under load: restart
// loses at most the last flush interval of accounting and nothing else."
func TestPrivateTrackerSIGKILLUnderLoad(t *testing.T) {
	dir := t.TempDir()
	sigkillUnderLoad(t, dir, filepath.Join(dir, "tracker.db"))
}

// TestPrivateTrackerSIGKILLUnderLoadPostgres is the same with the
// accounting in PostgreSQL (--db postgres://…, a throwaway cluster of
// Debian's postgresql): the same loss bound, the last flush interval.
func TestPrivateTrackerSIGKILLUnderLoadPostgres(t *testing.T) {
	sigkillUnderLoad(t, t.TempDir(), pgtest.Start(t).NewDB(t))
}

// sigkillUnderLoad runs the test on the database dbPath (a file or a
// PostgreSQL URL), with the tracker's output in dir.
func sigkillUnderLoad(t *testing.T, dir, dbPath string) {
	names, passkeys, hashes := setupLoadDB(t, dbPath)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := []string{"tracker", "--private", "--db", dbPath, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		// A long interval: no session is swept while its client waits for
		// the restart. The min interval and the rate are what limit the load.
		"--interval", "30s", "--min-interval", loadMinInterval.String(),
		"--user-rate", strconv.Itoa(loadUserRate), "--user-burst", strconv.Itoa(loadUserBurst)}
	startTr := func(name string) *proc {
		p := start(t, dir, name, swarmBin, args...)
		if got := p.waitFor(t, privateURLRe, 10*time.Second)[1]; got != base {
			t.Fatalf("%s listening on %s, want %s", name, got, base)
		}
		return p
	}
	tr := startTr("swarm tracker --private")

	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		MaxIdleConns: loadClients, MaxIdleConnsPerHost: loadClients, IdleConnTimeout: 30 * time.Second}}
	defer hc.CloseIdleConnections()
	clients := make([]*loadClient, loadClients)
	for i := range clients {
		u, h := i/loadTorrents, i%loadTorrents
		c := &loadClient{user: names[u], hash: h, url: base + "/" + passkeys[u] + "/announce",
			rng: rand.New(rand.NewPCG(uint64(i), 7))}
		c.req = tracker.AnnounceRequest{InfoHash: hashes[h], Port: uint16(10000 + i), Left: 1 << 40, NumWant: 1, Compact: true}
		copy(c.req.PeerID[:], fmt.Sprintf("-SW0001-%012d", i))
		clients[i] = c
	}
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	loadStart := time.Now()
	for _, c := range clients {
		wg.Go(func() { c.run(loadCtx, hc) })
	}
	// Clients keep announcing (and failing) until stopLoad, then say
	// "stopped"; wait for them whatever happens to the test.
	defer func() {
		stopLoad()
		wg.Wait()
	}()

	// Once every client is announcing, the load goes on for 2.5 to 3.5 s,
	// so that the kill falls anywhere in a flush interval and well after
	// flushMargin.
	waitAllAcked(t, clients, time.Time{}, 2, 20*time.Second)
	loadUp := time.Since(loadStart)
	sleepCtx(t.Context(), 2500*time.Millisecond+rand.N(time.Second))
	kill := time.Now()
	if err := tr.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	tr.wait(t, 10*time.Second)
	// Nothing sent from now on can be counted: the ledgers as of now.
	ledgers := make([]loadLedger, len(clients))
	for i, c := range clients {
		ledgers[i] = c.ledger()
	}
	stored := listTotals(t, dbPath)
	fig := checkAfterKill(t, names, clients, ledgers, stored, kill)
	accepted, tooSoon, limited, lastSecond := 0, 0, 0, 0
	for _, l := range ledgers {
		accepted += l.acksBefore(kill)
		lastSecond += l.acksBefore(kill) - l.acksBefore(kill.Add(-time.Second))
		tooSoon += l.tooSoon
		limited += l.limited
	}
	secs := kill.Sub(loadStart).Seconds()
	t.Logf("load: %d clients of %d users on %d torrents, all announcing %v after the start, killed %.2f s after it: %d announces acknowledged (%.0f/s), %d refused as too soon, %d for the rate (%.0f/s in all)",
		loadClients, loadUsers, loadTorrents, loadUp.Round(time.Millisecond), secs, accepted, float64(accepted)/secs, tooSoon, limited, float64(accepted+tooSoon+limited)/secs)
	t.Logf("SIGKILL: %d announces acknowledged in the second before it; %d bytes acknowledged, %d in the database, %d acknowledged but not stored (%s), %d stored beyond the acknowledgments (announces in flight at the kill); lower bound (acknowledged %v before the kill) %d bytes",
		lastSecond, fig.acked, fig.stored, fig.lost, fig.oldestLost(), fig.inFlight, flushMargin, fig.lower)

	// The tracker stays down for a second; the clients' announces fail
	// and they keep counting, as real clients moving data would.
	sleepCtx(t.Context(), time.Second-time.Since(kill))
	restart := time.Now()
	tr = startTr("swarm tracker --private (restarted)")
	listening := time.Since(restart)
	if m := regexp.MustCompile(`"sessions":(\d+)`).FindStringSubmatch(tr.output()); m == nil || m[1] != strconv.Itoa(loadClients) {
		t.Errorf("restarted tracker loaded sessions %v, want %d (every client's, from the journal)", m, loadClients)
	}
	// Every client is acknowledged again, then the load goes on a little.
	waitAllAcked(t, clients, restart, 1, 20*time.Second)
	back := time.Since(restart)
	sleepCtx(t.Context(), 2*time.Second)
	stopLoad()
	wg.Wait()
	if err := tr.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := tr.wait(t, 15*time.Second); err != nil {
		t.Fatalf("tracker after SIGINT: %v", err)
	}

	// Every user's totals, and per torrent, are the clients' last counters.
	final := listTotals(t, dbPath)
	want := map[string]private.Totals{}
	perTorrent := map[string][loadTorrents]private.Totals{}
	var total int64
	for _, c := range clients {
		l := c.ledger()
		if l.unexpected != "" {
			t.Errorf("client of %s on torrent %d got %q", c.user, c.hash, l.unexpected)
		}
		if !l.stopped {
			t.Errorf("client of %s on torrent %d: its \"stopped\" was never acknowledged", c.user, c.hash)
		}
		w := want[c.user]
		w.Uploaded += l.sentUp
		w.Downloaded += l.sentDown
		want[c.user] = w
		pt := perTorrent[c.user]
		pt[c.hash] = private.Totals{Uploaded: l.sentUp, Downloaded: l.sentDown}
		perTorrent[c.user] = pt
		total += l.sentUp + l.sentDown
	}
	for _, name := range names {
		if got := final[name]; got != want[name] {
			t.Errorf("%s: after the restart and SIGINT the database has %+v, want %+v (the clients' last counters)", name, got, want[name])
		}
	}
	checkPerTorrent(t, dbPath, hashes, perTorrent)
	errs, lastErr := 0, ""
	for _, c := range clients {
		l := c.ledger()
		errs += l.errs
		if l.lastErr != "" {
			lastErr = l.lastErr
		}
	}
	t.Logf("restart: listening %v after it, every client acknowledged again %v after it (%d announces failed while it was down or as the clients stopped, e.g. %q); after stopping, the database has exactly the clients' %d bytes",
		listening.Round(time.Millisecond), back.Round(time.Millisecond), errs, lastErr, total)
}

// setupLoadDB creates the database with loadUsers users and loadTorrents
// registered torrents, and returns the users' names and passkeys and the
// torrents' info hashes.
func setupLoadDB(t *testing.T, path string) (names, passkeys []string, hashes []metainfo.Hash) {
	t.Helper()
	ctx := t.Context()
	db, err := private.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range loadUsers {
		u, err := db.AddUser(ctx, fmt.Sprintf("user%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		names, passkeys = append(names, u.Name), append(passkeys, u.Passkey.String())
	}
	for i := range loadTorrents {
		var h metainfo.Hash
		copy(h[:], fmt.Sprintf("load torrent %d......", i))
		if err := db.AddTorrent(ctx, private.Torrent{InfoHash: h, Name: fmt.Sprintf("load-%d", i), Size: 1 << 40}); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	return names, passkeys, hashes
}

// listTotals reads every user's totals with `swarm tracker user list
// --json`, as an operator would.
func listTotals(t *testing.T, db string) map[string]private.Totals {
	t.Helper()
	var users []struct {
		Name string `json:"name"`
		userTotals
	}
	out := run(t, swarmBin, "tracker", "user", "list", "--json", "--db", db)
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("user list --json: %v\n%s", err, out)
	}
	m := map[string]private.Totals{}
	for _, u := range users {
		m[u.Name] = private.Totals{Uploaded: u.Uploaded, Downloaded: u.Downloaded, Snatches: u.Snatches, SeedSeconds: u.SeedSeconds}
	}
	return m
}

// checkPerTorrent compares the users' per-torrent totals, which the
// tracker folds in when it stops, with the clients' last counters.
func checkPerTorrent(t *testing.T, path string, hashes []metainfo.Hash, want map[string][loadTorrents]private.Totals) {
	t.Helper()
	db, err := private.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	users, err := db.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		per, err := db.UserTorrents(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got [loadTorrents]private.Totals
		for _, tt := range per {
			i := slices.Index(hashes, tt.InfoHash)
			if i < 0 {
				t.Fatalf("%s has totals on torrent %s, which no client announced", u.Name, tt.InfoHash)
			}
			got[i] = tt.Totals
		}
		if got != want[u.Name] {
			t.Errorf("%s per torrent: %+v, want %+v", u.Name, got, want[u.Name])
		}
	}
}

// killFigures is what the database holds after the SIGKILL against the
// clients' ledgers, in bytes uploaded plus downloaded.
type killFigures struct {
	acked, stored, lower int64
	lost, inFlight       int64
	oldest               time.Duration // age at the kill of the oldest acknowledgment not stored; -1 if none
}

func (f killFigures) oldestLost() string {
	if f.oldest < 0 {
		return "none lost"
	}
	return fmt.Sprintf("the oldest lost acknowledgment %v before the kill", f.oldest.Round(time.Millisecond))
}

// checkAfterKill checks each user's stored totals against their clients'
// ledgers: at least what was acknowledged flushMargin before the kill, at
// most what was sent.
func checkAfterKill(t *testing.T, names []string, clients []*loadClient, ledgers []loadLedger, stored map[string]private.Totals, kill time.Time) killFigures {
	t.Helper()
	f := killFigures{oldest: -1}
	for _, name := range names {
		var lower, acked, sent [2]int64 // up, down
		var acks [2][]ackStep
		for i, c := range clients {
			if c.user != name {
				continue
			}
			l := ledgers[i]
			lu, ld := l.ackedAt(kill.Add(-flushMargin))
			au, ad := l.ackedAt(time.Now())
			lower[0], lower[1] = lower[0]+lu, lower[1]+ld
			acked[0], acked[1] = acked[0]+au, acked[1]+ad
			sent[0], sent[1] = sent[0]+l.sentUp, sent[1]+l.sentDown
			up, down := l.steps()
			acks[0], acks[1] = append(acks[0], up...), append(acks[1], down...)
		}
		s := stored[name]
		got := [2]int64{s.Uploaded, s.Downloaded}
		for d, dir := range [2]string{"uploaded", "downloaded"} {
			if got[d] < lower[d] {
				t.Errorf("%s: %s %d in the database after SIGKILL, less than the %d acknowledged %v before it", name, dir, got[d], lower[d], flushMargin)
			}
			if got[d] > sent[d] {
				t.Errorf("%s: %s %d in the database after SIGKILL, more than the %d the clients had sent", name, dir, got[d], sent[d])
			}
			f.acked += acked[d]
			f.stored += got[d]
			f.lower += lower[d]
			f.lost += max(0, acked[d]-got[d])
			f.inFlight += max(0, got[d]-acked[d])
			if age, ok := oldestNotStored(acks[d], got[d], kill); ok && age > f.oldest {
				f.oldest = age
			}
		}
		if s.Snatches != 0 || s.SeedSeconds != 0 {
			t.Errorf("%s: %d snatches and %d s seeding, want none (every client leeches)", name, s.Snatches, s.SeedSeconds)
		}
	}
	return f
}

// ackStep is what one acknowledged announce added to a client's
// acknowledged counter.
type ackStep struct {
	at time.Time
	n  int64
}

// oldestNotStored merges the acknowledgments of a user's clients in time
// order and returns the age at kill of the first one that takes their sum
// above stored.
func oldestNotStored(steps []ackStep, stored int64, kill time.Time) (time.Duration, bool) {
	slices.SortFunc(steps, func(a, b ackStep) int { return a.at.Compare(b.at) })
	var sum int64
	for _, s := range steps {
		if sum += s.n; sum > stored {
			return kill.Sub(s.at), true
		}
	}
	return 0, false
}

// waitAllAcked waits until every client has had n announces acknowledged
// after since, at most timeout.
func waitAllAcked(t *testing.T, clients []*loadClient, since time.Time, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, c := range clients {
		for {
			c.mu.Lock()
			i, _ := slices.BinarySearchFunc(c.acks, since, afterTime)
			ok := len(c.acks)-i >= n
			c.mu.Unlock()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v the client of %s on torrent %d has fewer than %d announces acknowledged", timeout, c.user, c.hash, n)
			}
			sleepCtx(t.Context(), 20*time.Millisecond)
		}
	}
}

// afterTime orders acknowledgments against a time: those at or before it
// first.
func afterTime(a loadAck, t time.Time) int {
	if a.at.After(t) {
		return 1
	}
	return -1
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// loadClient is one simulated client: one user's session on one torrent.
// Its goroutine (run) announces; the test reads its ledger.
type loadClient struct {
	user string
	hash int // index of the torrent
	url  string
	req  tracker.AnnounceRequest
	rng  *rand.Rand // run's only

	mu         sync.Mutex // guards the fields below
	sentUp     int64      // counters of the last request sent
	sentDown   int64
	acks       []loadAck // every announce the tracker acknowledged, in order
	tooSoon    int       // announces refused for the min interval
	limited    int       // and for the per-passkey rate
	unexpected string    // a failure reason or HTTP status no announce should get
	errs       int       // announces that got no reply (the tracker down)
	lastErr    string    // the last one's error
	stopped    bool      // the "stopped" was acknowledged
}

type loadAck struct {
	at       time.Time // when the reply was read: the tracker counted it before
	up, down int64     // the counters acknowledged
}

// loadLedger is a copy of a client's ledger.
type loadLedger struct {
	sentUp, sentDown int64
	acks             []loadAck
	tooSoon, limited int
	unexpected       string
	errs             int
	lastErr          string
	stopped          bool
}

func (c *loadClient) ledger() loadLedger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return loadLedger{sentUp: c.sentUp, sentDown: c.sentDown, acks: slices.Clone(c.acks),
		tooSoon: c.tooSoon, limited: c.limited, unexpected: c.unexpected, errs: c.errs, lastErr: c.lastErr, stopped: c.stopped}
}

// ackedAt returns the counters last acknowledged at or before at.
func (l loadLedger) ackedAt(at time.Time) (up, down int64) {
	i, _ := slices.BinarySearchFunc(l.acks, at, afterTime)
	if i == 0 {
		return 0, 0
	}
	return l.acks[i-1].up, l.acks[i-1].down
}

// acksBefore counts the announces acknowledged before at.
func (l loadLedger) acksBefore(at time.Time) int {
	n := 0
	for _, a := range l.acks {
		if a.at.Before(at) {
			n++
		}
	}
	return n
}

// steps returns what each acknowledgment added, uploaded and downloaded.
func (l loadLedger) steps() (up, down []ackStep) {
	var pu, pd int64
	for _, a := range l.acks {
		up, down = append(up, ackStep{a.at, a.up - pu}), append(down, ackStep{a.at, a.down - pd})
		pu, pd = a.up, a.down
	}
	return up, down
}

// run announces "started", then regular announces with counters growing
// by up to 1 MiB each, until ctx is done; then "stopped" with its last
// counters until the tracker acknowledges it. A connection error (the
// tracker is down) waits 100 ms and carries on counting.
func (c *loadClient) run(ctx context.Context, hc *http.Client) {
	req := c.req
	req.Event = tracker.EventStarted
	for range loadMaxAnnounces {
		if ctx.Err() != nil {
			break
		}
		if req.Event != tracker.EventStarted {
			req.Uploaded += 16 << 10 * c.rng.Int64N(64)
			req.Downloaded += 16 << 10 * c.rng.Int64N(64)
		}
		reason, err := c.announce(ctx, hc, req)
		wait := time.Duration(float64(loadMinInterval) * (0.6 + 0.8*c.rng.Float64()))
		switch {
		case err != nil:
			wait = 100 * time.Millisecond
		case reason == "":
			req.Event = tracker.EventNone
		}
		sleepCtx(ctx, wait)
	}
	// Stop: bounded in tries and time, not by the load's ctx.
	req.Event = tracker.EventStopped
	for range 100 {
		reason, err := c.announce(context.Background(), hc, req)
		if err == nil && reason == "" {
			c.mu.Lock()
			c.stopped = true
			c.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// announce sends req and records the outcome in the ledger. It returns the
// failure reason ("" when acknowledged) or the transport error.
func (c *loadClient) announce(ctx context.Context, hc *http.Client, req tracker.AnnounceRequest) (string, error) {
	c.mu.Lock()
	c.sentUp, c.sentDown = max(c.sentUp, req.Uploaded), max(c.sentDown, req.Downloaded)
	c.mu.Unlock()
	reason, err := c.get(ctx, hc, req)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.errs++
		c.lastErr = err.Error()
		if ue, ok := errors.AsType[*url.Error](err); ok {
			c.lastErr = ue.Err.Error() // without the URL
		}
		if ctx.Err() == nil && !isDown(err) && c.unexpected == "" {
			c.unexpected = err.Error()
		}
	case reason == "":
		c.acks = append(c.acks, loadAck{at: time.Now(), up: req.Uploaded, down: req.Downloaded})
	case strings.Contains(reason, "min interval"):
		c.tooSoon++
	case strings.Contains(reason, "too many requests"):
		c.limited++
	case c.unexpected == "":
		c.unexpected = reason
	}
	return reason, err
}

// isDown reports whether err is what a client sees while the tracker is
// killed or restarting: a refused or reset connection, or a timeout.
func isDown(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe") || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(s, "Client.Timeout")
}

func (c *loadClient) get(ctx context.Context, hc *http.Client, req tracker.AnnounceRequest) (string, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"?"+req.Query(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP status %d: %q", resp.StatusCode, body)
	}
	_, err = tracker.ParseAnnounceResponse(body)
	if fe, ok := errors.AsType[*tracker.FailureError](err); ok {
		return fe.Reason, nil
	}
	return "", err
}
