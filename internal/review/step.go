package review

import (
	"time"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/store"
)

// Reporter receives a step's progress and warnings; cli implements it on
// stderr (honouring --quiet, --json and whether stderr is a terminal).
type Reporter interface {
	// Infof is a status line ("snapshot 3 of 2026-Q4: ...").
	Infof(format string, args ...any)
	// Warnf is something the user should read even with --quiet.
	Warnf(format string, args ...any)
	// Progress redraws one transient status line; ProgressDone clears it.
	Progress(format string, args ...any)
	ProgressDone()
}

// Step is what every command's work needs: the open store and the ledger
// of the run it is recorded as, the review it works on and the run's one
// clock reading. cli builds it (withRun) after recording the run.
type Step struct {
	Store  *store.Store
	Ledger *evidence.Ledger
	Run    store.Run
	Review string
	// Now is the run's single clock reading: every time a step derives
	// (snapshot taken_at, score as_of, a deadline) comes from it.
	Now time.Time
	// Clock reads the time again, for steps whose record is a sequence of
	// events (a revocation's removal and its proof); nil means Now.
	Clock func() time.Time
	Out   Reporter
	// Scrub removes every secret from text that is about to be recorded
	// (an upstream error quoted in evidence); nil leaves text as it is.
	Scrub func(string) string
}

// now reads Clock, or returns Now.
func (s *Step) now() time.Time {
	if s.Clock == nil {
		return s.Now
	}
	return s.Clock().UTC()
}

// scrub applies s.Scrub.
func (s *Step) scrub(text string) string {
	if s.Scrub == nil {
		return text
	}
	return s.Scrub(text)
}

// Discard is a Reporter that prints nothing (tests, benchmarks).
var Discard Reporter = discard{}

type discard struct{}

func (discard) Infof(string, ...any)    {}
func (discard) Warnf(string, ...any)    {}
func (discard) Progress(string, ...any) {}
func (discard) ProgressDone()           {}
