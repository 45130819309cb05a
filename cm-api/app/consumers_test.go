package app

import (
	"testing"

	"github.com/scalable-shop/shop/cm-api/internal/kafka"
)

func TestTheProbesSeeBothConsumers(t *testing.T) {
	ok := kafka.Status{Kafka: "ok", Store: "ok", Consumer: "ok"}
	cases := []struct {
		name                 string
		purchases, summaries kafka.Status
		want                 kafka.Status
	}{
		{"both fine", ok, ok, ok},
		{"projection joining", ok, kafka.Status{Kafka: "ok", Store: "ok", Consumer: "joining group cm-api-summaries"},
			kafka.Status{Kafka: "ok", Store: "ok", Consumer: "summaries: joining group cm-api-summaries"}},
		{"both paused", kafka.Status{Kafka: "ok", Store: "insert failed", Consumer: "paused"},
			kafka.Status{Kafka: "ok", Store: "update failed", Consumer: "paused"},
			kafka.Status{Kafka: "ok", Store: "insert failed", Consumer: "paused; summaries: paused"}},
		{"projection stalled", ok, kafka.Status{Kafka: "ok", Store: "ok", Consumer: "stalled", Stalled: true},
			kafka.Status{Kafka: "ok", Store: "ok", Consumer: "summaries: stalled", Stalled: true}},
		{"projection's kafka error", ok, kafka.Status{Kafka: "SASL refused", Store: "ok", Consumer: "ok"},
			kafka.Status{Kafka: "SASL refused", Store: "ok", Consumer: "ok"}},
	}
	for _, c := range cases {
		if got := mergeStatus(c.purchases, c.summaries); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
