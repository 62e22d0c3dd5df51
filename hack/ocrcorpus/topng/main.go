// Command topng turns a screen dump into a small PNG for the OCR
// development corpus: an XWD file (what Xvfb -fbdir keeps of its
// screen), a binary PPM (QEMU's screendump) or a PNG. A screen with at
// most 256 colours is stored with a palette, pixel for pixel.
//
//	go run ./hack/ocrcorpus/topng IN OUT.png
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: topng IN OUT.png")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "topng: %v\n", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var img image.Image
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("P6")):
		img, err = decodePPM(data)
	default:
		img, err = decodeXWD(data)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, compact(img)); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", out, err)
	}
	return f.Close()
}

// compact returns img as a paletted image when it has at most 256
// colours, else as opaque RGBA.
func compact(img image.Image) image.Image {
	b := img.Bounds()
	rgba := image.NewRGBA(b)
	index := map[color.RGBA]uint8{}
	var pal color.Palette
	fits := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			c.A = 255
			rgba.SetRGBA(x, y, c)
			if _, ok := index[c]; !ok && fits {
				if len(pal) == 256 {
					fits = false
					continue
				}
				index[c] = uint8(len(pal))
				pal = append(pal, c)
			}
		}
	}
	if !fits {
		return rgba
	}
	p := image.NewPaletted(b, pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p.SetColorIndex(x, y, index[rgba.RGBAAt(x, y)])
		}
	}
	return p
}

func decodePPM(data []byte) (image.Image, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	var fields []int
	magic, err := token(r)
	if err != nil || magic != "P6" {
		return nil, errors.New("not a binary PPM")
	}
	for len(fields) < 3 {
		t, err := token(r)
		if err != nil {
			return nil, fmt.Errorf("ppm header: %w", err)
		}
		n, err := strconv.Atoi(t)
		if err != nil {
			return nil, fmt.Errorf("ppm header: %w", err)
		}
		fields = append(fields, n)
	}
	w, h, maxv := fields[0], fields[1], fields[2]
	if maxv != 255 {
		return nil, fmt.Errorf("ppm: max value %d, want 255", maxv)
	}
	pix := make([]byte, 3*w*h)
	if _, err := io.ReadFull(r, pix); err != nil {
		return nil, fmt.Errorf("ppm pixels: %w", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		copy(img.Pix[4*i:], pix[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	return img, nil
}

// token reads one whitespace-separated header token, skipping comments.
func token(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		switch {
		case c == '#' && len(b) == 0:
			if _, err := r.ReadString('\n'); err != nil {
				return "", err
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(b) > 0 {
				return string(b), nil
			}
		default:
			b = append(b, c)
		}
	}
}

// decodeXWD reads a ZPixmap XWD file of 32 bits per pixel (Xvfb depth 24).
func decodeXWD(data []byte) (image.Image, error) {
	if len(data) < 100 {
		return nil, errors.New("not an XWD file: too short")
	}
	hdr := make([]uint32, 25)
	for i := range hdr {
		hdr[i] = binary.BigEndian.Uint32(data[4*i:])
	}
	headerSize, version, format := hdr[0], hdr[1], hdr[2]
	w, h := int(hdr[4]), int(hdr[5])
	byteOrder, bpp, bpl := hdr[7], hdr[11], int(hdr[12])
	rMask, gMask, bMask := hdr[14], hdr[15], hdr[16]
	ncolors := int(hdr[19])
	if version != 7 || format != 2 || bpp != 32 {
		return nil, fmt.Errorf("xwd: version %d, format %d, %d bits per pixel; want 7, ZPixmap, 32", version, format, bpp)
	}
	off := int(headerSize) + 12*ncolors
	if off+bpl*h > len(data) {
		return nil, errors.New("xwd: truncated pixel data")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if byteOrder == 1 {
		order = binary.BigEndian
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := data[off+y*bpl:]
		for x := 0; x < w; x++ {
			v := order.Uint32(row[4*x:])
			i := img.PixOffset(x, y)
			img.Pix[i] = channel(v, rMask)
			img.Pix[i+1] = channel(v, gMask)
			img.Pix[i+2] = channel(v, bMask)
			img.Pix[i+3] = 255
		}
	}
	return img, nil
}

func channel(v, mask uint32) uint8 {
	if mask == 0 {
		return 0
	}
	shift := 0
	for mask&1 == 0 {
		mask >>= 1
		shift++
	}
	return uint8((v >> shift) & mask)
}
