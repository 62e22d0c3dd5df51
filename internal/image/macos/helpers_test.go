package macos

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"testing"
)

var testKey struct {
	once sync.Once
	key  *rsa.PrivateKey
}

// signingKey is an RSA-2048 key made for the tests (Apple's private key
// is, of course, not available): chunklists made here are signed with it
// and parsed with its public half.
func signingKey(t testing.TB) *rsa.PrivateKey {
	testKey.once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey.key = k
	})
	return testKey.key
}

// makeChunklist writes a chunklist for img cut into chunks of size
// chunk, with the given signature method (1 signs with key, 2 appends the
// bare digest, others append 256 zero bytes).
func makeChunklist(t testing.TB, img []byte, chunk int, method byte, key *rsa.PrivateKey) []byte {
	var entries []byte
	count := 0
	for off := 0; off < len(img); off += chunk {
		end := min(off+chunk, len(img))
		sum := sha256.Sum256(img[off:end])
		e := make([]byte, 4, chunkEntrySize)
		binary.LittleEndian.PutUint32(e, uint32(end-off))
		entries = append(entries, append(e, sum[:]...)...)
		count++
	}
	h := make([]byte, chunklistHeaderSize)
	copy(h, "CNKL")
	binary.LittleEndian.PutUint32(h[4:], chunklistHeaderSize)
	h[8], h[9], h[10] = 1, 1, method
	binary.LittleEndian.PutUint64(h[12:], uint64(count))
	binary.LittleEndian.PutUint64(h[20:], chunklistHeaderSize)
	binary.LittleEndian.PutUint64(h[28:], uint64(chunklistHeaderSize+len(entries)))
	body := append(h, entries...)
	digest := sha256.Sum256(body)
	switch method {
	case SignatureRSA2048:
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		le := make([]byte, len(sig))
		for i := range sig {
			le[i] = sig[len(sig)-1-i]
		}
		return append(body, le...)
	case SignatureDigest:
		return append(body, digest[:]...)
	}
	return append(body, make([]byte, 256)...)
}

// makeDMG is a stand-in UDIF image: data fork, an XML plist with a blkx
// key and a koly trailer pointing at both.
func makeDMG(dataLen int) []byte {
	data := bytes.Repeat([]byte("deskvm-basesystem"), dataLen/17+1)[:dataLen]
	plist := []byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>resource-fork</key><dict><key>blkx</key><array/></dict></dict></plist>`)
	out := append(append([]byte{}, data...), plist...)
	k := make([]byte, kolySize)
	copy(k, "koly")
	be := binary.BigEndian
	be.PutUint32(k[4:], 4)
	be.PutUint32(k[8:], kolySize)
	be.PutUint64(k[0x18:], 0)
	be.PutUint64(k[0x20:], uint64(len(data)))
	be.PutUint32(k[0x38:], 1)
	be.PutUint32(k[0x3C:], 1)
	be.PutUint64(k[0xD8:], uint64(len(data)))
	be.PutUint64(k[0xE0:], uint64(len(plist)))
	be.PutUint64(k[0x1EC:], uint64((len(data)+511)/512))
	return append(out, k...)
}
