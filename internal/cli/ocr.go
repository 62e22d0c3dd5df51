package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // screenshots may come as JPEG too
	_ "image/png"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskvm/deskvm/internal/ocr"
)

func init() { register("ocr", newOCRCmd) }

type ocrOptions struct {
	find          string
	regex         string
	contains      bool
	noFuzzy       bool
	caseSensitive bool
	region        string
	tesseract     string
}

func newOCRCmd(g *globalOptions) *cobra.Command {
	o := &ocrOptions{}
	cmd := &cobra.Command{
		Use:   "ocr IMAGE",
		Short: "Read the text on a screenshot, or find a phrase on it",
		Long: `Reads the text on a screenshot (PNG or JPEG) the way automation scripts
see it and prints it as JSON: {"texts":[{"text","confidence","bbox","words"}]}.

With --find PHRASE (or --regex RE) it prints the matches instead,
{"matches":[{"text","bbox","point","line","score"}]}, and exits 0 when the
phrase is on the screen and 1 when it is not. Phrases match whole words,
ignoring case and punctuation at word ends, tolerating small OCR slips
(see docs/ocr.md).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOCR(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.find, "find", "", "phrase to find (exit status 1 when not found)")
	f.StringVar(&o.regex, "regex", "", "regular expression to find in each line")
	f.BoolVar(&o.contains, "contains", false, "match --find as a substring, not whole words")
	f.BoolVar(&o.noFuzzy, "no-fuzzy", false, "no tolerance for OCR slips")
	f.BoolVar(&o.caseSensitive, "case-sensitive", false, "compare letter case")
	f.StringVar(&o.region, "region", "", "only look inside x,y,width,height")
	f.StringVar(&o.tesseract, "tesseract", "tesseract", "tesseract command")
	return cmd
}

func runOCR(cmd *cobra.Command, g *globalOptions, o *ocrOptions, path string) error {
	if o.find != "" && o.regex != "" {
		return &ExitError{Code: 2, Err: errors.New("ocr: --find and --regex exclude each other")}
	}
	if (o.contains || o.noFuzzy || o.caseSensitive) && o.find == "" {
		return &ExitError{Code: 2, Err: errors.New("ocr: --contains, --no-fuzzy and --case-sensitive need --find")}
	}
	q := ocr.Query{Text: o.find, Contains: o.contains, Fuzzy: !o.noFuzzy, CaseSensitive: o.caseSensitive}
	if o.regex != "" {
		re, err := regexp.Compile(o.regex)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("ocr: --regex: %w", err)}
		}
		q.Regex = re
	}
	if o.region != "" {
		r, err := parseRegion(o.region)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("ocr: --region %q: %w", o.region, err)}
		}
		q.Region = &r
	}
	if _, err := exec.LookPath(o.tesseract); err != nil {
		return fmt.Errorf("ocr: %s not found (install tesseract-ocr and tesseract-ocr-eng): %w", o.tesseract, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ocr: %w", err)
	}
	defer f.Close()
	// Tesseract loads its model while the image is decoded and prepared.
	pool := ocr.NewProcessPool(ocr.TesseractOptions{Path: o.tesseract, Warm: runtime.NumCPU()})
	defer pool.Close()
	go pool.Warm()
	img, _, err := image.Decode(f)
	if err != nil {
		return fmt.Errorf("ocr: read image %s: %w", path, err)
	}
	res, err := ocr.NewTesseract(pool).Recognize(cmd.Context(), img, img.Bounds())
	if err != nil {
		return fmt.Errorf("ocr %s: %w", path, err)
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	if o.find == "" && o.regex == "" {
		return enc.Encode(res.JSON())
	}
	ms := ocr.Find(res, q)
	if err := enc.Encode(ocr.MatchesToJSON(ms)); err != nil {
		return err
	}
	if len(ms) == 0 {
		return silentExit(1)
	}
	return nil
}

// parseRegion parses "x,y,width,height".
func parseRegion(s string) (image.Rectangle, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return image.Rectangle{}, errors.New("want x,y,width,height")
	}
	var v [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return image.Rectangle{}, fmt.Errorf("field %d: %w", i+1, err)
		}
		v[i] = n
	}
	if v[2] <= 0 || v[3] <= 0 {
		return image.Rectangle{}, errors.New("width and height must be positive")
	}
	return image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), nil
}
