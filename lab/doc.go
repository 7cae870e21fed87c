// Package lab runs a whole swarm in one process on loopback (a tracker, a
// seed and N leechers, each with its own session, rate limits and, on
// Linux, address) and
// measures its distribution time against the theoretical bound. It is the
// engine behind `swarm lab` and `swarm demo`; like cmd, it sits above
// session. Run blocks until the experiment ends and owns every goroutine it
// starts.
package lab
