package macos

import (
	"bytes"
	"crypto/rsa"
	"strings"
	"testing"
)

func TestChunklistSignedAndVerified(t *testing.T) {
	key := signingKey(t)
	img := makeDMG(100_000)
	cl, err := ParseChunklist(makeChunklist(t, img, 4096, SignatureRSA2048, key), []*rsa.PublicKey{&key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Chunks) != (len(img)+4095)/4096 || cl.Total != int64(len(img)) {
		t.Fatalf("%d chunks, total %d", len(cl.Chunks), cl.Total)
	}
	// Streamed in odd pieces, the whole image passes.
	v := cl.Verifier()
	for off := 0; off < len(img); off += 777 {
		if _, err := v.Write(img[off:min(off+777, len(img))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Verify(); err != nil {
		t.Fatal(err)
	}
	// One flipped byte in chunk 3 fails at chunk 3.
	bad := append([]byte{}, img...)
	bad[2*4096+10] ^= 1
	v = cl.Verifier()
	_, err = v.Write(bad)
	if err == nil || !strings.Contains(err.Error(), "chunk 3 of") {
		t.Fatalf("tampered chunk: %v", err)
	}
	if v.Verify() == nil {
		t.Fatal("Verify after a bad chunk passed")
	}
	// Short and long images fail.
	v = cl.Verifier()
	v.Write(img[:len(img)-1])
	if err := v.Verify(); err == nil || !strings.Contains(err.Error(), "image ends after") {
		t.Fatalf("short image: %v", err)
	}
	v = cl.Verifier()
	if _, err := v.Write(append(append([]byte{}, img...), 0)); err == nil || !strings.Contains(err.Error(), "larger than its chunklist") {
		t.Fatalf("long image: %v", err)
	}
}

func TestChunklistRejects(t *testing.T) {
	key := signingKey(t)
	keys := []*rsa.PublicKey{&key.PublicKey}
	img := makeDMG(20_000)
	good := makeChunklist(t, img, 4096, SignatureRSA2048, key)
	mut := func(f func([]byte) []byte) []byte { return f(append([]byte{}, good...)) }
	cases := map[string]struct {
		data []byte
		keys []*rsa.PublicKey
		want string
	}{
		"digest only":       {makeChunklist(t, img, 4096, SignatureDigest, nil), keys, "no signature: refusing an unsigned chunklist"},
		"unknown method":    {makeChunklist(t, img, 4096, 7, nil), keys, "signature method 7 is unknown and cannot be verified"},
		"apple key":         {good, AppleKeys(), "does not verify with Apple's key"},
		"tampered entry":    {mut(func(b []byte) []byte { b[chunklistHeaderSize+5] ^= 1; return b }), keys, "does not verify"},
		"truncated":         {good[:chunklistHeaderSize+10], keys, "truncated"},
		"short header":      {good[:10], keys, "shorter than its"},
		"magic":             {mut(func(b []byte) []byte { b[0] = 'X'; return b }), keys, "magic"},
		"zero chunks":       {mut(func(b []byte) []byte { b[12] = 0; return b }), keys, "0 chunks"},
		"huge count":        {mut(func(b []byte) []byte { b[19] = 0x10; return b }), keys, "chunks (want 1.."},
		"signature offset":  {mut(func(b []byte) []byte { b[28]++; return b }), keys, "signature offset"},
		"signature too big": {append(append([]byte{}, good...), 0), keys, "signature is 257 bytes"},
	}
	for name, c := range cases {
		_, err := ParseChunklist(c.data, c.keys)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func FuzzChunklist(f *testing.F) {
	key := signingKey(f)
	img := makeDMG(10_000)
	f.Add(makeChunklist(f, img, 1000, SignatureRSA2048, key))
	f.Add(makeChunklist(f, img, 1000, SignatureDigest, nil))
	keys := []*rsa.PublicKey{&key.PublicKey}
	f.Fuzz(func(t *testing.T, data []byte) {
		cl, err := ParseChunklist(data, keys)
		if err != nil {
			return
		}
		v := cl.Verifier()
		v.Write(img)
		v.Write(bytes.Repeat([]byte{1}, 100))
		v.Verify()
	})
}
