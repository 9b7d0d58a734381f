package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/uar-dev/uar/internal/store"
)

// Kinds of ledger rows.
const (
	KindCall   = "call"   // a request to an outside system and its raw response
	KindDerive = "derive" // a local derivation pass sealing derived-table rows
	KindFile   = "file"   // a local input file (import, policy) kept as a blob
)

// GenesisHash is the prev_hash of the first ledger row.
var GenesisHash = strings.Repeat("0", 64)

// ErrTampered is returned by Verify when any check fails.
var ErrTampered = errors.New("evidence: integrity check failed")

// Ledger appends rows for one run. It is safe for concurrent use: each
// append is serialised by the store's single write connection.
type Ledger struct {
	Store  *store.Store
	RunID  string
	Review string
	Actor  string
}

// Entry is what a caller records; the ledger fills seq, id, times and hashes.
type Entry struct {
	Kind         string
	SourceSystem string
	QueryName    string
	QueryText    string
	Params       any       // canonicalised into query_params
	SourceTime   time.Time // the server's Date header or the service's own timestamp
	RowCount     int64
	// Body is the raw result; it becomes a blob and result_hash is its
	// sha256. For derive rows Body is nil and ResultHash is given.
	Body       []byte
	ResultHash string
	// Extra are further blobs to store (e.g. a request body); their hashes
	// should already be named in Params.
	Extra [][]byte
	// Unkept marks a row about bytes uar wrote elsewhere and does not keep
	// (a report file): ResultHash is their sha256, no blob is stored and
	// blob_hash stays empty, so Verify has no blob to check for it.
	Unkept bool
}

var (
	encOnce sync.Once
	enc     *zstd.Encoder
	decOnce sync.Once
	dec     *zstd.Decoder
)

func encoder() *zstd.Encoder {
	encOnce.Do(func() {
		var err error
		// Two encoders: pages recorded by concurrent fetches compress in
		// parallel (outside the write transaction, see AppendTx). A 1 MiB
		// window holds a whole Okta page (about 0.5 MB at 1,000 users)
		// and keeps each encoder's history at a few MB instead of 16.
		// SpeedFastest: on Okta pages it compresses as well as the
		// default (10.8x against 10.9x) for a sixth less CPU.
		enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(1<<20))
		if err != nil {
			panic(err)
		}
	})
	return enc
}

func decoder() *zstd.Decoder {
	decOnce.Do(func() {
		var err error
		dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			panic(err)
		}
	})
	return dec
}

// Decompress returns a blob's raw bytes.
func Decompress(compressed []byte) ([]byte, error) {
	return decoder().DecodeAll(compressed, nil)
}

// PutBlob stores b content-addressed in tx and returns its hash.
func PutBlob(ctx context.Context, tx *store.Tx, b []byte) (string, error) {
	return putPrepared(ctx, tx, prepareBlob(b))
}

// preparedBlob is a blob hashed and compressed, ready to store.
type preparedBlob struct {
	hash string
	size int64
	data []byte
}

func prepareBlob(b []byte) preparedBlob {
	// Compress into a pooled buffer and keep an exact copy: EncodeAll
	// sizes a fresh buffer to the input, ten times what a page needs.
	sp := compressPool.Get().(*[]byte)
	out := encoder().EncodeAll(b, (*sp)[:0])
	data := bytes.Clone(out)
	*sp = out[:0]
	compressPool.Put(sp)
	return preparedBlob{hash: Sum(b), size: int64(len(b)), data: data}
}

var compressPool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

func putPrepared(ctx context.Context, tx *store.Tx, p preparedBlob) (string, error) {
	if err := tx.PutBlob(ctx, p.hash, p.size, p.data); err != nil {
		return "", err
	}
	return p.hash, nil
}

// BlobHash returns the hash PutBlob would store b under, without storing.
func BlobHash(b []byte) string { return Sum(b) }

// EvidenceID is the id of the ledger row at seq: deterministic, so derived
// rows written in the same transaction can point to their sealing row.
func EvidenceID(seq int64) string { return fmt.Sprintf("E%08d", seq) }

// NextID returns the id the next row appended in tx will get. The
// transaction holds the write lock, so it cannot change underneath.
func NextID(ctx context.Context, tx *store.Tx) (string, error) {
	h, err := tx.Head(ctx)
	if err != nil {
		return "", err
	}
	return EvidenceID(h.Seq + 1), nil
}

// Append adds e to the ledger inside tx and returns the row written.
func (l *Ledger) Append(ctx context.Context, tx *store.Tx, e Entry) (store.EvidenceRow, error) {
	return l.appendPrepared(ctx, tx, e, prepareBlobs(e))
}

// keepsBody reports whether e's body is stored as a blob: always, except
// for a derive row without one and an unkept row.
func keepsBody(e Entry) bool { return !e.Unkept && (e.Body != nil || e.Kind != KindDerive) }

// prepareBlobs hashes and compresses e's blobs: the body (see keepsBody)
// and then its extra blobs.
func prepareBlobs(e Entry) []preparedBlob {
	var out []preparedBlob
	if keepsBody(e) {
		out = append(out, prepareBlob(e.Body))
	}
	for _, x := range e.Extra {
		out = append(out, prepareBlob(x))
	}
	return out
}

