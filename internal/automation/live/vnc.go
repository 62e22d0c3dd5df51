package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deskvm/deskvm/internal/automation"
	"github.com/deskvm/deskvm/internal/keysym"
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

type vncSession struct {
	c *vnc.Client
	// input is set once a key or pointer event was sent: Close then makes
	// sure the server has read it.
	input bool
}

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

func (s *vncSession) KeyEvent(ctx context.Context, k keysym.Keysym, down bool) error {
	s.input = true
	return screenErr(s.c.KeyEvent(ctx, k, down))
}

func (s *vncSession) PointerEvent(ctx context.Context, x, y int, b automation.Button) error {
	s.input = true
	return screenErr(s.c.PointerEvent(ctx, x, y, uint8(b)))
}

// Close hangs up once the server has read everything sent. QEMU drops a
// client as soon as it sees the hang-up, without reading what is still in
// the socket, so a run whose last step was a key press would lose it
// (measured: the Enter ending a typed line never arrived). The server
// reads messages in order and answers a full-screen request even when
// nothing changed; of two updates that arrive after two such requests,
// at most one can be an answer already on its way before, so the other
// answers a request read after the input.
func (s *vncSession) Close() error {
	if s.input {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		seq, _ := s.c.WaitUpdate(ctx, 0)
		for i := 0; i < 2; i++ {
			var err error
			if err = s.c.RequestUpdate(ctx, false); err == nil {
				seq, err = s.c.WaitUpdate(ctx, seq)
			}
			if err != nil {
				break
			}
		}
		cancel()
	}
	return s.c.Close()
}
