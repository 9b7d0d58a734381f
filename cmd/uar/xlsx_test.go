package main

import (
	"fmt"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/xuri/excelize/v2"
)

func init() { extraScriptCmds["xlsx2tsv"] = cmdXLSX2TSV }

// xlsx2tsv FILE SHEET prints a worksheet's cells as they show, one row per
// line, tab-separated (so goldens never compare zip bytes), and fails if
// any cell of the workbook holds a formula.
func cmdXLSX2TSV(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: xlsx2tsv FILE SHEET")
	}
	f, err := excelize.OpenFile(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("xlsx2tsv: %v", err)
	}
	defer f.Close()
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			ts.Fatalf("xlsx2tsv: %s: %v", sheet, err)
		}
		for r, row := range rows {
			for c := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if fm, _ := f.GetCellFormula(sheet, cell); fm != "" {
					ts.Fatalf("xlsx2tsv: %s!%s is a formula: %s", sheet, cell, fm)
				}
			}
		}
	}
	rows, err := f.GetRows(args[1])
	if err != nil {
		ts.Fatalf("xlsx2tsv: %v", err)
	}
	for _, row := range rows {
		fmt.Fprintln(ts.Stdout(), strings.Join(row, "\t"))
	}
}
