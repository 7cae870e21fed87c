// Package humanize reads and writes sizes, rates and durations the way
// people type and read them ("256KiB", "1.5 GiB", "4m51s"), for every front
// end of swarm: the command line's progress and tables, the daemon's client.
// It holds no state.
package humanize
