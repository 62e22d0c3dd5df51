package libvirt

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deskvm/deskvm/internal/testutil"
)

// sshForwarder is a minimal SSH server that accepts one client key and
// forwards direct-streamlocal channels (what `ssh -W`/libvirt's ssh
// transport use) to local unix sockets, standing in for a remote host.
func sshForwarder(t *testing.T, clientKey ssh.PublicKey) string {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	// go-libvirt's SSH dialer never closes its SSH client (only the
	// forwarded channel), so the server side closes the connections.
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
				if err != nil {
					return
				}
				defer sc.Close()
				go ssh.DiscardRequests(reqs)
				for nch := range chans {
					if nch.ChannelType() != "direct-streamlocal@openssh.com" {
						nch.Reject(ssh.UnknownChannelType, "only streamlocal forwarding")
						continue
					}
					var req struct {
						SocketPath string
						Reserved0  string
						Reserved1  uint32
					}
					if err := ssh.Unmarshal(nch.ExtraData(), &req); err != nil {
						nch.Reject(ssh.ConnectionFailed, err.Error())
						continue
					}
					uc, err := net.Dial("unix", req.SocketPath)
					if err != nil {
						nch.Reject(ssh.ConnectionFailed, err.Error())
						continue
					}
					ch, creqs, err := nch.Accept()
					if err != nil {
						uc.Close()
						continue
					}
					go ssh.DiscardRequests(creqs)
					go func() { io.Copy(uc, ch); uc.Close() }()
					go func() { io.Copy(ch, uc); ch.CloseWrite(); ch.Close() }()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// qemu+ssh:// reaches libvirtd through an SSH server (an in-process one
// here, forwarding to the local socket).
func TestDialSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	testutil.RequiresLibvirt(t)
	if _, err := os.Stat("/var/run/libvirt/libvirt-sock"); err != nil {
		testutil.Missing(t, "libvirt unix socket: "+err.Error())
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	addr := sshForwarder(t, sshPub)
	host, port, _ := net.SplitHostPort(addr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uri := fmt.Sprintf("qemu+ssh://tester@%s:%s/system?keyfile=%s&no_verify=1", host, port, keyFile)
	c, err := Dial(ctx, uri, Options{})
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	defer c.Close()
	v, err := c.LibVersion(ctx)
	if err != nil || v < 1000000 {
		t.Fatalf("LibVersion over ssh = %d, %v", v, err)
	}
	if _, err := c.Domains(ctx); err != nil {
		t.Fatalf("Domains over ssh: %v", err)
	}

	// A wrong key is refused with an error, not a hang.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	ob, _ := ssh.MarshalPrivateKey(otherPriv, "")
	other := filepath.Join(t.TempDir(), "other")
	_ = os.WriteFile(other, pem.EncodeToMemory(ob), 0o600)
	bad := fmt.Sprintf("qemu+ssh://tester@%s:%s/system?keyfile=%s&no_verify=1", host, port, other)
	if _, err := Dial(ctx, bad, Options{CallTimeout: 10 * time.Second}); err == nil {
		t.Fatal("dial with an unknown key succeeded")
	}
}
