package automation

import (
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"time"
)

// The report is one HTML file with inline CSS and JPEG thumbnails as data:
// URIs, so it can be attached to a CI run on its own; the thumbnails link
// to the full-size PNGs beside it.
var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string {
		if d >= time.Second {
			return fmt.Sprintf("%.2f s", d.Seconds())
		}
		return fmt.Sprintf("%d ms", d.Milliseconds())
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>deskvm automation: {{.Script}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
.summary { padding: .6em 1em; border-radius: 6px; margin-bottom: 1em; }
.ok { background: #e3f6e3; border: 1px solid #7c7; }
.failed { background: #fde8e8; border: 1px solid #d77; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4em .5em; vertical-align: top; text-align: left; }
th { background: #f4f4f4; }
tr.step-failed td { background: #fff3f3; }
tr.step-notrun td { color: #999; }
.status-ok { color: #080; font-weight: bold; }
.status-failed { color: #c00; font-weight: bold; }
pre { white-space: pre-wrap; background: #f8f8f8; padding: .5em; border-radius: 4px; margin: .3em 0; }
img.thumb { width: 360px; border: 1px solid #ccc; display: block; }
code { background: #f2f2f2; padding: 0 .2em; }
.files a { margin-right: .6em; }
</style>
</head>
<body>
<h1>Automation run: <code>{{.Script}}</code></h1>
<div id="summary" class="summary {{if .Failed}}failed{{else}}ok{{end}}">
<b>{{if .Failed}}FAILED{{else}}Succeeded{{end}}</b>
— started {{.Started}}, took {{ms .Duration}}, {{.Ran}} of {{.Total}} steps run.
{{if .Err}}<pre id="failure">{{.Err}}</pre>{{end}}
</div>
<table id="steps">
<thead><tr><th>#</th><th>line</th><th>step</th><th>result</th><th>screen</th></tr></thead>
<tbody>
{{range .Steps}}<tr id="step-{{.N}}" class="step {{if .NotRun}}step-notrun{{else if .Err}}step-failed{{else}}step-ok{{end}}">
<td>{{.N}}</td>
<td>{{.Pos.Line}}:{{.Pos.Column}}</td>
<td><code>{{.Command}}</code><br>{{.Description}}</td>
<td>{{if .NotRun}}not run{{else}}
<span class="{{if .Err}}status-failed{{else}}status-ok{{end}}">{{if .Err}}failed{{else}}ok{{end}}</span> in {{ms .Duration}}
{{if gt .Attempts 1}}<br>{{.Attempts}} attempts (connection dropped){{end}}
{{if .Searched}}<br>searched: {{.Searched}}{{end}}
{{if .Found}}<br>found: “{{.Found.Text}}” at {{.Found.BBox.X}},{{.Found.BBox.Y}} {{.Found.BBox.Width}}×{{.Found.BBox.Height}} ({{.Found.Matches}} match{{if ne .Found.Matches 1}}es{{end}}){{end}}
{{if .Click}}<br>clicked at {{.Click.X}},{{.Click.Y}}{{end}}
{{if .OCRRuns}}<br>OCR: {{.OCRRuns}} read{{if ne .OCRRuns 1}}s{{end}}, {{ms .OCRTime}}{{end}}
{{if .Err}}<pre>{{.Err}}</pre>{{end}}
{{end}}</td>
<td>{{if .Thumb}}<a href="{{.AnnotatedLink}}"><img class="thumb" alt="step {{.N}} screen" src="{{.Thumb}}"></a>{{end}}
<div class="files">{{if .Screenshot}}<a href="{{.Screenshot}}">screenshot</a>{{end}}{{if .Annotated}}<a href="{{.Annotated}}">annotated</a>{{end}}{{if .OCRJSON}}<a href="{{.OCRJSON}}">OCR JSON</a>{{end}}</div></td>
</tr>
{{end}}</tbody>
</table>
{{with .Health}}<h2>Health check</h2>
<div id="health" class="summary {{if .Err}}failed{{else}}ok{{end}}">
{{.Description}} — {{if .Err}}<b>failed</b>{{else}}<b>ok</b>{{end}} after {{.Attempts}} attempt{{if ne .Attempts 1}}s{{end}}, {{ms .Duration}}
{{if .Output}}<pre>{{.Output}}</pre>{{end}}
{{if .Err}}<pre>{{.Err}}</pre>{{end}}
</div>{{end}}
</body>
</html>
`))

type reportStep struct {
	*StepRecord
	Thumb         template.URL
	AnnotatedLink string
}

func renderReport(w io.Writer, s *Script, steps []*StepRecord, res *Result, red *Redactor) error {
	data := struct {
		Script   string
		Started  string
		Duration time.Duration
		Failed   bool
		Err      string
		Ran      int
		Total    int
		Steps    []reportStep
		Health   *HealthRecord
	}{
		Script:   filepath.Base(s.File),
		Started:  res.Started.Format(time.RFC3339),
		Duration: res.Duration,
		Failed:   res.Err != nil,
		Total:    len(s.Steps),
		Health:   res.HealthCheck,
	}
	if res.Err != nil {
		data.Err = red.String(res.Err.Error())
	}
	for _, st := range steps {
		if !st.NotRun {
			data.Ran++
		}
		rs := reportStep{StepRecord: st, AnnotatedLink: st.Annotated}
		if rs.AnnotatedLink == "" {
			rs.AnnotatedLink = st.Screenshot
		}
		if len(st.Thumbnail) > 0 {
			rs.Thumb = template.URL(dataURI("image/jpeg", st.Thumbnail))
		}
		data.Steps = append(data.Steps, rs)
	}
	return reportTemplate.Execute(w, data)
}
