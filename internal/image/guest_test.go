package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshExecServer is an SSH server on loopback whose every command writes
// n bytes of 'o' to stdout and n bytes of 'e' to stderr at the same time,
// in small chunks, and exits 0: a command that writes to both streams.
func sshExecServer(t *testing.T, clientKey ssh.PublicKey, n int) string {
	t.Helper()
	hostKey, err := NewKeyPair("test-host")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errTestKey
		},
	}
	cfg.AddHostKey(hostKey.PrivateKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					ch, creqs, err := nc.Accept()
					if err != nil {
						continue
					}
					go func() {
						defer ch.Close()
						for r := range creqs {
							if r.Type != "exec" {
								r.Reply(false, nil)
								continue
							}
							r.Reply(true, nil)
							var wg sync.WaitGroup
							for _, w := range []struct {
								dst interface{ Write([]byte) (int, error) }
								b   byte
							}{{ch, 'o'}, {ch.Stderr(), 'e'}} {
								wg.Add(1)
								go func() {
									defer wg.Done()
									chunk := bytes.Repeat([]byte{w.b}, 97)
									for left := n; left > 0; left -= len(chunk) {
										if left < len(chunk) {
											chunk = chunk[:left]
										}
										w.dst.Write(chunk)
									}
								}()
							}
							wg.Wait()
							ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, 0))
							return
						}
					}()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

var errTestKey = &net.AddrError{Err: "unknown key"}

// TestGuestRunBothStreams: a command that writes to stdout and stderr at
// once comes back whole. (Both streams once went into one bytes.Buffer
// from two goroutines; a health check then read "" or NUL bytes where the
// guest had printed its motd.)
func TestGuestRunBothStreams(t *testing.T) {
	key, err := NewKeyPair("test-client")
	if err != nil {
		t.Fatal(err)
	}
	const n = 256 << 10
	addr := sshExecServer(t, key.PrivateKey.PublicKey(), n)
	g := &guest{
		addr: addr, user: "dev", signer: key.PrivateKey,
		knownHosts: filepath.Join(t.TempDir(), "known_hosts"),
		log:        slog.New(slog.DiscardHandler),
	}
	defer g.closeSSH()
	for i := 0; i < 5; i++ {
		out, err := g.run(context.Background(), "both", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		o, e := bytes.Count([]byte(out), []byte{'o'}), bytes.Count([]byte(out), []byte{'e'})
		if len(out) != 2*n || o != n || e != n {
			t.Fatalf("run %d: %d bytes (%d 'o', %d 'e', %d other), want %d of each", i, len(out), o, e, len(out)-o-e, n)
		}
	}
}
