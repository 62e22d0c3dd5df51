package ocr

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"strconv"
	"strings"
)

// tsvWord is one level-5 (word) row of tesseract's TSV output.
type tsvWord struct {
	block, par, line int
	text             string
	conf             float64 // 0–1; 0 when tesseract reported -1
	box              image.Rectangle
}

// parseTSV reads tesseract's TSV output and returns its words. Rows
// that are not words (page, block, paragraph, line), words with blank
// text, the header and short rows are skipped; a malformed number in a
// word row is an error naming the line.
func parseTSV(data []byte) ([]tsvWord, error) {
	var words []tsvWord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		row := sc.Text()
		if row == "" || strings.HasPrefix(row, "level") {
			continue
		}
		f := strings.SplitN(row, "\t", 12)
		if len(f) < 11 || f[0] != "5" {
			continue
		}
		text := ""
		if len(f) == 12 {
			text = strings.TrimSpace(f[11])
		}
		if text == "" {
			continue
		}
		var n [10]int
		for i := 1; i <= 9; i++ {
			v, err := strconv.Atoi(f[i])
			if err != nil {
				return nil, fmt.Errorf("tesseract tsv line %d field %d: %w", lineNo, i+1, err)
			}
			n[i] = v
		}
		conf, err := strconv.ParseFloat(f[10], 64)
		if err != nil {
			return nil, fmt.Errorf("tesseract tsv line %d confidence: %w", lineNo, err)
		}
		if conf < 0 {
			conf = 0
		}
		words = append(words, tsvWord{
			block: n[2], par: n[3], line: n[4],
			text: text,
			conf: conf / 100,
			box:  image.Rect(n[6], n[7], n[6]+n[8], n[7]+n[9]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tesseract tsv: %w", err)
	}
	return words, nil
}
