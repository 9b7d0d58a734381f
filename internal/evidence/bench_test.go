package evidence

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/uar-dev/uar/internal/store"
)

// blob4K returns n distinct 4 KiB bodies shaped like JSON pages: half
// random (incompressible) bytes, half repetitive, so zstd does real work.
func blob4K(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, 4096)
		rand.Read(b[:2048])
		for j := 2048; j < 4096; j++ {
			b[j] = "{\"id\":\"00u\",\"status\":\"ACTIVE\"},"[j%31]
		}
		out[i] = b
	}
	return out
}

// BenchmarkAppend4KiBOneTx measures ledger appends with a 4 KiB blob each,
// all in one transaction (target >= 5,000/s on a 2-core machine).
func BenchmarkAppend4KiBOneTx(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "uar.db"))
	l := newLedger(s)
	bodies := blob4K(b.N)
	ctx := context.Background()
	b.SetBytes(4096)
	b.ResetTimer()
	err := s.WithTx(ctx, func(tx *store.Tx) error {
		for i := 0; i < b.N; i++ {
			if _, err := l.Append(ctx, tx, Entry{Kind: KindCall, SourceSystem: "okta", QueryName: "okta GET /api/v1/groups/{id}/users",
				QueryText: "GET https://acme.okta.com/api/v1/groups/00g1/users", Params: map[string]any{"i": i}, Body: bodies[i], RowCount: 10}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkVerify measures verify throughput over blob bytes (target >=
// 100 MB/s): a ledger of 2,000 rows with 64 KiB blobs (125 MiB raw).
func BenchmarkVerify(b *testing.B) {
	path := filepath.Join(b.TempDir(), "uar.db")
	s := openStore(b, path)
	l := newLedger(s)
	ctx := context.Background()
	const rows, size = 2000, 64 << 10
	var total int64
	err := s.WithTx(ctx, func(tx *store.Tx) error {
		body := make([]byte, size)
		for i := range rows {
			rand.Read(body[:size/2]) // half random, half zeros: realistic ratio
			if _, err := l.Append(ctx, tx, Entry{Kind: KindCall, SourceSystem: "okta", QueryName: "page", QueryText: "GET /x",
				Params: map[string]any{"i": i}, Body: append([]byte(nil), body...)}); err != nil {
				return err
			}
			total += size
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		sum, err := verify(b, path, Options{})
		if err != nil || sum.BlobBytes != total {
			b.Fatalf("verify: %v %d", err, sum.BlobBytes)
		}
	}
}

// BenchmarkScan is the Recorder's one pass over an Okta member page: the
// secret forms of a token and the credential-field markers.
func BenchmarkScan(b *testing.B) {
	var page bytes.Buffer
	page.WriteString("[")
	for i := range 700 {
		if i > 0 {
			page.WriteString(",")
		}
		fmt.Fprintf(&page, `{"id":"00u%017d","status":"ACTIVE","created":"2021-03-04T05:06:07.000Z","activated":"2021-03-04T05:06:07.000Z","statusChanged":"2021-03-04T05:06:07.000Z","lastLogin":"2026-11-01T08:09:10.000Z","lastUpdated":"2026-11-01T08:09:10.000Z","passwordChanged":null,"type":{"id":"oty1defaultusertype0"},"profile":{"firstName":"Dana","lastName":"Silva","mobilePhone":null,"secondEmail":null,"login":"dana.silva%d@company.com","email":"dana.silva%d@company.com","title":"Senior Accountant","department":"Finance","userType":"Employee","employeeNumber":"%d","manager":"Nora Khan","managerId":"00u00000000000000042"},"credentials":{"password":{},"provider":{"type":"OKTA","name":"OKTA"}},"_links":{"self":{"href":"http://127.0.0.1:1234/api/v1/users/00u%017d"}}}`, i, i, i, i, i)
	}
	page.WriteString("]")
	sc := newScrubberWithMarkers(SecretForms([]string{"00-fake-okta-token-AbCdEf123456"}, nil), secretJSONKeys)
	b.SetBytes(int64(page.Len()))
	for b.Loop() {
		if _, found := sc.Scan(page.Bytes()); found {
			b.Fatal("found a credential field")
		}
	}
}
