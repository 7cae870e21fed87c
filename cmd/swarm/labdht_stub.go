package main

import "context"

// runLabDHT is a placeholder until the dht lab lands (issue 9).
func runLabDHT(ctx context.Context, e *env, args []string) error {
	return usagef("swarm lab dht is not built yet")
}
