package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
)

var ocrCorpus = filepath.Join("..", "ocr", "testdata", "corpus")

func runDeskvm(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"deskvm"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestOCRPrintsTexts(t *testing.T) {
	testutil.RequiresTesseract(t)
	code, out, errs := runDeskvm("ocr", filepath.Join(ocrCorpus, "seabios.png"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Texts []struct {
			Text       string  `json:"text"`
			Confidence float64 `json:"confidence"`
			BBox       struct {
				X, Y, Width, Height int
			} `json:"bbox"`
			Words []struct {
				Text string `json:"text"`
			} `json:"words"`
		} `json:"texts"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not the OCR JSON: %v\n%s", err, out)
	}
	var all []string
	for _, tx := range got.Texts {
		all = append(all, tx.Text)
		if tx.Confidence <= 0 || tx.Confidence > 1 || tx.BBox.Width <= 0 || len(tx.Words) == 0 {
			t.Errorf("entry %+v", tx)
		}
	}
	if !strings.Contains(strings.Join(all, "\n"), "No bootable device") {
		t.Errorf("texts %q lack the SeaBIOS message", all)
	}
}

func TestOCRFind(t *testing.T) {
	testutil.RequiresTesseract(t)
	img := filepath.Join(ocrCorpus, "gtk-language.png")
	code, out, errs := runDeskvm("ocr", img, "--find", "Go Back")
	if code != 0 {
		t.Fatalf("--find Go Back: exit %d: %s%s", code, out, errs)
	}
	var got struct {
		Matches []struct {
			Text  string `json:"text"`
			Point struct{ X, Y int }
		} `json:"matches"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Matches) != 1 {
		t.Fatalf("matches: %v\n%s", err, out)
	}
	// The button is at x 1069–1163, y 762–787 on this screen.
	if p := got.Matches[0].Point; p.X < 1069 || p.X > 1163 || p.Y < 762 || p.Y > 787 {
		t.Errorf("click point %v is not on the Go Back button", p)
	}
	if code, out, _ := runDeskvm("ocr", img, "--find", "Select your location"); code != 1 || !strings.Contains(out, `"matches": []`) {
		t.Errorf("absent phrase: exit %d, %s", code, out)
	}
	if code, _, _ := runDeskvm("ocr", img, "--regex", `Chinese \((Simplified|Traditional)\)`); code != 0 {
		t.Errorf("--regex: exit %d", code)
	}
	if code, _, _ := runDeskvm("ocr", img, "--find", "Continue", "--region", "0,700,600,100"); code != 1 {
		t.Errorf("--region excluding the button: exit %d", code)
	}
	if code, _, _ := runDeskvm("ocr", img, "--find", "Continu", "--contains"); code != 0 {
		t.Errorf("--contains: exit %d", code)
	}
	if code, _, _ := runDeskvm("ocr", img, "--find", "Continu", "--no-fuzzy"); code != 1 {
		t.Errorf("--no-fuzzy part of a word: exit %d", code)
	}
}

func TestOCRBadInput(t *testing.T) {
	img := filepath.Join(ocrCorpus, "seabios.png")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ocr", "/nonexistent.png"}, 1, "nonexistent.png"},
		{[]string{"ocr", "ocr_test.go"}, 1, "read image ocr_test.go"},
		{[]string{"ocr", img, "--find", "x", "--region", "1,2,3"}, 2, "--region \"1,2,3\": want x,y,width,height"},
		{[]string{"ocr", img, "--find", "x", "--region", "1,2,0,4"}, 2, "positive"},
		{[]string{"ocr", img, "--find", "x", "--region", "a,2,3,4"}, 2, "field 1"},
		{[]string{"ocr", img, "--regex", "("}, 2, "--regex"},
		{[]string{"ocr", img, "--find", "x", "--regex", "y"}, 2, "exclude"},
		{[]string{"ocr", img, "--contains"}, 2, "need --find"},
		{[]string{"ocr", img, "--tesseract", "/nonexistent/tesseract"}, 1, "not found"},
	} {
		code, out, errs := runDeskvm(c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) || out != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit %d and %q", c.args, code, errs, out, c.code, c.msg)
		}
	}
}
