// Package evidence implements uar's tamper-evident ledger on top of the
// store: canonical JSON, the hash chain, content-addressed zstd blobs, the
// derived-pass seals, an http.RoundTripper (Recorder) that turns every
// outside call into a ledger row, and Verify.
//
// # The chain
//
// Every ledger row is hashed as
//
//	entry_hash = sha256(0x00 || prev || canonical_json(row without entry_hash))
//
// where prev is the previous row's entry_hash as 32 raw bytes (32 zero
// bytes for the first row) and the 0x00 prefix separates this domain from
// any other use of the hash, in the spirit of RFC 6962. Hashes are stored
// as lower-case hex. Raw bytes live in blobs, keyed by the sha256 of the
// uncompressed bytes; a row names its blob by that hash.
//
// # Runs and anchors
//
// Each run's start and end are ledger rows (StartRun, FinishRun,
// MarkAbandonedRuns) appended in the same transaction as the runs row, and
// every head written outside the store is recorded (RecordAnchor). They
// are derive rows with query_name run.start, run.end or anchor, an empty
// digest list and their content in query_params; see QueryRunStart.
//
// # What Verify checks
//
// See [Verify]: the schema against the migrations, the chain, blobs
// (altered, missing and unreferenced), derived tables, runs and anchors.
package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Canonical returns the canonical JSON encoding of v: object keys sorted,
// no insignificant whitespace, no HTML escaping, numbers as written by
// encoding/json. Two equal values always encode to the same bytes.
func Canonical(v any) ([]byte, error) {
	raw, err := marshal(v)
	if err != nil {
		return nil, err
	}
	// Round-trip through a generic value so struct field order and
	// json.RawMessage contents are normalised too.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return marshal(g)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// MustCanonical is Canonical for values that cannot fail to encode
// (maps of strings and numbers built by uar itself).
func MustCanonical(v any) []byte {
	b, err := Canonical(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Sum returns the lower-case hex sha256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
