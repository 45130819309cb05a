package app

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/cm-api/internal/kafka"
	"github.com/scalable-shop/shop/contract"
)

// dlqSelector picks dead letters for `cm-api dlq list` and `replay`. Every
// criterion that is set must hold; none set selects everything.
type dlqSelector struct {
	Reasons []string // dlq-reason header values
	// Offsets of the dead-letter topic, inclusive; -1: unbounded.
	From, To int64
	// IDs are dead-letter ids ("<partition>:<offset>" of the dead-letter topic,
	// as `dlq list` prints them) or purchase ids.
	IDs []string
}

func (s dlqSelector) empty() bool {
	return len(s.Reasons) == 0 && s.From < 0 && s.To < 0 && len(s.IDs) == 0
}

// dlqID is how `dlq list` names a dead letter.
func dlqID(d kafka.DeadLetter) string {
	return strconv.Itoa(d.Partition) + ":" + strconv.FormatInt(d.Offset, 10)
}

// matches reports whether the selector picks d.
func (s dlqSelector) matches(d kafka.DeadLetter) bool {
	if len(s.Reasons) > 0 && !contains(s.Reasons, d.Reason) {
		return false
	}
	if s.From >= 0 && d.Offset < s.From || s.To >= 0 && d.Offset > s.To {
		return false
	}
	if len(s.IDs) > 0 && !contains(s.IDs, dlqID(d)) && (purchaseID(d.Value) == "" || !contains(s.IDs, purchaseID(d.Value))) {
		return false
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// parseOffsets reads "A-B", "A-" or "-B" (inclusive) or a single "A".
func parseOffsets(s string) (from, to int64, err error) {
	bad := fmt.Errorf("--offsets %q: want FROM-TO, FROM-, -TO or one offset of the dead-letter topic, such as 10-20", s)
	lo, hi, isRange := strings.Cut(s, "-")
	parse := func(v string) (int64, error) {
		if v == "" {
			return -1, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, bad
		}
		return n, nil
	}
	if from, err = parse(lo); err != nil {
		return 0, 0, err
	}
	if !isRange {
		if from < 0 {
			return 0, 0, bad
		}
		return from, from, nil
	}
	if to, err = parse(hi); err != nil {
		return 0, 0, err
	}
	if from < 0 && to < 0 || from >= 0 && to >= 0 && from > to {
		return 0, 0, bad
	}
	return from, to, nil
}

// purchaseID is the "id" of a value that is a JSON object with one, else "".
func purchaseID(value []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(value, &v) != nil {
		return ""
	}
	return v.ID
}

// revalidate applies the consumer's own rules to a dead letter now: nil means
// the consumer would take it (store the purchase, or run the command).
func revalidate(d kafka.DeadLetter) error {
	if cmd, ok := d.Header(contract.HeaderCommand); ok {
		if cmd != contract.CommandRebuildUser {
			return fmt.Errorf("unknown command %q", cmd)
		}
		_, err := contract.DecodeRebuildUser(d.Value)
		return err
	}
	e, err := contract.DecodeEvent(d.Value)
	if err != nil {
		return err
	}
	// The key places the record on its user's partition, in order with the
	// user's other records; a wrong one would be stored but break that order.
	if string(d.Key) != e.UserID {
		return fmt.Errorf("record key %q is not the purchase's userid %q", d.Key, e.UserID)
	}
	return nil
}

// replayRecord is the record `dlq replay` writes for d: the original key and
// value, the original headers without the consumer's dlq-* ones, and a header
// naming the dead letter it came from. The purchase keeps its id, so if it was
// stored before, the consumer counts it as a duplicate and it stays stored once.
func replayRecord(d kafka.DeadLetter, dlqTopic string) kafkago.Message {
	var headers []kafkago.Header
	for _, h := range d.Headers {
		switch h.Key {
		case contract.HeaderDLQReason, contract.HeaderDLQError, contract.HeaderDLQTopic,
			contract.HeaderDLQPartition, contract.HeaderDLQOffset, contract.HeaderReplayedFrom:
			continue
		}
		headers = append(headers, h)
	}
	headers = append(headers, kafkago.Header{Key: contract.HeaderReplayedFrom,
		Value: []byte(dlqTopic + "/" + strconv.Itoa(d.Partition) + "/" + strconv.FormatInt(d.Offset, 10))})
	return kafkago.Message{Key: d.Key, Value: d.Value, Headers: headers}
}

// preview is a value as one readable line of at most n runes: invalid UTF-8
// and control characters are shown escaped, and a cut is marked with "…".
func preview(b []byte, n int) string {
	var sb strings.Builder
	runes := 0
	for len(b) > 0 {
		if runes == n {
			sb.WriteString("…")
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		case r == '\n':
			sb.WriteString(`\n`)
		case !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
		b = b[size:]
		runes++
	}
	return sb.String()
}

// skipped is a selected dead letter that replay leaves alone, and why.
type skipped struct {
	kafka.DeadLetter
	Problem error
}

// planReplay splits the selected dead letters into those the consumer would
// take now and those it would dead-letter again.
func planReplay(dls []kafka.DeadLetter, sel dlqSelector) (replay []kafka.DeadLetter, skip []skipped) {
	for _, d := range dls {
		if !sel.matches(d) {
			continue
		}
		if err := revalidate(d); err != nil {
			skip = append(skip, skipped{DeadLetter: d, Problem: err})
			continue
		}
		replay = append(replay, d)
	}
	return replay, skip
}
