package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// ErrQMPClosed is returned by calls on a QMP connection that has ended
// (QEMU exited or Close was called).
var ErrQMPClosed = errors.New("qmp connection closed")

// QMPError is an error QEMU answered a command with.
type QMPError struct {
	Command string
	Class   string
	Desc    string
}

func (e *QMPError) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// Event is an asynchronous QMP event such as SHUTDOWN or RESET.
type Event struct {
	Name string
	Data json.RawMessage
	Time time.Time
}

// QMPClient is a small QMP client: commands are matched to their answers
// by id, events are delivered on Events.
type QMPClient struct {
	conn   net.Conn
	events chan Event
	done   chan struct{} // closed when the reader ends
	err    error         // why the reader ended, set before done closes

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int
	waiting map[string]chan qmpReply
}

type qmpReply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

type qmpMessage struct {
	qmpReply
	ID        json.RawMessage `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Greeting  json.RawMessage `json:"QMP"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

// DialQMP connects to QEMU's QMP socket, reads the greeting and leaves
// capability negotiation mode. It waits for the socket to accept while
// ctx allows (Start creates it before QEMU runs).
func DialQMP(ctx context.Context, path string) (*QMPClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("qmp connect %s: %w", path, err)
	}
	c := &QMPClient{conn: conn, events: make(chan Event, 64), done: make(chan struct{}), waiting: map[string]chan qmpReply{}}
	greeting := make(chan error, 1)
	go c.read(greeting)
	select {
	case err := <-greeting:
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("qmp greeting on %s: %w", path, err)
		}
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("qmp greeting on %s: %w", path, ctx.Err())
	}
	if _, err := c.Execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *QMPClient) read(greeting chan<- error) {
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	greeted := false
	var err error
	for sc.Scan() {
		var m qmpMessage
		if err = json.Unmarshal(sc.Bytes(), &m); err != nil {
			err = fmt.Errorf("qmp: bad message %q: %w", truncate(sc.Text(), 200), err)
			break
		}
		switch {
		case m.Greeting != nil:
			if !greeted {
				greeted = true
				greeting <- nil
			}
		case m.Event != "":
			ev := Event{Name: m.Event, Data: m.Data}
			if m.Timestamp != nil {
				ev.Time = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
			}
			select {
			case c.events <- ev:
			default: // nobody listens; events are advisory
			}
		case m.ID != nil:
			c.mu.Lock()
			ch := c.waiting[string(m.ID)]
			delete(c.waiting, string(m.ID))
			c.mu.Unlock()
			if ch != nil {
				ch <- m.qmpReply
			}
		}
	}
	if err == nil {
		err = sc.Err()
	}
	if err == nil {
		err = ErrQMPClosed
	}
	if !greeted {
		greeting <- err
	}
	c.err = err
	close(c.done)
	close(c.events)
}

// Events delivers QMP events until the connection ends. Events that
// arrive while nobody reads are dropped beyond a buffer of 64.
func (c *QMPClient) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended.
func (c *QMPClient) Done() <-chan struct{} { return c.done }

// Execute runs one command and returns its "return" value.
func (c *QMPClient) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	c.mu.Lock()
	c.nextID++
	id := strconv.Quote("deskvm-" + strconv.Itoa(c.nextID))
	ch := make(chan qmpReply, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	msg := map[string]any{"execute": command, "id": json.RawMessage(id)}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	c.writeMu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetWriteDeadline(dl)
	}
	_, err = c.conn.Write(append(b, '\n'))
	c.conn.SetWriteDeadline(time.Time{})
	c.writeMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return nil, &QMPError{Command: command, Class: r.Error.Class, Desc: r.Error.Desc}
		}
		return r.Return, nil
	case <-c.done:
		return nil, fmt.Errorf("qmp %s: %w", command, c.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("qmp %s: %w", command, ctx.Err())
	}
}

// Close ends the connection.
func (c *QMPClient) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// Status is the VM's run state ("running", "paused", "shutdown", …).
func (c *QMPClient) Status(ctx context.Context) (string, error) {
	raw, err := c.Execute(ctx, "query-status", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return "", fmt.Errorf("qmp query-status: %w", err)
	}
	return st.Status, nil
}

// Powerdown presses the ACPI power button (system_powerdown).
func (c *QMPClient) Powerdown(ctx context.Context) error {
	_, err := c.Execute(ctx, "system_powerdown", nil)
	return err
}

// Quit stops QEMU at once, like pulling the plug. QEMU may hang up before
// it answers; that counts as done.
func (c *QMPClient) Quit(ctx context.Context) error {
	_, err := c.Execute(ctx, "quit", nil)
	if errors.Is(err, ErrQMPClosed) {
		return nil
	}
	return err
}

// SendKey presses the keys together (a chord such as ["ctrl", "alt",
// "delete"] or a single ["ret"]) and releases them after hold (QEMU's
// default 100 ms when zero). Keys are QEMU "qcode" names.
func (c *QMPClient) SendKey(ctx context.Context, keys []string, hold time.Duration) error {
	if len(keys) == 0 {
		return errors.New("qmp send-key: no keys")
	}
	type keyValue struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	args := struct {
		Keys     []keyValue `json:"keys"`
		HoldTime int        `json:"hold-time,omitempty"`
	}{HoldTime: int(hold / time.Millisecond)}
	for _, k := range keys {
		args.Keys = append(args.Keys, keyValue{Type: "qcode", Data: k})
	}
	_, err := c.Execute(ctx, "send-key", args)
	return err
}

// SetVNCPassword sets the display's password, so it never appears on
// QEMU's command line.
func (c *QMPClient) SetVNCPassword(ctx context.Context, password string) error {
	_, err := c.Execute(ctx, "change-vnc-password", map[string]string{"password": password})
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
