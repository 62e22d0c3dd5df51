package domainxml

// Stand-ins for helpers the config package is about to provide
// (config.ParseSize, config.UUIDFor, config.Hash). They keep this package
// building until those land; then the calls switch over and this file goes.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/google/uuid"
)

func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "iB"), "B")
	mult := uint64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		case 'T', 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

var uuidNamespace = uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8") // RFC 4122 URL namespace

func uuidFor(name string) string {
	return uuid.NewSHA1(uuidNamespace, []byte("deskvm:vm:"+name)).String()
}

func configHash(vm *config.VM, c *config.Config) string {
	b, _ := json.Marshal(struct {
		VM          *config.VM
		Accelerator config.Accelerator
		Hugepages   config.Hugepages
		Pool        string
		Path        string
	}{vm, c.Accelerator, c.Hugepages, c.DefaultStoragePool, c.DefaultStoragePath})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
