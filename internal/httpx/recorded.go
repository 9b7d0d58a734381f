package httpx

import (
	"bytes"
	"context"
)

// Recording is what an evidence recorder kept of one response: the ledger
// row it wrote, the hash of the bytes it stored and those bytes.
type Recording struct {
	EvidenceID string // the ledger row of the exchange (E00000042)
	Hash       string // sha256 of Body, the row's result_hash
	Body       []byte // the body as stored: callers MUST NOT modify it
}

// RecordedBody is the response body an evidence recorder hands on: the
// response, readable as usual, plus the Recording itself, so that a caller
// can use the stored bytes (and name their ledger row) instead of reading
// and copying them again. What Read returns and Recording().Body are the
// same bytes unless the recorder kept a credential field out of storage
// (an OAuth token answer).
type RecordedBody struct {
	r   bytes.Reader
	rec Recording
}

// NewRecordedBody returns a body reading body, recorded as rec.
func NewRecordedBody(body []byte, rec Recording) *RecordedBody {
	b := &RecordedBody{rec: rec}
	b.r.Reset(body)
	return b
}

func (b *RecordedBody) Read(p []byte) (int, error) { return b.r.Read(p) }

// Close does nothing: the bytes are in memory.
func (b *RecordedBody) Close() error { return nil }

// Recording returns what was recorded.
func (b *RecordedBody) Recording() Recording { return b.rec }

// BodyHook inspects a successful (2xx) response body before an evidence
// recorder records it and returns how many result rows it holds (the
// ledger row's result_row_count). It is how a caller that must parse the
// body anyway does it once: the recorder records the count the parse
// found instead of scanning the body for it. It receives exactly the bytes
// stored, which are never reused, so it may keep references to them; it
// MUST NOT modify them. A non-nil error is the hook's own affair (the
// recorder then counts the rows itself and records the response as usual).
type BodyHook func(body []byte) (rows int64, err error)

type bodyHookKey struct{}

// WithBodyHook returns a context whose requests' bodies are given to h.
func WithBodyHook(ctx context.Context, h BodyHook) context.Context {
	return context.WithValue(ctx, bodyHookKey{}, h)
}

// BodyHookFrom returns the hook of ctx, or nil.
func BodyHookFrom(ctx context.Context) BodyHook {
	h, _ := ctx.Value(bodyHookKey{}).(BodyHook)
	return h
}