func (l *Ledger) appendPrepared(ctx context.Context, tx *store.Tx, e Entry, blobs []preparedBlob) (store.EvidenceRow, error) {
	h, err := tx.Head(ctx)
	if err != nil {
		return store.EvidenceRow{}, err
	}
	prev := h.Hash
	if h.Seq == 0 {
		prev = GenesisHash
	}
	params := e.Params
	if params == nil {
		params = map[string]any{}
	}
	pj, err := Canonical(params)
	if err != nil {
		return store.EvidenceRow{}, fmt.Errorf("evidence: params of %s: %w", e.QueryName, err)
	}
	r := store.EvidenceRow{
		Seq: h.Seq + 1, ID: EvidenceID(h.Seq + 1), RunID: l.RunID, Review: l.Review, Kind: e.Kind,
		SourceSystem: e.SourceSystem, QueryName: e.QueryName, QueryText: e.QueryText, QueryParams: string(pj),
		ExecutedAt: store.FormatTime(tx.Now), SourceTime: store.FormatTime(e.SourceTime), ExecutedBy: l.Actor,
		ResultRowCount: e.RowCount, ResultHash: e.ResultHash, PrevHash: prev,
	}
	if e.Unkept && (e.Body != nil || len(e.Extra) > 0 || len(e.ResultHash) != 64) {
		return store.EvidenceRow{}, fmt.Errorf("evidence: %s: an unkept row has no body and a sha256 result hash", e.QueryName)
	}
	for i, b := range blobs {
		bh, err := putPrepared(ctx, tx, b)
		if err != nil {
			return store.EvidenceRow{}, err
		}
		if i == 0 && keepsBody(e) {
			r.BlobHash, r.ResultHash = bh, bh
		}
	}
	r.EntryHash, err = EntryHash(r)
	if err != nil {
		return store.EvidenceRow{}, err
	}
	if err := tx.InsertEvidence(ctx, r); err != nil {
		return store.EvidenceRow{}, err
	}
	return r, nil
}

// AppendTx appends e in a transaction of its own. Its blobs are hashed
// and compressed before the transaction takes the store's write lock, so
// concurrent callers (the pages of a snapshot) do that work in parallel.
func (l *Ledger) AppendTx(ctx context.Context, e Entry) (store.EvidenceRow, error) {
	blobs := prepareBlobs(e)
	var r store.EvidenceRow
	err := l.Store.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		r, err = l.appendPrepared(ctx, tx, e, blobs)
		return err
	})
	return r, err
}

// EntryHash computes a row's entry_hash from its other fields.
func EntryHash(r store.EvidenceRow) (string, error) {
	prev, err := hex.DecodeString(r.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("evidence: seq %d: prev_hash %q is not a sha256", r.Seq, r.PrevHash)
	}
	body, err := canonicalRow(r)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte{0x00})
	h.Write(prev)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Scope names one derived table's rows written by a pass.
type Scope struct {
	Table string
	Scope any // the value of the table's scope column (an int64 id or a string)
}

// seal appends the derive row that closes a derivation pass: it digests
// every scope's rows as they now stand in tx and records the digests, so a
// later edit of any of those rows is detected by Verify. Callers write the
// rows first with evidence_id = NextID(tx), then seal in the same tx;
// [Ledger.Derive] is the only caller.
func (l *Ledger) seal(ctx context.Context, tx *store.Tx, name string, scopes []Scope, extra map[string]any) (store.EvidenceRow, error) {
	digests := make([]store.Digest, 0, len(scopes))
	var rows int64
	for _, s := range scopes {
		d, err := tx.Digest(ctx, s.Table, s.Scope)
		if err != nil {
			return store.EvidenceRow{}, err
		}
		digests = append(digests, d)
		rows += d.Rows
	}
	params := map[string]any{"digests": digests}
	for k, v := range extra {
		params[k] = v
	}
	dj, err := Canonical(digests)
	if err != nil {
		return store.EvidenceRow{}, err
	}
	return l.Append(ctx, tx, Entry{
		Kind: KindDerive, SourceSystem: "uar", QueryName: name, QueryText: "derive " + name,
		Params: params, RowCount: rows, ResultHash: Sum(dj),
	})
}

// RecordFile stores a local input file (an import, a policy) as a blob
// with a ledger row naming it; the row's id is returned for provenance.
func (l *Ledger) RecordFile(ctx context.Context, tx *store.Tx, name, fileName string, data []byte, rows int64) (store.EvidenceRow, error) {
	return l.Append(ctx, tx, Entry{
		Kind: KindFile, SourceSystem: "local", QueryName: name, QueryText: "read " + fileName,
		Params: map[string]any{"file": fileName, "size": len(data)}, RowCount: rows, Body: data,
	})
}

// canonicalRow is Canonical(r) without the generic round trip: the row is
// flat (strings and integers), so a map marshalled once (encoding/json
// sorts map keys) is already canonical. TestCanonicalRow holds the two
// equal. EntryHash is excluded, as in the struct's json tags.
func canonicalRow(r store.EvidenceRow) ([]byte, error) {
	return marshal(map[string]any{
		"seq": r.Seq, "id": r.ID, "run_id": r.RunID, "review": r.Review, "kind": r.Kind,
		"source_system": r.SourceSystem, "query_name": r.QueryName, "query_text": r.QueryText,
		"query_params": r.QueryParams, "executed_at": r.ExecutedAt, "source_time": r.SourceTime,
		"executed_by": r.ExecutedBy, "result_row_count": r.ResultRowCount, "result_hash": r.ResultHash,
		"blob_hash": r.BlobHash, "prev_hash": r.PrevHash,
	})
}
