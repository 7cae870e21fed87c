// Package atomicfile replaces files whole: the data goes to a temporary
// file beside the target, which is renamed over it, so that a crash leaves
// the old contents or the new, never half of them. A crash can leave the
// temporary file itself; Clean removes those from a folder swarm owns.
// It holds no state; calls for different paths may run at once.
package atomicfile
