package kafka

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	cmapi "github.com/scalable-shop/shop/cm-api"
	"github.com/scalable-shop/shop/contract"
)

// Rebuild is a rebuild command as the consumer received it: recompute UserID's
// summary, in order with the user's purchases before (Partition, Offset). On the
// wire it is unchanged: a record marked by contract.HeaderCommand whose value is
// contract.RebuildUser, keyed by the user (see `cm-api users rebuild`).
type Rebuild struct {
	UserID    string
	Partition int
	Offset    int64
	At        time.Time // the record's timestamp
	// stored is how many of the batch's purchases came before the command.
	stored int
}

// deadLetter is a record that can never be stored and why.
type deadLetter struct {
	msg    kafka.Message
	reason string // contract.Reason*
	err    error
}

// plan is what a batch asks of the consumers. The purchases consumer writes the
// dead letters first (so a crash never loses one), then the purchases; the
// projection counts the purchases and runs each rebuild where it sits among
// them, so that it sees every purchase of its user delivered before it.
type plan struct {
	store    []cmapi.Delivery
	dead     []deadLetter
	rebuilds []Rebuild
}

// classify decides, record by record, what a batch asks for. It only decodes:
// nothing is written, so it is the same on every redelivery.
func classify(batch []kafka.Message) plan {
	var p plan
	for _, m := range batch {
		if cmd, ok := header(m, contract.HeaderCommand); ok {
			r, err := decodeCommand(cmd, m.Value)
			if err != nil {
				p.dead = append(p.dead, newDeadLetter(m, err))
				continue
			}
			p.rebuilds = append(p.rebuilds, Rebuild{UserID: r.UserID, Partition: m.Partition, Offset: m.Offset, At: m.Time, stored: len(p.store)})
			continue
		}
		e, err := contract.DecodeEvent(m.Value)
		if err != nil {
			p.dead = append(p.dead, newDeadLetter(m, err))
			continue
		}
		p.store = append(p.store, cmapi.Delivery{Event: e, Partition: m.Partition, Offset: m.Offset, Appended: m.Time})
	}
	return p
}

func header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func decodeCommand(cmd string, value []byte) (contract.RebuildUser, error) {
	if cmd != contract.CommandRebuildUser {
		return contract.RebuildUser{}, &contract.EventError{Reason: contract.ReasonMalformed, Err: fmt.Errorf("unknown command %q", cmd)}
	}
	return contract.DecodeRebuildUser(value)
}

func newDeadLetter(m kafka.Message, err error) deadLetter {
	reason := contract.ReasonMalformed
	var ee *contract.EventError
	if errors.As(err, &ee) {
		reason = ee.Reason
	}
	return deadLetter{msg: m, reason: reason, err: err}
}

// record is the DLQ record: the original key, value and headers, plus why and
// where it came from, so that it can be inspected and replayed.
func (d deadLetter) record() kafka.Message {
	m := d.msg
	headers := append([]kafka.Header{}, m.Headers...)
	headers = append(headers,
		kafka.Header{Key: contract.HeaderDLQReason, Value: []byte(d.reason)},
		kafka.Header{Key: contract.HeaderDLQError, Value: []byte(d.err.Error())},
		kafka.Header{Key: contract.HeaderDLQTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: contract.HeaderDLQPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: contract.HeaderDLQOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: headers}
}
