package macos

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/big"
)

// A .chunklist lists the SHA-256 of each chunk of a recovery image and is
// signed by Apple (layout as read by OpenCore's macrecovery.py):
//
//	header (0x24 bytes, little-endian): "CNKL", header size u32 (0x24),
//	  file version u8 (1), chunk method u8 (1), signature method u8,
//	  pad u8, chunk count u64, chunk offset u64 (0x24), signature offset u64
//	chunks: count × {size u32, sha256 [32]byte}
//	signature: method 1 = RSA-2048 PKCS#1 v1.5 over SHA-256 of header and
//	  chunks, 256 bytes little-endian; method 2 = only that SHA-256
//	  (no signature at all).
const (
	chunklistHeaderSize = 0x24
	chunkEntrySize      = 0x24
	maxChunks           = 1 << 16
	// MaxChunkSize bounds one chunk (Apple uses 10 MiB).
	MaxChunkSize = 64 << 20
	// MaxChunklistSize bounds a whole chunklist file.
	MaxChunklistSize = chunklistHeaderSize + maxChunks*chunkEntrySize + 256
)

// Signature methods.
const (
	SignatureRSA2048 = 1
	SignatureDigest  = 2
)

// appleEFIROMKey1 is the public key macrecovery.py checks method-1
// signatures with ("Apple_EFI_ROM_public_key_1"); exponent 65537.
var appleEFIROMKey1 = func() *rsa.PublicKey {
	n, ok := new(big.Int).SetString("C3E748CAD9CD384329E10E25A91E43E1A762FF529ADE578C935BDDF9B13F2179D4855E6FC89E9E29CA12517D17DFA1EDCE0BEBF0EA7B461FFE61D94E2BDF72C196F89ACD3536B644064014DAE25A15DB6BB0852ECBD120916318D1CCDEA3C84C92ED743FC176D0BACA920D3FCF3158AFF731F88CE0623182A8ED67E650515F75745909F07D415F55FC15A35654D118C55A462D37A3ACDA08612F3F3F6571761EFCCBCC299AEE99B3A4FD6212CCFFF5EF37A2C334E871191F7E1C31960E010A54E86FA3F62E6D6905E1CD57732410A3EB0C6B4DEFDABE9F59BF1618758C751CD56CEF851D1C0EAA1C558E37AC108DA9089863D20E2E7E4BF475EC66FE6B3EFDCF", 16)
	if !ok {
		panic("apple key")
	}
	return &rsa.PublicKey{N: n, E: 65537}
}()

// AppleKeys are the keys a chunklist from Apple's recovery service is
// checked against.
func AppleKeys() []*rsa.PublicKey { return []*rsa.PublicKey{appleEFIROMKey1} }

// Chunk is one entry of a chunklist.
type Chunk struct {
	Size   uint32
	SHA256 [32]byte
}

// Chunklist is a parsed, signature-checked chunklist.
type Chunklist struct {
	Chunks []Chunk
	Total  int64 // sum of the chunk sizes: the image's size
}

