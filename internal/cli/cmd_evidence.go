package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/store"
)

type evidenceShowOptions struct{ raw bool }

const evidenceLong = `Read the evidence ledger of a store.

'uar evidence show' prints one ledger row; with --raw, the raw bytes that row
recorded (an Okta page, a Jira comment listing, an imported file, a policy)
exactly as received, so any figure in a report can be traced to the response
it came from: a sheet row's evidence_id, or a seq found with
'uar query trace-access', names the row.`

const evidenceShowLong = `Print one ledger row, by its seq (42) or its id (E00000042): who ran what,
when, against which service, the server's own time, the row and blob hashes
and the chain hashes. With --raw, write the raw bytes of the row's blob to
stdout instead, exactly as recorded (after checking they still hash to the
recorded value), e.g. to open the Okta page an access was read from.

A derive row (a snapshot, a scoring, a decisions pass) has no raw bytes: its
params list the digests of the rows it sealed. A report's own row keeps only
the report file's sha256.

Like verify, it opens the store read-only and needs no config or secrets.

Examples:
  uar evidence show 42 --db uar.db
  uar evidence show E00000042 --json
  uar evidence show 42 --raw | jq '.[] | .profile.login'

EXIT STATUS
  0  printed
  2  usage error, no such store, no such row, or --raw on a row without bytes
  3  the blob no longer hashes to the recorded value (tampered)`

func newEvidenceCmd(env *Env, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Read the evidence ledger: one row and its raw bytes",
		Long:  evidenceLong,
		Args:  noArgs,
	}
	o := &evidenceShowOptions{}
	show := &cobra.Command{
		Use:   "show SEQ|ID",
		Short: "Print a ledger row, or with --raw the raw bytes it recorded",
		Long:  evidenceShowLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runEvidenceShow(c.Context(), env, g, o, args[0])
		},
	}
	show.Flags().BoolVar(&o.raw, "raw", false, "write the row's raw bytes to stdout")
	cmd.AddCommand(show)
	return cmd
}

var evidenceIDPattern = regexp.MustCompile(`^[Ee][0-9]+$`)

func runEvidenceShow(ctx context.Context, env *Env, g *globalOptions, o *evidenceShowOptions, arg string) error {
	if o.raw && g.json {
		return usageErrorf("--raw writes the raw bytes; it cannot be combined with --json")
	}
	var seq int64
	var id string
	switch {
	case evidenceIDPattern.MatchString(arg):
		id = strings.ToUpper(arg)
	default:
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 1 {
			return usageErrorf("%q: give a ledger seq (42) or evidence id (E00000042)", arg)
		}
		seq = n
	}
	st, err := openReadOnly(ctx, env, g)
	if err != nil {
		return err
	}
	defer st.Close()
	var r store.EvidenceRow
	if id != "" {
		r, err = st.EvidenceByID(ctx, id)
	} else {
		r, err = st.EvidenceAt(ctx, seq)
	}
	if errors.Is(err, store.ErrNotFound) {
		return WithHint(usageErrorf("no ledger row %s in %s", arg, st.Path()), "uar query evidence lists every row")
	}
	if err != nil {
		return err
	}
	var raw []byte
	var blobSize int64
	var blobErr error
	if r.BlobHash != "" {
		var compressed []byte
		blobSize, compressed, blobErr = st.Blob(ctx, r.BlobHash)
		if blobErr == nil {
			raw, blobErr = evidence.Decompress(compressed)
		}
		if blobErr == nil && evidence.Sum(raw) != r.BlobHash {
			blobErr = fmt.Errorf("blob %s of seq %d no longer hashes to its name (%s): %w", r.BlobHash, r.Seq, evidence.Sum(raw), evidence.ErrTampered)
		}
	}
	if o.raw {
		switch {
		case r.BlobHash == "":
			return WithHint(usageErrorf("seq %d is a %s row (%s): it recorded no raw bytes", r.Seq, r.Kind, r.QueryName),
				"its params (uar evidence show without --raw) say what it sealed or wrote")
		case errors.Is(blobErr, store.ErrNotFound):
			return fmt.Errorf("seq %d: its blob %s is missing: %w", r.Seq, r.BlobHash, evidence.ErrTampered)
		case blobErr != nil:
			return blobErr
		}
		_, err := env.Stdout.Write(raw)
		return err
	}
	if g.json {
		blob := map[string]any{"hash": r.BlobHash, "size": blobSize, "ok": blobErr == nil}
		if r.BlobHash == "" {
			blob = nil
		}
		type row struct {
			store.EvidenceRow
			EntryHash string `json:"entry_hash"` // the row's own json tag hides it
		}
		return writeJSON(env.Stdout, map[string]any{"evidence": row{r, r.EntryHash}, "blob": blob})
	}
	rows := [][]string{
		{"seq", strconv.FormatInt(r.Seq, 10)}, {"id", r.ID}, {"run_id", r.RunID}, {"review", r.Review}, {"kind", r.Kind},
		{"source_system", r.SourceSystem}, {"query_name", r.QueryName}, {"query_text", r.QueryText},
		{"query_params", r.QueryParams}, {"executed_at", r.ExecutedAt}, {"source_time", r.SourceTime},
		{"executed_by", r.ExecutedBy}, {"result_row_count", strconv.FormatInt(r.ResultRowCount, 10)},
		{"result_hash", r.ResultHash}, {"blob_hash", r.BlobHash}, {"prev_hash", r.PrevHash}, {"entry_hash", r.EntryHash},
	}
	if r.BlobHash != "" {
		state := fmt.Sprintf("%d bytes, hash ok (uar evidence show %d --raw prints them)", blobSize, r.Seq)
		if blobErr != nil {
			state = "PROBLEM: " + blobErr.Error()
		}
		rows = append(rows, []string{"blob", state})
	}
	if err := writeTable(env.Stdout, env.StdoutTTY, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	if errors.Is(blobErr, evidence.ErrTampered) || errors.Is(blobErr, store.ErrNotFound) {
		return fmt.Errorf("seq %d: %w", r.Seq, evidence.ErrTampered)
	}
	return blobErr
}
