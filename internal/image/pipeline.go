package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Step is one named part of a build. Steps share the builder's typed
// state (a *linuxBuild, say) through their closures.
type Step struct {
	Name string
	Run  func(ctx context.Context) error
}

// StepTime is how long a step took, as the manifest records it.
type StepTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Progress hears about steps as they run; the CLI prints them. Nil is quiet.
type Progress interface {
	StepStarted(n, of int, name string)
	StepDone(n, of int, name string, took time.Duration, err error)
	// Note is a line of user-facing information (the serial log's path,
	// "cache hit", …).
	Note(format string, args ...any)
}

// Cleanups is the cleanup stack of a build: what a step set up (a QEMU
// process, a temporary file) is pushed, and Run undoes it in reverse
// order, on success, failure, timeout and cancellation alike.
type Cleanups struct {
	entries []cleanup
}

type cleanup struct {
	name string
	fn   func(ctx context.Context) error
}

// Push adds an undo action.
func (c *Cleanups) Push(name string, fn func(ctx context.Context) error) {
	c.entries = append(c.entries, cleanup{name, fn})
}

// Run runs every action, last pushed first, each once, and reports the
// failures together. It runs on a context of its own: the build's may be
// cancelled already (Ctrl-C), and cleaning up must still happen.
func (c *Cleanups) Run(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(c.entries) - 1; i >= 0; i-- {
		e := c.entries[i]
		if err := e.fn(ctx); err != nil {
			log.Warn("cleanup failed", "what", e.name, "err", err)
			errs = append(errs, fmt.Errorf("cleanup %s: %w", e.name, err))
		} else {
			log.Debug("cleaned up", "what", e.name)
		}
	}
	c.entries = nil
	return errors.Join(errs...)
}

// runSteps runs steps in order and stops at the first error, which names
// the step ("step 4/11 (wait for ssh): …").
// Times are appended to *times as each step ends, so a late step (the one
// that writes the manifest) sees those before it.
func runSteps(ctx context.Context, steps []Step, times *[]StepTime, p Progress, log *slog.Logger) error {
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("step %d/%d (%s): %w", i+1, len(steps), s.Name, context.Cause(ctx))
		}
		if p != nil {
			p.StepStarted(i+1, len(steps), s.Name)
		}
		start := time.Now()
		err := s.Run(ctx)
		took := time.Since(start)
		*times = append(*times, StepTime{Name: s.Name, Seconds: roundSeconds(took)})
		log.Info("step", "n", i+1, "of", len(steps), "name", s.Name, "seconds", roundSeconds(took), "err", err)
		if p != nil {
			p.StepDone(i+1, len(steps), s.Name, took, err)
		}
		if err != nil {
			if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
			}
			return fmt.Errorf("step %d/%d (%s): %w", i+1, len(steps), s.Name, err)
		}
	}
	return nil
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond)) / float64(time.Second)
}
