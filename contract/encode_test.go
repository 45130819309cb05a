package contract_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
)

// EncodeEvent must write exactly what json.Marshal writes: consumers of the topic
// (and the DLQ's copies) see the same bytes whichever encoder made them.
func TestEncodeEventIsJSONMarshal(t *testing.T) {
	zone := time.FixedZone("X", -7*3600-30*60)
	names := []string{"Ada Lovelace", `Zoë "Z" <z@x> & co`, "back\\slash", "tab\there", "line\u2028sep", "emoji 🛒",
		"bad \xff utf8", "ctrl \x01", ""}
	times := []time.Time{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, zone),
		time.Date(2000, 1, 1, 0, 0, 0, 1, time.UTC), {}}
	for _, name := range names {
		for _, ts := range times {
			e := contract.Event{Version: 1, ID: "01a21452-703b-75a8-b160-1d3c6be5a2f3", UserID: "u.1_x-Y", Username: name,
				PriceCents: 99_999_999, Timestamp: ts, ReceivedAt: ts.Add(time.Second)}
			want, werr := json.Marshal(e)
			got, gerr := contract.EncodeEvent(e)
			if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
				t.Errorf("EncodeEvent(%q, %v)\n got %s, %v\nwant %s, %v", name, ts, got, gerr, want, werr)
			}
		}
	}
	bad := contract.Event{Version: 1, Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := contract.EncodeEvent(bad); err == nil {
		t.Error("EncodeEvent accepted year 10000; json.Marshal refuses it")
	}
}

// The one-pass path of DecodeEvent must answer as the careful path does,
// trailing data included.
func TestDecodeEventTrailing(t *testing.T) {
	v, _ := contract.EncodeEvent(contract.NewEvent("01a21452-703b-75a8-b160-1d3c6be5a2f3",
		contract.Purchase{UserID: "u", Username: "U", PriceCents: 1, Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)))
	if _, err := contract.DecodeEvent(append(append([]byte{}, v...), " \n"...)); err != nil {
		t.Errorf("trailing space refused: %v", err)
	}
	for _, tail := range []string{"}", "]", " {}", "x"} {
		if _, err := contract.DecodeEvent(append(append([]byte{}, v...), tail...)); err == nil {
			t.Errorf("trailing %q accepted", tail)
		}
	}
}
