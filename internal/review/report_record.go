package review

import (
	"context"
	"errors"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/store"
)

// ReportParams are the params of the ledger row a report records about
// itself: what was written (each file's name, size and sha256), from which
// ledger head, and whether the store verified.
type ReportParams struct {
	Review   string             `json:"review"`
	Format   string             `json:"format"`
	Output   string             `json:"output"` // base name of -o
	Files    []ReportFileParam  `json:"files"`
	Head     string             `json:"head"`
	Verified bool               `json:"verified"`
	Problems int                `json:"problems"`
	Sheets   []ReportSheetParam `json:"sheets"`
}

// ReportFileParam is one written file.
type ReportFileParam struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ReportSheetParam is one sheet and its rows.
type ReportSheetParam struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// RecordReport appends the report's own ledger row through l (whose RunID
// should be ReportRunID): kind "file", query_name "report", result_hash
// the file's sha256 (see ReportResult.SHA256), and no blob: the workbook
// is not kept in the store, only its hash, so a copy handed to an auditor
// can be matched to this row. Reports leave these rows out of what they
// read, so recording one never changes the next.
func RecordReport(ctx context.Context, l *evidence.Ledger, res *ReportResult) (store.EvidenceRow, error) {
	if res == nil || res.SHA256 == "" {
		return store.EvidenceRow{}, errors.New("report: nothing written to record")
	}
	p := ReportParams{Review: res.Review, Format: string(res.Format), Output: baseName(res.Path), Head: res.Head.String(),
		Verified: res.Verified, Problems: len(res.Problems), Files: []ReportFileParam{}, Sheets: []ReportSheetParam{}}
	for _, f := range res.Files {
		p.Files = append(p.Files, ReportFileParam{Name: baseName(f.Path), Size: f.Size, SHA256: f.SHA256})
	}
	var rows int64
	for _, s := range res.Sheets {
		p.Sheets = append(p.Sheets, ReportSheetParam{Name: s.Name, Rows: s.Rows})
		rows += s.Rows
	}
	return l.AppendTx(ctx, evidence.Entry{Kind: evidence.KindFile, SourceSystem: "uar", QueryName: "report",
		QueryText: "write " + p.Output, Params: p, RowCount: rows, ResultHash: res.SHA256, Unkept: true})
}
