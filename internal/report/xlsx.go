package report

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// XLSX layout, one place:
//
//   - row 1 is a bold, shaded header, frozen, with an autofilter over the
//     data; the header row repeats on every printed page;
//   - pages print landscape, one page wide;
//   - text cells are inline strings with quotePrefix set, so Excel keeps
//     them text even when someone edits the cell; no cell ever has a formula;
//   - times are numbers with the format yyyy-mm-dd hh:mm:ss"Z" (UTC);
//   - risk cells are filled red (HIGH), amber (MEDIUM) or green (LOW), with
//     a dark font of the same hue, as Excel's Bad/Neutral/Good styles.

// bodyFont is the workbook's default font (excelize's template): a font
// without a family name falls back to a serif in LibreOffice.
const bodyFont = "Calibri"

// lineHeight is the height in points of one line of 11-point Calibri.
const lineHeight = 15

// timeNumFmt is the display format of date cells: ISO order, always UTC.
const timeNumFmt = `yyyy-mm-dd hh:mm:ss"Z"`

// widthSample is how many leading rows decide automatic column widths.
const widthSample = 200

type xlsxStyles struct {
	header                     int
	text, textWrap, id, idWrap int
	integer, number, time      int
	bool                       int
	high, medium, low          int
	section, key               int
	value, valueInt, valueNum  int
	valueTime                  int
}

