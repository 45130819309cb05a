package app

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/cm-api/internal/kafka"
)

// metrics are cm-api's consumer and look-up figures; HTTP metrics come from
// httpobserve. The consumer's hot path logs nothing per message: these counters
// are its record.
type metrics struct {
	batchSize   prometheus.Histogram
	stored      prometheus.Counter
	duplicates  prometheus.Counter
	storeErrors prometheus.Counter
	storeTime   prometheus.Histogram
	deadLetters *prometheus.CounterVec
	lag         *prometheus.GaugeVec
	rebalances  prometheus.Counter
	// The projection: purchases counted into summaries, and how far it trails.
	summariesCounted prometheus.Counter
	summariesLag     *prometheus.GaugeVec
	// Look-ups refused for want of a slot (lookup.max_concurrent) and those
	// holding one.
	lookupsShed     prometheus.Counter
	lookupsInFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cm_api_consumer_batch_size", Help: "Events per consumed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		stored:      prometheus.NewCounter(prometheus.CounterOpts{Name: "cm_api_purchases_stored_total", Help: "Purchases newly stored."}),
		duplicates:  prometheus.NewCounter(prometheus.CounterOpts{Name: "cm_api_purchases_duplicate_total", Help: "Redelivered purchases skipped because they were already stored."}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "cm_api_store_errors_total", Help: "Failed MongoDB batch writes (retried)."}),
		storeTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cm_api_store_duration_seconds", Help: "Time to store one batch, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cm_api_dead_letters_total", Help: "Events copied to the DLQ, by reason."}, []string{"reason"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cm_api_consumer_lag",
			Help: "Records of the topic not yet committed by the consumer group, per partition."}, []string{"partition"}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "cm_api_consumer_rebalances_total", Help: "Consumer group generations joined."}),
		summariesCounted: prometheus.NewCounter(prometheus.CounterOpts{Name: "cm_api_summaries_counted_total",
			Help: "Stored purchases counted into their users' summaries by the projection."}),
		summariesLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cm_api_summaries_lag",
			Help: "Records of the topic not yet counted into the user summaries (the projection's group), per partition."}, []string{"partition"}),
		lookupsShed: prometheus.NewCounter(prometheus.CounterOpts{Name: "cm_api_lookups_shed_total",
			Help: "Look-ups answered 503 at once because lookup.max_concurrent look-ups already held the store."}),
		lookupsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cm_api_lookups_in_flight",
			Help: "Look-ups running store calls now (at most lookup.max_concurrent)."}),
	}
	reg.MustRegister(m.batchSize, m.stored, m.duplicates, m.storeErrors, m.storeTime, m.deadLetters, m.lag, m.rebalances,
		m.summariesCounted, m.summariesLag, m.lookupsShed, m.lookupsInFlight)
	return m
}

func (m *metrics) consumerObserver() kafka.Observer {
	return kafka.Observer{
		Batch: func(n int) { m.batchSize.Observe(float64(n)) },
		Stored: func(inserted, dups int, d time.Duration) {
			m.stored.Add(float64(inserted))
			m.duplicates.Add(float64(dups))
			m.storeTime.Observe(d.Seconds())
		},
		StoreError: m.storeErrors.Inc,
		DeadLetter: func(reason string) { m.deadLetters.WithLabelValues(reason).Inc() },
		Stats:      func(st kafkago.ReaderStats) { m.rebalances.Add(float64(st.Rebalances)) },
		Lag:        func(p int, lag int64) { m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(lag)) },
	}
}

func (m *metrics) summariesObserver() kafka.Observer {
	return kafka.Observer{
		Stored:     func(counted, _ int, _ time.Duration) { m.summariesCounted.Add(float64(counted)) },
		StoreError: m.storeErrors.Inc,
		Lag:        func(p int, lag int64) { m.summariesLag.WithLabelValues(strconv.Itoa(p)).Set(float64(lag)) },
	}
}
