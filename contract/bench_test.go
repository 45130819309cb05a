package contract_test

import (
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
)

// The hot paths of a purchase through the contract: cm-server validates the body
// (DecodeBuyRequest) and encodes the event; cm-api decodes and validates it.
// Compare runs with `hack/tools.sh benchstat` (see BENCHMARKS.md).

var (
	benchBody = []byte(`{"username":"Ada Lovelace","userid":"ada-1815","price":"12.50","timestamp":"2026-11-25T10:00:00Z"}`)
	benchNow  = time.Date(2026, 11, 25, 20, 7, 56, 731_000_000, time.UTC)
	benchEv   = contract.NewEvent("01a21452-703b-75a8-b160-1d3c6be5a2f3",
		contract.Purchase{UserID: "ada-1815", Username: "Ada Lovelace", PriceCents: 1250,
			Timestamp: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}, benchNow)
	sink any
)

func BenchmarkDecodeBuyRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		p, err := contract.DecodeBuyRequest(benchBody, benchNow)
		if err != nil {
			b.Fatal(err)
		}
		sink = p
	}
}

func BenchmarkDecodeBuyRequestInvalid(b *testing.B) {
	body := []byte(`{"username":" ","userid":"a b","price":"1.005"}`)
	b.ReportAllocs()
	for b.Loop() {
		_, err := contract.DecodeBuyRequest(body, benchNow)
		if err == nil {
			b.Fatal("accepted")
		}
		sink = err
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v := encodeEvent(benchEv)
		sink = v
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	v := encodeEvent(benchEv)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		e, err := contract.DecodeEvent(v)
		if err != nil {
			b.Fatal(err)
		}
		sink = e
	}
}

// encodeEvent is what cm-server's producer puts on the topic (json.Marshal
// before EncodeEvent existed).
func encodeEvent(e contract.Event) []byte {
	v, err := contract.EncodeEvent(e)
	if err != nil {
		panic(err)
	}
	return v
}
