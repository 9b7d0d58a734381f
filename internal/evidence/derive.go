package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/uar-dev/uar/internal/store"
)

// Derived is what a derivation pass wrote: the scopes of its rows and its
// typed params struct (recorded as the derive row's query_params, with the
// digests added under "digests"; a re-deriver reads it back with
// [DeriveParams]).
type Derived struct {
	Scopes []Scope
	Params any
}

// Derive is the one way a derivation pass writes derived rows: it reserves
// the id of the derive row that will seal them, lets write insert the rows
// pointing to that id, then seals the scopes write reports in the same
// transaction and returns the derive row.
//
// Callers MUST insert every derived row inside write, with evidence_id =
// the id it is given, and MUST report every scope they wrote: a row
// outside a sealed scope is reported by Verify.
func (l *Ledger) Derive(ctx context.Context, tx *store.Tx, name string, write func(evidenceID string) (Derived, error)) (store.EvidenceRow, error) {
	evID, err := NextID(ctx, tx)
	if err != nil {
		return store.EvidenceRow{}, err
	}
	d, err := write(evID)
	if err != nil {
		return store.EvidenceRow{}, err
	}
	extra, err := paramsMap(d.Params)
	if err != nil {
		return store.EvidenceRow{}, fmt.Errorf("evidence: params of %s: %w", name, err)
	}
	return l.seal(ctx, tx, name, d.Scopes, extra)
}

// paramsMap turns a typed params struct into the map Seal records.
func paramsMap(params any) (map[string]any, error) {
	if params == nil {
		return nil, nil
	}
	b, err := marshal(params)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep integers exact
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("params must encode as a JSON object: %w", err)
	}
	if _, clash := m["digests"]; clash {
		return nil, fmt.Errorf("params may not use the key %q", "digests")
	}
	return m, nil
}

// DeriveParams decodes the params a derive row recorded into v, the pass's
// typed params struct (the digests are ignored).
func DeriveParams(r store.EvidenceRow, v any) error {
	if r.Kind != KindDerive {
		return fmt.Errorf("evidence: seq %d is a %s row, not a derive row", r.Seq, r.Kind)
	}
	if err := json.Unmarshal([]byte(r.QueryParams), v); err != nil {
		return fmt.Errorf("evidence: seq %d (%s): params: %w", r.Seq, r.QueryName, err)
	}
	return nil
}