// ParseChunklist parses b and checks its RSA signature against keys. A
// chunklist whose signature method cannot be verified (method 2 carries
// only a digest, anything else is unknown) is rejected, not skipped.
func ParseChunklist(b []byte, keys []*rsa.PublicKey) (*Chunklist, error) {
	if len(b) < chunklistHeaderSize {
		return nil, fmt.Errorf("chunklist: %d bytes is shorter than its %d-byte header", len(b), chunklistHeaderSize)
	}
	if len(b) > MaxChunklistSize {
		return nil, fmt.Errorf("chunklist: %d bytes (limit %d)", len(b), MaxChunklistSize)
	}
	h := b[:chunklistHeaderSize]
	if string(h[0:4]) != "CNKL" {
		return nil, fmt.Errorf("chunklist: magic %q, want \"CNKL\"", h[0:4])
	}
	le := binary.LittleEndian
	if hs := le.Uint32(h[4:8]); hs != chunklistHeaderSize {
		return nil, fmt.Errorf("chunklist: header size %#x, want %#x", hs, chunklistHeaderSize)
	}
	if v := h[8]; v != 1 {
		return nil, fmt.Errorf("chunklist: file version %d, want 1", v)
	}
	if m := h[9]; m != 1 {
		return nil, fmt.Errorf("chunklist: chunk method %d is not SHA-256 chunks (1)", m)
	}
	sigMethod := h[10]
	count, chunkOff, sigOff := le.Uint64(h[12:20]), le.Uint64(h[20:28]), le.Uint64(h[28:36])
	if count == 0 || count > maxChunks {
		return nil, fmt.Errorf("chunklist: %d chunks (want 1..%d)", count, maxChunks)
	}
	if chunkOff != chunklistHeaderSize {
		return nil, fmt.Errorf("chunklist: chunk offset %#x, want %#x", chunkOff, chunklistHeaderSize)
	}
	if sigOff != chunkOff+count*chunkEntrySize {
		return nil, fmt.Errorf("chunklist: signature offset %#x does not follow the %d chunks", sigOff, count)
	}
	if uint64(len(b)) < sigOff {
		return nil, fmt.Errorf("chunklist: truncated: %d chunks need %d bytes, have %d", count, sigOff, len(b))
	}
	digest := sha256.Sum256(b[:sigOff])
	sig := b[sigOff:]
	switch sigMethod {
	case SignatureRSA2048:
		if len(sig) != 256 {
			return nil, fmt.Errorf("chunklist: RSA-2048 signature is %d bytes, want 256", len(sig))
		}
		be := make([]byte, 256) // stored little-endian
		for i := range be {
			be[i] = sig[255-i]
		}
		var errs []error
		ok := false
		for _, k := range keys {
			err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], be)
			if err == nil {
				ok = true
				break
			}
			errs = append(errs, err)
		}
		if !ok {
			return nil, fmt.Errorf("chunklist: RSA signature does not verify with Apple's key: %w", errors.Join(errs...))
		}
	case SignatureDigest:
		return nil, errors.New("chunklist: signature method 2 carries only a SHA-256 of the list, no signature: refusing an unsigned chunklist")
	default:
		return nil, fmt.Errorf("chunklist: signature method %d is unknown and cannot be verified: refusing it", sigMethod)
	}
	cl := &Chunklist{Chunks: make([]Chunk, count)}
	for i := range cl.Chunks {
		e := b[chunkOff+uint64(i)*chunkEntrySize:]
		c := Chunk{Size: le.Uint32(e[0:4])}
		copy(c.SHA256[:], e[4:36])
		if c.Size == 0 || c.Size > MaxChunkSize {
			return nil, fmt.Errorf("chunklist: chunk %d has size %d (want 1..%d)", i+1, c.Size, MaxChunkSize)
		}
		cl.Chunks[i] = c
		cl.Total += int64(c.Size)
	}
	return cl, nil
}

// Verifier checks an image streamed through it chunk by chunk; it fails
// at the first chunk whose SHA-256 differs. It satisfies fetch.Verifier.
func (cl *Chunklist) Verifier() *ChunkVerifier {
	return &ChunkVerifier{cl: cl, h: sha256.New()}
}

// ChunkVerifier is the streaming check of one image against a chunklist.
type ChunkVerifier struct {
	cl  *Chunklist
	i   int    // current chunk
	n   uint32 // bytes of it seen
	h   hash.Hash
	pos int64
	err error
}

// Write hashes p, closing chunks as their sizes are reached.
func (v *ChunkVerifier) Write(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	written := 0
	for len(p) > 0 {
		if v.i >= len(v.cl.Chunks) {
			v.err = fmt.Errorf("image is larger than its chunklist (%d bytes in %d chunks)", v.cl.Total, len(v.cl.Chunks))
			return written, v.err
		}
		c := v.cl.Chunks[v.i]
		take := int(c.Size - v.n)
		if take > len(p) {
			take = len(p)
		}
		v.h.Write(p[:take])
		v.n += uint32(take)
		v.pos += int64(take)
		written += take
		p = p[take:]
		if v.n == c.Size {
			if !bytes.Equal(v.h.Sum(nil), c.SHA256[:]) {
				v.err = fmt.Errorf("chunk %d of %d (image bytes %d..%d): SHA-256 differs from the chunklist", v.i+1, len(v.cl.Chunks), v.pos-int64(c.Size), v.pos)
				return written, v.err
			}
			v.h.Reset()
			v.i++
			v.n = 0
		}
	}
	return written, nil
}

// Verify reports whether every chunk was seen whole and matched.
func (v *ChunkVerifier) Verify() error {
	if v.err != nil {
		return v.err
	}
	if v.i != len(v.cl.Chunks) {
		return fmt.Errorf("image ends after %d bytes, inside chunk %d of %d: the chunklist lists %d bytes", v.pos, v.i+1, len(v.cl.Chunks), v.cl.Total)
	}
	return nil
}