func newXLSXStyles(f *excelize.File) (*xlsxStyles, error) {
	top := func(wrap bool) *excelize.Alignment {
		return &excelize.Alignment{Vertical: "top", WrapText: wrap}
	}
	mono := &excelize.Font{Family: "Consolas", Size: 10}
	tf := timeNumFmt
	risk := func(fill, font string) *excelize.Style {
		return &excelize.Style{
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{fill}},
			Font:      &excelize.Font{Family: bodyFont, Size: 11, Color: font, Bold: true},
			Alignment: top(false),
		}
	}
	st := &xlsxStyles{}
	defs := []struct {
		id    *int
		style *excelize.Style
		text  bool // a text format: gets quotePrefix
	}{
		{&st.header, &excelize.Style{
			Font:      &excelize.Font{Family: bodyFont, Size: 11, Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
			Border:    []excelize.Border{{Type: "bottom", Color: "8EA9DB", Style: 2}},
			Alignment: &excelize.Alignment{Vertical: "top"},
		}, true},
		{&st.text, &excelize.Style{Alignment: top(false)}, true},
		{&st.textWrap, &excelize.Style{Alignment: top(true)}, true},
		{&st.id, &excelize.Style{Font: mono, Alignment: top(false)}, true},
		{&st.idWrap, &excelize.Style{Font: mono, Alignment: top(true)}, true},
		{&st.integer, &excelize.Style{NumFmt: 1, Alignment: top(false)}, false},
		{&st.number, &excelize.Style{Alignment: top(false)}, false},
		{&st.time, &excelize.Style{CustomNumFmt: &tf, Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left"}}, false},
		{&st.bool, &excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left"}}, false},
		{&st.high, risk("FFC7CE", "9C0006"), true},
		{&st.medium, risk("FFEB9C", "9C5700"), true},
		{&st.low, risk("C6EFCE", "006100"), true},
		{&st.section, &excelize.Style{
			Font:      &excelize.Font{Family: bodyFont, Size: 12, Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
			Alignment: top(false),
		}, true},
		{&st.key, &excelize.Style{Alignment: top(true)}, true},
		{&st.value, &excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left", WrapText: true}}, true},
		{&st.valueInt, &excelize.Style{NumFmt: 1, Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left"}}, false},
		{&st.valueNum, &excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left"}}, false},
		{&st.valueTime, &excelize.Style{CustomNumFmt: &tf, Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left"}}, false},
	}
	for _, d := range defs {
		id, err := f.NewStyle(d.style)
		if err != nil {
			return nil, fmt.Errorf("style: %w", err)
		}
		*d.id = id
	}
	// quotePrefix ("the cell is text, even on edit") has no Style option:
	// set it on the cell formats excelize just created.
	yes := true
	for _, d := range defs {
		if d.text && f.Styles != nil && f.Styles.CellXfs != nil && *d.id < len(f.Styles.CellXfs.Xf) {
			f.Styles.CellXfs.Xf[*d.id].QuotePrefix = &yes
		}
	}
	return st, nil
}

// xlsxBook writes one workbook.
type xlsxBook struct {
	ctx    context.Context
	f      *excelize.File
	st     *xlsxStyles
	opts   Options
	names  map[string]bool // lower-cased sheet names in use or reserved
	sheets int             // worksheets created so far
}

func writeXLSX(ctx context.Context, w io.Writer, wb *Workbook, opts Options) (Result, error) {
	f := excelize.NewFile(excelize.Options{TmpDir: opts.TmpDir})
	defer f.Close()
	zs := newSortedZip(ctx, w, wb.Created, opts.TmpDir)
	defer zs.abort()
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zs })

	st, err := newXLSXStyles(f)
	if err != nil {
		return Result{}, fmt.Errorf("report: xlsx: %w", err)
	}
	b := &xlsxBook{ctx: ctx, f: f, st: st, opts: opts, names: map[string]bool{}}
	for _, s := range wb.Sheets {
		b.names[strings.ToLower(s.Name)] = true
	}
	var res Result
	for i := range wb.Sheets {
		s := &wb.Sheets[i]
		var sr SheetResult
		if s.IsSummary() {
			sr, err = b.writeSummary(s)
		} else {
			sr, err = b.writeTable(s)
		}
		if err != nil {
			return Result{}, err
		}
		res.Sheets = append(res.Sheets, sr)
	}

	props := &excelize.DocProperties{Title: wb.Title, Creator: wb.Creator, LastModifiedBy: wb.Creator}
	if !wb.Created.IsZero() {
		props.Created = wb.Created.UTC().Format(time.RFC3339)
		props.Modified = props.Created
	}
	if err := f.SetDocProps(props); err != nil {
		return Result{}, fmt.Errorf("report: xlsx: document properties: %w", err)
	}
	if err := f.SetAppProps(&excelize.AppProperties{Application: "uar"}); err != nil {
		return Result{}, fmt.Errorf("report: xlsx: application properties: %w", err)
	}
	// The first sheet (Summary) is the active one as created: no
	// SetActiveSheet, which re-reads every streamed worksheet's XML to
	// clear its selection (hundreds of MB at a few thousand rows).
	// The bytes go to w through zs; excelize's own buffer stays empty.
	if _, err := f.WriteToBuffer(); err != nil {
		return Result{}, fmt.Errorf("report: xlsx: write: %w", err)
	}
	return res, nil
}

// newWorksheet creates the next worksheet with the print setup and returns
// its stream writer.
func (b *xlsxBook) newWorksheet(name string) (*excelize.StreamWriter, error) {
	if b.sheets == 0 {
		if err := b.f.SetSheetName("Sheet1", name); err != nil {
			return nil, err
		}
	} else if _, err := b.f.NewSheet(name); err != nil {
		return nil, err
	}
	b.sheets++
	yes, landscape, one, zero := true, "landscape", 1, 0
	// sheetPr is written when the stream starts: set it first.
	if err := b.f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &yes}); err != nil {
		return nil, err
	}
	if err := b.f.SetPageLayout(name, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &one, FitToHeight: &zero}); err != nil {
		return nil, err
	}
	if err := b.f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: "'" + name + "'!$1:$1", Scope: name}); err != nil {
		return nil, err
	}
	return b.f.NewStreamWriter(name)
}

// continuationName is the name of part n (2, 3, ...) of a sheet: "Access (2)",
// the base shortened if the whole would pass Excel's 31 characters.
func (b *xlsxBook) continuationName(base string, n int) (string, error) {
	suffix := " (" + strconv.Itoa(n) + ")"
	r := []rune(base)
	if keep := maxSheetName - len(suffix); len(r) > keep {
		r = r[:keep]
	}
	name := strings.TrimRight(string(r), " ") + suffix
	if b.names[strings.ToLower(name)] {
		return "", fmt.Errorf("continuation sheet %q clashes with another sheet", name)
	}
	b.names[strings.ToLower(name)] = true
	return name, nil
}

// tableWriter streams one table sheet, across continuation worksheets.
type tableWriter struct {
	b       *xlsxBook
	s       *Sheet
	max     int // data rows per worksheet
	styles  []int
	widths  []float64
	lastCol string

	sw       *excelize.StreamWriter
	part     string
	partRows int
	parts    []string
	total    int64

	wrap    []int // columns with Wrap set
	sample  [][]any
	started bool
	cells   []excelize.Cell
	vals    []any
	cellBuf []cell
}

func (b *xlsxBook) writeTable(s *Sheet) (SheetResult, error) {
	t := &tableWriter{b: b, s: s, max: b.opts.maxRows()}
	n := len(s.Columns)
	t.lastCol, _ = excelize.ColumnNumberToName(n)
	t.styles = make([]int, n)
	for i, c := range s.Columns {
		t.styles[i] = b.st.columnStyle(c)
	}
	for i, c := range s.Columns {
		if c.Wrap {
			t.wrap = append(t.wrap, i)
		}
	}
	t.cells = make([]excelize.Cell, n)
	t.vals = make([]any, n)
	t.cellBuf = make([]cell, n)

	if _, err := eachRow(b.ctx, s, b.opts, func(_ int64, row []any) error { return t.add(row) }); err != nil {
		return SheetResult{}, err
	}
	if err := t.start(); err != nil {
		return SheetResult{}, err
	}
	if err := t.endPart(); err != nil {
		return SheetResult{}, err
	}
	return SheetResult{Name: s.Name, Rows: t.total, Parts: t.parts}, nil
}

func (st *xlsxStyles) columnStyle(c Column) int {
	switch c.Kind {
	case Integer:
		return st.integer
	case Number:
		return st.number
	case Time:
		return st.time
	case ID:
		if c.Wrap {
			return st.idWrap
		}
		return st.id
	}
	if c.Wrap {
		return st.textWrap
	}
	return st.text
}

// add takes one row: the first widthSample rows are kept to size the
// columns, then everything streams.
func (t *tableWriter) add(row []any) error {
	if !t.started {
		// Keep a copy: the caller reuses row, and may reuse a []byte too.
		cp := make([]any, len(row))
		for i, v := range row {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			cp[i] = v
		}
		t.sample = append(t.sample, cp)
		if len(t.sample) < widthSample {
			return nil
		}
		return t.start()
	}
	return t.write(row)
}

// start sizes the columns from the sample, opens the first worksheet and
// writes the sampled rows.
func (t *tableWriter) start() error {
	if t.started {
		return nil
	}
	t.started = true
	t.widths = make([]float64, len(t.s.Columns))
	for i, c := range t.s.Columns {
		if c.Width > 0 {
			t.widths[i] = c.Width
			continue
		}
		w := float64(utf8.RuneCountInString(c.Name)) + 3 // bold text and the filter button
		for _, row := range t.sample {
			cl, err := toCell(row[i], c.Kind)
			if err != nil {
				continue // reported when the row is written
			}
			w = max(w, cellWidth(&cl, c.Kind))
		}
		t.widths[i] = min(max(w+1, 8), 60)
	}
	if err := t.newPart(t.s.Name); err != nil {
		return err
	}
	sample := t.sample
	t.sample = nil
	for _, row := range sample {
		if err := t.write(row); err != nil {
			return err
		}
	}
	return nil
}

// cellWidth estimates the characters a value needs.
func cellWidth(c *cell, k Kind) float64 {
	switch c.typ {
	case cEmpty:
		return 0
	case cTime:
		return 20
	case cString:
		n := float64(min(utf8.RuneCountInString(c.s), 200))
		if k == ID {
			n *= 1.15 // Consolas is wider than the default font
		}
		if k == Risk {
			n += 1 // bold
		}
		return n
	}
	return float64(len(c.text()))
}

func (t *tableWriter) newPart(name string) error {
	sw, err := t.b.newWorksheet(name)
	if err != nil {
		return fmt.Errorf("report: xlsx: sheet %q: %w", name, err)
	}
	t.sw, t.part, t.partRows = sw, name, 0
	t.parts = append(t.parts, name)
	// excelize's stream writer prepends each <col>, and Excel wants them in
	// ascending order: set them last to first.
	for i := len(t.widths) - 1; i >= 0; i-- {
		if err := sw.SetColWidth(i+1, i+1, t.widths[i]); err != nil {
			return fmt.Errorf("report: xlsx: sheet %q: width: %w", name, err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return fmt.Errorf("report: xlsx: sheet %q: panes: %w", name, err)
	}
	header := make([]any, len(t.s.Columns))
	for i, c := range t.s.Columns {
		header[i] = excelize.Cell{StyleID: t.b.st.header, Value: xlsxText(c.Name)}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return fmt.Errorf("report: xlsx: sheet %q: header: %w", name, err)
	}
	return nil
}

// endPart adds the autofilter over the written rows and closes the stream.
func (t *tableWriter) endPart() error {
	ref := "A1:" + t.lastCol + strconv.Itoa(t.partRows+1)
	if err := t.b.f.AutoFilter(t.part, ref, nil); err != nil {
		return fmt.Errorf("report: xlsx: sheet %q: autofilter: %w", t.part, err)
	}
	if err := t.sw.Flush(); err != nil {
		return fmt.Errorf("report: xlsx: sheet %q: %w", t.part, err)
	}
	return nil
}

func (t *tableWriter) write(row []any) error {
	if t.partRows == t.max {
		if err := t.endPart(); err != nil {
			return err
		}
		name, err := t.b.continuationName(t.s.Name, len(t.parts)+1)
		if err != nil {
			return fmt.Errorf("report: xlsx: sheet %q: %w", t.s.Name, err)
		}
		if err := t.newPart(name); err != nil {
			return err
		}
	}
	rowNum := t.total + 1
	for i, c := range t.s.Columns {
		cl, err := toCell(row[i], c.Kind)
		if err != nil {
			return rowError(t.s.Name, rowNum, c.Name, "%v", err)
		}
		t.cellBuf[i] = cl
		t.vals[i] = t.b.st.cellValue(&t.cells[i], &cl, c, t.styles[i], row[i])
	}
	t.partRows++
	var opts []excelize.RowOpts
	if len(t.wrap) > 0 {
		lines := 1
		for _, i := range t.wrap {
			if c := &t.cellBuf[i]; c.typ == cString {
				lines = max(lines, wrappedLines(c.s, t.widths[i], t.s.Columns[i].Kind == ID))
			}
		}
		if lines > 1 {
			opts = append(opts, excelize.RowOpts{Height: rowHeight(lines)})
		}
	}
	if err := t.sw.SetRow("A"+strconv.Itoa(t.partRows+1), t.vals, opts...); err != nil {
		return fmt.Errorf("report: xlsx: sheet %q: row %d: %w", t.part, t.partRows+1, err)
	}
	t.total++
	return nil
}

// cellValue fills dst for one value and returns what SetRow takes: nil for
// an empty cell, else dst (a pointer, so the row slice holds no new boxes).
// raw is the caller's value, reused when it already is the string to write.
func (st *xlsxStyles) cellValue(dst *excelize.Cell, c *cell, col Column, style int, raw any) any {
	dst.StyleID = style
	switch c.typ {
	case cEmpty:
		return nil
	case cString:
		if c.s == "" {
			return nil
		}
		if col.Kind == Risk {
			switch riskOf(c.s) {
			case riskHigh:
				dst.StyleID = st.high
			case riskMedium:
				dst.StyleID = st.medium
			case riskLow:
				dst.StyleID = st.low
			}
		} else if col.Kind != ID && col.Kind != Text && col.Kind != Auto {
			// a time or number column holding text: show it as text
			dst.StyleID = st.text
		}
		if s, ok := raw.(string); ok && s == c.s && len(s) <= excelMaxCellChars {
			dst.Value = raw
		} else {
			dst.Value = xlsxText(c.s)
		}
	case cInt:
		if col.Kind != Integer && col.Kind != Number {
			dst.StyleID = st.integer
		}
		dst.Value = c.i
	case cUint:
		dst.StyleID = st.integer
		dst.Value = c.u
	case cFloat:
		if col.Kind != Number {
			dst.StyleID = st.number
		}
		dst.Value = c.f
	case cTime:
		dst.StyleID = st.time
		dst.Value = c.t
	case cBool:
		dst.StyleID = st.bool
		dst.Value = c.b
	}
	return dst
}

// wrappedLines estimates the lines a wrapped cell of the given width needs.
// Rows with wrapped text get an explicit height: LibreOffice does not size
// streamed rows to their content, and a row of the default height lets
// the text run over the rows below.
func wrappedLines(s string, width float64, mono bool) int {
	perLine := width - 1 // a width counts '0's of the default font
	if mono {
		perLine = (width - 1) / 1.15
	}
	perLine = max(perLine, 4)
	lines := 0
	for seg := range strings.SplitSeq(s, "\n") {
		n := float64(utf8.RuneCountInString(seg))
		lines += max(1, int((n+perLine-1)/perLine))
		if lines >= maxRowLines {
			return maxRowLines
		}
	}
	return lines
}

// maxRowLines is as many lines as Excel's tallest row (409 points) holds.
const maxRowLines = 409 / lineHeight

func rowHeight(lines int) float64 {
	return float64(min(lines, maxRowLines) * lineHeight)
}

// xlsxText shortens text longer than an Excel cell holds (32,767 UTF-16
// units), saying so in the cell; excelize would cut it silently.
func xlsxText(s string) string {
	if len(s) <= excelMaxCellChars { // UTF-8 bytes >= UTF-16 units
		return s
	}
	units := 0
	for _, r := range s {
		units += utf16.RuneLen(r)
	}
	if units <= excelMaxCellChars {
		return s
	}
	note := fmt.Sprintf(" … [cut: %d characters in all; the CSV and JSON formats hold the whole value]", utf8.RuneCountInString(s))
	keep := excelMaxCellChars - len(utf16.Encode([]rune(note)))
	var b strings.Builder
	for _, r := range s {
		n := utf16.RuneLen(r)
		if keep-n < 0 {
			break
		}
		keep -= n
		b.WriteRune(r)
	}
	b.WriteString(note)
	return b.String()
}

// summaryValueWidth is the width of a summary's value column.
const summaryValueWidth = 80

// writeSummary writes a key/value sheet: section headings, then item and
// value in two wide columns.
func (b *xlsxBook) writeSummary(s *Sheet) (SheetResult, error) {
	sw, err := b.newWorksheet(s.Name)
	if err != nil {
		return SheetResult{}, fmt.Errorf("report: xlsx: sheet %q: %w", s.Name, err)
	}
	keyW := 24.0
	for _, e := range s.summary {
		keyW = max(keyW, float64(utf8.RuneCountInString(e.Key))+2)
	}
	keyW = min(keyW, 50)
	if err := sw.SetColWidth(2, 2, summaryValueWidth); err != nil { // last to first, as in newPart
		return SheetResult{}, err
	}
	if err := sw.SetColWidth(1, 1, keyW); err != nil {
		return SheetResult{}, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return SheetResult{}, err
	}
	row := 1
	if err := sw.SetRow("A1", []any{
		excelize.Cell{StyleID: b.st.header, Value: "item"},
		excelize.Cell{StyleID: b.st.header, Value: "value"},
	}); err != nil {
		return SheetResult{}, fmt.Errorf("report: xlsx: sheet %q: %w", s.Name, err)
	}
	section := ""
	for i, e := range s.summary {
		if e.Section != section || (i == 0 && e.Section != "") {
			section = e.Section
			row++
			if err := sw.SetRow("A"+strconv.Itoa(row), []any{
				excelize.Cell{StyleID: b.st.section, Value: xlsxText(e.Section)},
				excelize.Cell{StyleID: b.st.section},
			}); err != nil {
				return SheetResult{}, fmt.Errorf("report: xlsx: sheet %q: %w", s.Name, err)
			}
		}
		cl, err := toCell(e.Value, Auto)
		if err != nil {
			return SheetResult{}, rowError(s.Name, int64(i+1), e.Key, "%v", err)
		}
		var v excelize.Cell
		val := b.st.cellValue(&v, &cl, Column{Kind: Auto}, b.st.value, e.Value)
		switch cl.typ {
		case cInt, cUint:
			v.StyleID = b.st.valueInt
		case cFloat:
			v.StyleID = b.st.valueNum
		case cTime:
			v.StyleID = b.st.valueTime
		}
		row++
		cells := []any{excelize.Cell{StyleID: b.st.key, Value: xlsxText(e.Key)}, nil}
		if val != nil {
			cells[1] = v
		}
		lines := wrappedLines(e.Key, keyW, false)
		if cl.typ == cString {
			lines = max(lines, wrappedLines(cl.s, summaryValueWidth, false))
		}
		var opts []excelize.RowOpts
		if lines > 1 {
			opts = append(opts, excelize.RowOpts{Height: rowHeight(lines)})
		}
		if err := sw.SetRow("A"+strconv.Itoa(row), cells, opts...); err != nil {
			return SheetResult{}, fmt.Errorf("report: xlsx: sheet %q: %w", s.Name, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return SheetResult{}, fmt.Errorf("report: xlsx: sheet %q: %w", s.Name, err)
	}
	return SheetResult{Name: s.Name, Rows: int64(len(s.summary)), Parts: []string{s.Name}}, nil
}
