package kafka

import (
	"context"
	"log/slog"
	"time"
)

// monitor reads, every second, kafka-go's reset-on-read stats into health, and
// every five seconds the group's lag and this member's assignment, which feed
// the metrics, the stall check of health and the rejoin watchdog.
func (c *Consumer) monitor(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := c.reader().Stats()
		c.mu.Lock()
		recovered := c.health.stats(time.Now(), st.Rebalances, st.Errors, st.Fetches)
		c.mu.Unlock()
		if recovered {
			c.opts.Log.Log(ctx, c.brokerLevel(slog.LevelInfo), "kafka consumer recovered")
		}
		if c.opts.Observe.Stats != nil {
			c.opts.Observe.Stats(st)
		}
		if tick%5 == 0 {
			c.checkLag(ctx)
		}
	}
}

// checkLag reads the lag and acts on it. A reading that fails decides nothing:
// a Kafka outage is reported as such, not as a stall.
func (c *Consumer) checkLag(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	lag, err := c.conn.PartitionLag(lctx, c.opts.Group, c.opts.Topic)
	if err != nil {
		c.mu.Lock()
		c.health.ownLag(time.Now(), 0, false)
		c.mu.Unlock()
		return
	}
	var total int64
	for p, l := range lag {
		total += l
		if c.opts.Observe.Lag != nil {
			c.opts.Observe.Lag(p, l)
		}
	}
	mine, known, err := c.conn.MemberPartitions(lctx, c.opts.Group, c.clientID, c.opts.Topic)
	c.mu.Lock()
	c.health.ownLag(time.Now(), ownLag(lag, mine), known && err == nil)
	busy := c.health.inBatch
	c.mu.Unlock()

	w := watch{groupLag: total, busy: busy, idle: time.Since(time.Unix(0, c.lastFetch.Load())), sinceRejoin: time.Since(c.lastRejoin)}
	if !shouldRejoin(w, rejoinAfter(c.opts.SessionTimeout)) {
		return
	}
	c.lastRejoin = time.Now()
	c.opts.Log.Warn("kafka consumer stalled: the group has lag but nothing was fetched; rejoining the group",
		"lag", total, "idle_s", int(w.idle.Seconds()))
	if stop := c.stopReader.Load(); stop != nil {
		(*stop)()
	}
}
