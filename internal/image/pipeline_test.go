package image

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type recordingProgress struct{ events []string }

func (r *recordingProgress) StepStarted(n, of int, name string) {
	r.events = append(r.events, "start "+name)
}
func (r *recordingProgress) StepDone(n, of int, name string, took time.Duration, err error) {
	r.events = append(r.events, "done "+name)
}
func (r *recordingProgress) Note(string, ...any) {}

func TestStepsStopAtErrorAndCleanupsRunInReverse(t *testing.T) {
	var order []string
	var c Cleanups
	steps := []Step{
		{"one", func(context.Context) error {
			c.Push("a", func(context.Context) error { order = append(order, "undo a"); return nil })
			return nil
		}},
		{"two", func(context.Context) error {
			c.Push("b", func(context.Context) error { order = append(order, "undo b"); return errors.New("b stuck") })
			return errors.New("boom")
		}},
		{"three", func(context.Context) error { t.Fatal("step after a failure ran"); return nil }},
	}
	var times []StepTime
	p := &recordingProgress{}
	err := runSteps(context.Background(), steps, &times, p, slog.New(slog.DiscardHandler))
	if err == nil || err.Error() != "step 2/3 (two): boom" {
		t.Fatalf("error = %v", err)
	}
	if len(times) != 2 || times[0].Name != "one" || times[1].Name != "two" {
		t.Errorf("times = %+v", times)
	}
	cerr := c.Run(slog.New(slog.DiscardHandler))
	if strings.Join(order, ",") != "undo b,undo a" {
		t.Errorf("cleanup order = %v", order)
	}
	if cerr == nil || !strings.Contains(cerr.Error(), "cleanup b: b stuck") {
		t.Errorf("cleanup error = %v", cerr)
	}
	if c.Run(slog.New(slog.DiscardHandler)) != nil || len(order) != 2 {
		t.Error("cleanups ran twice")
	}
	if strings.Join(p.events, ",") != "start one,done one,start two,done two" {
		t.Errorf("progress = %v", p.events)
	}
}

func TestCancelledContextNamesTheStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	steps := []Step{
		{"wait", func(ctx context.Context) error { cancel(); <-ctx.Done(); return ctx.Err() }},
		{"never", func(context.Context) error { t.Fatal("ran after cancel"); return nil }},
	}
	var times []StepTime
	err := runSteps(ctx, steps, &times, nil, slog.New(slog.DiscardHandler))
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "step 1/2 (wait):") {
		t.Fatalf("error = %v", err)
	}
}
