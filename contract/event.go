package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// EventVersion is the schema version cm-server writes and cm-api reads. A consumer
// dead-letters versions it does not know instead of guessing.
const EventVersion = 1

// EventContentType goes into the content-type header of every purchase event.
const EventContentType = "application/vnd.scalable-shop.purchase.v1+json"

// Event is the value of a record on TopicPurchases. The key is UserID.
type Event struct {
	Version    int       `json:"version"`
	ID         string    `json:"id"`
	UserID     string    `json:"userid"`
	Username   string    `json:"username"`
	PriceCents int64     `json:"price_cents"`
	Timestamp  time.Time `json:"timestamp"`   // when the customer bought, per the client
	ReceivedAt time.Time `json:"received_at"` // when cm-server accepted it
}

// NewEvent builds the event for a validated purchase.
func NewEvent(id string, p Purchase, receivedAt time.Time) Event {
	return Event{
		Version: EventVersion, ID: id, UserID: p.UserID, Username: p.Username,
		PriceCents: p.PriceCents, Timestamp: p.Timestamp.UTC(), ReceivedAt: receivedAt.UTC(),
	}
}

// EncodeEvent returns the value of the event's record: byte for byte what
// json.Marshal(e) writes (the contract's tests hold it to that), without
// reflection and in one allocation, because cm-server encodes one per buy.
func EncodeEvent(e Event) ([]byte, error) {
	if !jsonTime(e.Timestamp) || !jsonTime(e.ReceivedAt) {
		return json.Marshal(e) // its error names the field
	}
	b := make([]byte, 0, 256+len(e.Username)+len(e.UserID))
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"userid":`...)
	b = appendJSONString(b, e.UserID)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, e.Username)
	b = append(b, `,"price_cents":`...)
	b = strconv.AppendInt(b, e.PriceCents, 10)
	b = append(b, `,"timestamp":"`...)
	b = e.Timestamp.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","received_at":"`...)
	b = e.ReceivedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, nil
}

// jsonTime reports whether time.Time.MarshalJSON would accept t (years 0-9999,
// an offset of whole minutes within a day).
func jsonTime(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off%60 == 0 && off > -24*3600 && off < 24*3600
}

// appendJSONString quotes s as encoding/json does. Plain printable ASCII (the
// user id and purchase id always, most names) is copied; anything else goes
// through encoding/json, so escaping (HTML characters, U+2028, invalid UTF-8)
// stays exactly the standard library's.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Reasons an event is dead-lettered; they go into the HeaderDLQReason header.
const (
	ReasonMalformed = "malformed"           // not JSON, or JSON of the wrong shape
	ReasonVersion   = "unsupported_version" // a schema version this consumer does not know
	ReasonInvalid   = "invalid_purchase"    // well-formed, but breaks a purchase rule
)

// EventError says why an event cannot be stored. It is permanent: retrying the same
// bytes gives the same answer, so the consumer dead-letters it and moves on.
type EventError struct {
	Reason string
	Err    error
}

func (e *EventError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *EventError) Unwrap() error { return e.Err }

// DecodeEvent parses and validates the value of a purchase record.
func DecodeEvent(b []byte) (Event, error) {
	bad := func(reason, format string, args ...any) (Event, error) {
		return Event{}, &EventError{Reason: reason, Err: fmt.Errorf(format, args...)}
	}
	if !utf8.Valid(b) {
		return bad(ReasonMalformed, "value is not valid UTF-8")
	}
	// The common case in one pass: a well-formed version-1 event. Anything else
	// takes the careful path below, which tells a wrong version from a malformed
	// value, so the answer is the same either way.
	{
		var e Event
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if dec.Decode(&e) == nil && e.Version == EventVersion && atEOF(dec) {
			if err := e.Validate(); err != nil {
				return bad(ReasonInvalid, "%v", err)
			}
			return e, nil
		}
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return bad(ReasonMalformed, "value is not a JSON object: %v", err)
	}
	if head.Version == nil {
		return bad(ReasonMalformed, "value has no version")
	}
	if *head.Version != EventVersion {
		return bad(ReasonVersion, "version %d is not supported (want %d)", *head.Version, EventVersion)
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return bad(ReasonMalformed, "%v", err)
	}
	if dec.More() {
		return bad(ReasonMalformed, "trailing data after the JSON object")
	}
	if err := e.Validate(); err != nil {
		return bad(ReasonInvalid, "%v", err)
	}
	return e, nil
}

// atEOF reports whether only white space follows the decoded value.
func atEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// Validate applies the purchase rules to an event. Unlike a buy request it does not
// compare with the clock: a redelivered event must get the same answer a year later.
func (e Event) Validate() error {
	var errs []error
	if !ValidPurchaseID(e.ID) {
		errs = append(errs, errors.New("id: must be a lowercase UUID"))
	}
	if p := CheckUserID(e.UserID); p != "" {
		errs = append(errs, errors.New("userid: "+p))
	}
	if p := CheckUsername(e.Username); p != "" {
		errs = append(errs, errors.New("username: "+p))
	}
	if e.PriceCents <= 0 || e.PriceCents > MaxPriceCents {
		errs = append(errs, fmt.Errorf("price_cents: must be between 1 and %d", MaxPriceCents))
	}
	if e.Timestamp.Before(minTimestamp) || e.Timestamp.Year() > 9999 {
		errs = append(errs, errors.New("timestamp: out of range"))
	}
	if e.ReceivedAt.Before(minTimestamp) || e.ReceivedAt.Year() > 9999 {
		errs = append(errs, errors.New("received_at: out of range"))
	}
	return errors.Join(errs...)
}

// ValidPurchaseID reports whether s is a UUID in canonical lowercase form.
func ValidPurchaseID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
