package app

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are cm-server's own figures; HTTP metrics come from httpobserve.
type metrics struct {
	produce *prometheus.HistogramVec
	shed    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cm_server_kafka_produce_duration_seconds", Help: "Time until the broker acknowledged a purchase, by result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cm_server_buys_shed_total", Help: "Buys answered 503 at once because kafka.max_in_flight buys were already waiting for the broker.",
		}),
	}
	reg.MustRegister(m.produce, m.shed)
	return m
}

func (m *metrics) observeProduce(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.produce.WithLabelValues(result).Observe(d.Seconds())
}
