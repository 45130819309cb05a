package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Topic names. The chart, the local stack and the tests create them up front: a
// kafka-go Reader started before its topic exists can sit without partitions.
const (
	TopicPurchases = "purchases"
	TopicDLQ       = "purchases.dlq"

	// DefaultPartitions is the partition count of TopicPurchases everywhere. It bounds
	// how far cm-api scales out, and changing it later moves users to other partitions.
	DefaultPartitions = 6
)

// Headers on the purchase event and on dead letters.
const (
	HeaderContentType = "content-type"
	HeaderTraceParent = "traceparent"

	// HeaderCommand marks a record on TopicPurchases that is a command to cm-api
	// rather than a purchase. Commands about a user are keyed by the user id, so
	// they reach the consumer in order with that user's purchases.
	HeaderCommand = "shop-command"

	HeaderDLQError     = "dlq-error"
	HeaderDLQReason    = "dlq-reason"
	HeaderDLQTopic     = "dlq-original-topic"
	HeaderDLQPartition = "dlq-original-partition"
	HeaderDLQOffset    = "dlq-original-offset"

	// HeaderReplayedFrom is on a record `cm-api dlq replay` put back on
	// TopicPurchases: the dead letter it came from, as "<topic>/<partition>/<offset>".
	HeaderReplayedFrom = "shop-replayed-from"
)

// CommandRebuildUser asks cm-api to recompute a user's summary from the stored
// purchases. Its value is RebuildUser as JSON.
const CommandRebuildUser = "users.rebuild"

// RebuildUser is the value of a CommandRebuildUser record.
type RebuildUser struct {
	UserID string `json:"userid"`
}

// DecodeRebuildUser parses and checks the value of a CommandRebuildUser record.
func DecodeRebuildUser(b []byte) (RebuildUser, error) {
	var r RebuildUser
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return RebuildUser{}, &EventError{Reason: ReasonMalformed, Err: fmt.Errorf("rebuild command: %v", err)}
	}
	if _, err := dec.Token(); err == nil {
		return RebuildUser{}, &EventError{Reason: ReasonMalformed, Err: fmt.Errorf("rebuild command: trailing data after the JSON object")}
	}
	if p := CheckUserID(r.UserID); p != "" {
		return RebuildUser{}, &EventError{Reason: ReasonInvalid, Err: fmt.Errorf("rebuild command: userid %s", p)}
	}
	return r, nil
}
