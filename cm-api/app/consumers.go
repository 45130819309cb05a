package app

import "github.com/scalable-shop/shop/cm-api/internal/kafka"

// bothConsumers is the state of the consumer role: the purchases consumer and
// the projection that follows it into the user summaries.
type bothConsumers struct{ purchases, summaries ConsumerState }

func (b bothConsumers) Status() kafka.Status {
	return mergeStatus(b.purchases.Status(), b.summaries.Status())
}

// mergeStatus reports the purchases consumer's state, with the projection's
// problems named after it: the probes see one consumer role. Either stalling
// fails liveness, since a restart of the process restarts both.
func mergeStatus(purchases, summaries kafka.Status) kafka.Status {
	first := func(a, b string) string {
		if a != "ok" {
			return a
		}
		return b
	}
	out := kafka.Status{
		Kafka:    first(purchases.Kafka, summaries.Kafka),
		Store:    first(purchases.Store, summaries.Store),
		Consumer: purchases.Consumer,
		Stalled:  purchases.Stalled || summaries.Stalled,
	}
	switch {
	case summaries.Consumer == "ok":
	case out.Consumer == "ok":
		out.Consumer = "summaries: " + summaries.Consumer
	default:
		out.Consumer += "; summaries: " + summaries.Consumer
	}
	return out
}
