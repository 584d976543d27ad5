package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/redisstore"
)

// openStore returns the store the configuration names, whether other
// otpgate processes can share it (a store in this process's memory cannot
// be), and what closes it.
type openStore func(cfg Config, now func() time.Time) (store auth.Store, shared bool, closeStore func(), err error)

// openConfiguredStore opens the store OTPGATE_STORE names, as serving
// would: Redis is shared, memory is not.
func openConfiguredStore(cfg Config, now func() time.Time) (auth.Store, bool, func(), error) {
	if !cfg.Store.UseRedis() {
		return auth.NewMemoryStore(now), false, func() {}, nil
	}
	opts, problems := cfg.Store.Validate(envPrefix + "_")
	if err := errors.Join(problems...); err != nil {
		return nil, false, nil, err
	}
	s, err := redisstore.New(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		s.Close()
		return nil, false, nil, fmt.Errorf("redis: %w", err)
	}
	return s, true, s.Close, nil
}

const sessionsUsage = "usage: otpgate sessions revoke USER"

// sessionsCommand runs `otpgate sessions revoke USER`: it ends every
// session of USER (the name apps receive; letter case does not matter)
// through the store the configuration names, the one the running
// otpgates share, so that they refuse those sessions within a second.
func sessionsCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer, open openStore, now func() time.Time) int {
	if len(args) != 2 || args[0] != "revoke" || strings.TrimSpace(args[1]) == "" {
		fmt.Fprintln(stderr, "otpgate sessions: "+sessionsUsage)
		return exitConfig
	}
	user := strings.TrimSpace(args[1])
	cfg, err := loadConfig(environ)
	if err == nil && cfg.Auth.Session.Lifetime <= 0 {
		err = problem("SESSION_LIFETIME", "must be positive, like 12h")
	}
	if err != nil {
		fmt.Fprintf(stderr, "otpgate: configuration is not valid:\n%s\n", indent(err))
		return exitConfig
	}
	store, shared, closeStore, err := open(cfg, now)
	if err != nil {
		fmt.Fprintf(stderr, "otpgate sessions revoke: %v\n", err)
		return exitFailed
	}
	defer closeStore()
	if !shared {
		fmt.Fprintf(stderr, "otpgate sessions revoke: otpgate keeps sessions' state in the memory of each running otpgate "+
			"(no shared store is configured), which this command cannot reach, so nothing was revoked.\n"+
			"To end %s's sessions: disable them in the directory (sessions end within OTPGATE_SESSION_REFRESH), "+
			"or have them use \"Sign out everywhere\" on the sign-out page; "+
			"or change OTPGATE_COOKIE_SECRET and restart, which ends every user's sessions.\n", user)
		return exitFailed
	}
	if err := revokeSessions(ctx, store, user, now(), cfg.Auth.Session.Lifetime); err != nil {
		fmt.Fprintf(stderr, "otpgate sessions revoke: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "Every session of %s begun by now is refused by every otpgate sharing the store within a second.\n", user)
	return exitOK
}

// revokeSessions ends every session of user signed in by now.
func revokeSessions(ctx context.Context, store auth.Store, user string, now time.Time, lifetime time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := auth.SignOutEverywhere(ctx, store, user, now, lifetime); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("the store did not answer in 10s: %w", err)
		}
		return err
	}
	return nil
}
