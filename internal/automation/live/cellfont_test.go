package live

import (
	"context"
	"testing"
	"time"

	"github.com/deskvm/deskvm/internal/ocr"
	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/vnc"
	"github.com/deskvm/deskvm/internal/vnc/vnctest"
)

// SeaBIOS's screen, as QEMU's VNC server sends it, is VGA text: the
// reader reads it cell by cell from the captured VGA font, exactly and
// without giving tesseract a line.
func TestCellFontOverVNC(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	testutil.RequiresTesseract(t)
	q := vnctest.Start(t, vnctest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := DialVNC(q.Addr, vnc.Options{})(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool := ocr.NewProcessPool(ocr.TesseractOptions{})
	defer pool.Close()
	rd := ocr.NewReader(pool)
	for {
		f, err := s.Frame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rd.Read(ctx, f.Image)
		if err != nil {
			t.Fatal(err)
		}
		if ms := ocr.Find(res, ocr.Query{Text: "No bootable device."}); len(ms) > 0 {
			st := rd.Stats()
			if st.Cells == 0 || st.Read != 0 {
				t.Errorf("stats %+v: want every line read as cells, none by tesseract\n%s", st, res.Text())
			}
			line := res.Lines[ms[0].Line]
			if line.Confidence != 1 || line.Text != "No bootable device." {
				t.Errorf("line %q confidence %v, want the exact text at 1", line.Text, line.Confidence)
			}
			// The exact reading has no near misses.
			if ms := ocr.Find(res, ocr.Query{Text: "No bootable devices.", Fuzzy: true}); len(ms) > 0 {
				t.Errorf("found a phrase one letter off: %+v", ms)
			}
			return
		}
		if err := s.WaitChange(ctx, f.Seq); err != nil {
			t.Fatalf("waiting for \"No bootable device.\": %v; screen text:\n%s", err, res.Text())
		}
	}
}
