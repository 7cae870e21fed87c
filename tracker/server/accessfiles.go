package server

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

// AccessFiles names the files of the allow and the deny list ("" for
// none), which a tracker reads at start and again on SIGHUP, as
// opentracker does.
type AccessFiles struct {
	Allow, Deny string
}

// Load reads both files (ParseHashList); a list without a file is nil.
// Errors name the list as swarm tracker's flags do (--allow, --deny).
func (f AccessFiles) Load() (allow, deny *HashList, err error) {
	read := func(flag, path string) (*HashList, error) {
		if path == "" {
			return nil, nil
		}
		fh, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		defer fh.Close()
		l, err := ParseHashList(fh)
		if err != nil {
			return nil, fmt.Errorf("--%s %s: %w", flag, path, err)
		}
		return l, nil
	}
	if allow, err = read("allow", f.Allow); err != nil {
		return nil, nil, err
	}
	if deny, err = read("deny", f.Deny); err != nil {
		return nil, nil, err
	}
	return allow, deny, nil
}

// ReloadOnSIGHUP rereads the files into srv (SetAccess) on every SIGHUP
// until ctx is done, logging the outcome; a file that fails to read leaves
// the lists as they were. The returned func stops it and waits. Without
// files, SIGHUP keeps its default action.
func (f AccessFiles) ReloadOnSIGHUP(ctx context.Context, srv *Server, log *zerolog.Logger) (stop func()) {
	if f.Allow == "" && f.Deny == "" {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			allow, deny, err := f.Load()
			if err != nil {
				log.Error().Err(err).Msg("SIGHUP: info hash lists not reloaded, the old ones stay")
				continue
			}
			dropped := srv.SetAccess(allow, deny)
			log.Info().Int("allowed", allow.Len()).Int("denied", deny.Len()).Int("swarms_dropped", dropped).
				Msg("SIGHUP: info hash lists reloaded")
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
