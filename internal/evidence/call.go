package evidence

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/uar-dev/uar/internal/store"
)

// Call is a recorded outside call decoded from its ledger row: what the
// [Recorder] wrote, read back. Status 0 means the call got no response
// (Error says why).
type Call struct {
	Seq         int64
	Service     string
	Method      string
	URL         string // the request URL as recorded (secrets redacted)
	Status      int
	Error       string
	RequestID   string
	Headers     map[string]string // the kept response headers, lower-case names
	Query       map[string][]string
	RequestBody string // hash of the recorded request body blob, if any
	BlobHash    string // the response body blob
}

// callParams is the query_params shape the Recorder writes.
type callParams struct {
	Query       map[string][]string `json:"query"`
	Status      int                 `json:"status"`
	Error       string              `json:"error"`
	Headers     map[string]string   `json:"headers"`
	RequestID   string              `json:"request_id"`
	RequestBody string              `json:"request_body"`
}

// DecodeCall reads a call row written by the Recorder.
func DecodeCall(r store.EvidenceRow) (Call, error) {
	if r.Kind != KindCall {
		return Call{}, fmt.Errorf("evidence: seq %d is a %s row, not a call", r.Seq, r.Kind)
	}
	method, u, ok := strings.Cut(r.QueryText, " ")
	if !ok || method == "" || u == "" {
		return Call{}, fmt.Errorf("evidence: seq %d: query_text %q is not \"METHOD URL\"", r.Seq, r.QueryText)
	}
	var p callParams
	if err := json.Unmarshal([]byte(r.QueryParams), &p); err != nil {
		return Call{}, fmt.Errorf("evidence: seq %d: params: %w", r.Seq, err)
	}
	return Call{Seq: r.Seq, Service: r.SourceSystem, Method: method, URL: u, Status: p.Status, Error: p.Error,
		RequestID: p.RequestID, Headers: p.Headers, Query: p.Query, RequestBody: p.RequestBody, BlobHash: r.BlobHash}, nil
}
