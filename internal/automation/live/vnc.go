package live

import (
	"context"
	"errors"
	"fmt"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/vnc"
)

// DialVNC returns a dialer that connects to addr ("host:port") and waits
// for the first complete picture before handing out the session.
func DialVNC(addr string, opts vnc.Options) automation.Dialer {
	return func(ctx context.Context) (automation.Session, error) {
		c, err := vnc.Dial(ctx, addr, opts)
		if err != nil {
			return nil, err // vnc.Dial names the address
		}
		if _, err := c.WaitFullFrame(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("vnc %s: first frame: %w", addr, screenErr(err))
		}
		return &vncSession{c: c}, nil
	}
}

type vncSession struct{ c *vnc.Client }

// screenErr marks a dropped connection so the runner re-dials.
func screenErr(err error) error {
	if err != nil && (errors.Is(err, vnc.ErrDisconnected) || errors.Is(err, vnc.ErrClosed)) {
		return fmt.Errorf("%w: %w", automation.ErrScreenLost, err)
	}
	return err
}

func (s *vncSession) Frame(ctx context.Context) (automation.Frame, error) {
	select {
	case <-s.c.Done():
		return automation.Frame{}, screenErr(s.c.Err())
	default:
	}
	img, seq := s.c.SnapshotSeq()
	return automation.Frame{Image: img, Seq: seq}, nil
}

func (s *vncSession) WaitChange(ctx context.Context, seq uint64) error {
	_, err := s.c.WaitUpdate(ctx, seq)
	return screenErr(err)
}

func (s *vncSession) KeyEvent(ctx context.Context, keysym uint32, down bool) error {
	return screenErr(s.c.KeyEvent(ctx, keysym, down))
}

func (s *vncSession) PointerEvent(ctx context.Context, x, y int, b automation.Button) error {
	return screenErr(s.c.PointerEvent(ctx, x, y, uint8(b)))
}

func (s *vncSession) Close() error { return s.c.Close() }
