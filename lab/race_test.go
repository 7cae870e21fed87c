//go:build race

package lab

// raceEnabled: the race detector slows every peer several times over, so a
// swarm of twenty is bound by CPU rather than by its rate limits.
const raceEnabled = true
