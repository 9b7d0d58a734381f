package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/uar-dev/uar/internal/evidence"
	"github.com/uar-dev/uar/internal/review"
)

type verifyOptions struct {
	anchor   string
	rederive bool
}

const verifyLong = `Recompute the evidence chain, every blob hash and every derived-table digest,
and report every problem found (seq, table, what differs), not only the first.

verify needs nothing but the store: no config file, no secrets, no network. It
opens the store read-only and records no run, so an auditor's copy is left
byte-for-byte unchanged.

It also checks what an auditor reads beside the ledger: the schema (every
table, view, trigger and index must be what the migrations create, so a view
redefined to hide a finding is caught), every run against its run.start and
run.end ledger rows, and blobs no ledger row references.

A ledger whose last rows were removed still forms a valid chain. To catch
that, pass the head published at the time (publish and revoke write it on the
Confluence page, where its page history timestamps it) with --anchor SEQ:HASH.
verify prints the newest head the store recorded as anchored outside and how
many rows came after it.

It works on a read-only copy (a 0444 file in a 0555 folder, read-only media)
and never leaves -wal or -shm files beside it.

With --rederive, raw evidence is parsed again (recorded Okta pages, one page
at a time; recorded import files; recorded policy) and compared with the
derived tables, the completeness listings included.

Rows of a snapshot still being written, or left by a snapshot that was
killed, are staged: invisible to every view, not a problem, and listed on
their own line; the next snapshot removes them.

Examples:
  uar verify --db uar.db
  uar verify --db uar.db --anchor 1234:9f86d081884c7d65...
  uar verify --db uar.db --rederive --json

EXIT STATUS
  0  the store verifies
  2  usage error, or the store does not exist
  3  integrity failure: at least one problem was found`

func newVerifyCmd(env *Env, g *globalOptions) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the evidence chain, blobs and derived tables for tampering",
		Long:  verifyLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runVerify(c.Context(), env, g, o)
		},
	}
	cmd.Flags().StringVar(&o.anchor, "anchor", "", "externally published ledger head SEQ:HASH the ledger must contain")
	cmd.Flags().BoolVar(&o.rederive, "rederive", false, "re-parse raw evidence and compare with the derived tables")
	return cmd
}

func runVerify(ctx context.Context, env *Env, g *globalOptions, o *verifyOptions) error {
	if o.anchor != "" {
		if _, _, err := evidence.ParseAnchor(o.anchor); err != nil {
			return &UsageError{Err: fmt.Errorf("--anchor: %w", err)}
		}
	}
	st, err := openReadOnly(ctx, env, g)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := evidence.Options{Anchor: o.anchor}
	if o.rederive {
		opts.Rederivers = review.Rederivers()
	}
	sum, verr := evidence.Verify(ctx, st, opts)
	if sum == nil {
		return verr
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(env.Stderr, "uar: verify: %s\n", p)
	}
	if g.json {
		if err := writeJSON(env.Stdout, map[string]any{"ok": verr == nil, "summary": sum}); err != nil {
			return err
		}
	} else {
		state := "ok"
		if verr != nil {
			state = fmt.Sprintf("FAILED (%d problems)", len(sum.Problems))
		}
		head := sum.Head
		if head == "" {
			head = "empty ledger"
		}
		fmt.Fprintf(env.Stdout, "%s: %d ledger rows, head %s; %d blobs (%d bytes); %d derivations (%d rows)\n",
			state, sum.Rows, head, sum.Blobs, sum.BlobBytes, sum.Derivations, sum.DerivedRows)
		if sum.AnchoredHead != "" {
			fmt.Fprintf(env.Stdout, "anchored outside: %s in %s; %d ledger rows after it are not anchored yet\n", sum.AnchoredHead, sum.AnchoredIn, sum.UnanchoredRows)
		} else if sum.Rows > 0 {
			fmt.Fprintf(env.Stdout, "anchored outside: none yet (publish writes the head on the review page); %d ledger rows are not anchored\n", sum.UnanchoredRows)
		}
		if sum.Anchor != "" && sum.AnchorOK {
			fmt.Fprintf(env.Stdout, "anchor %s: present\n", sum.Anchor)
		}
		for _, st := range sum.Staged {
			fmt.Fprintf(env.Stdout, "staged: snapshot %d of %s (run %s, started %s): %d groups, %d users, %d memberships; invisible to every view, removed by the next snapshot\n",
				st.ID, st.Review, st.RunID, st.StartedAt, st.Groups, st.Users, st.Memberships)
		}
		for _, r := range sum.Rederived {
			fmt.Fprintf(env.Stdout, "rederived: %s\n", r)
		}
	}
	return verr
}
