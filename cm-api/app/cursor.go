package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/scalable-shop/shop/contract"
)

// cursorCodec makes opaque page cursors: the position of the last purchase of a
// page, bound to the user and signed, so a forged or foreign cursor is refused
// instead of silently reading from an arbitrary position.
type cursorCodec struct{ key []byte }

func newCursorCodec(secret string) cursorCodec {
	k := sha256.Sum256([]byte("cm-api cursor key\x00" + secret))
	return cursorCodec{key: k[:]}
}

func (c cursorCodec) mac(userID, payload string) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(payload))
	return h.Sum(nil)[:16]
}

// Encode returns the cursor for the position after (ts, id).
func (c cursorCodec) Encode(userID string, ts time.Time, id string) string {
	payload := "1|" + strconv.FormatInt(ts.UnixMilli(), 10) + "|" + id
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(c.mac(userID, payload))
}

// Decode checks and opens a cursor of userID.
func (c cursorCodec) Decode(userID, cursor string) (time.Time, string, error) {
	forged := &contract.Error{Code: contract.EInvalid, Message: "invalid paging parameter",
		Fields: []contract.FieldProblem{{Field: "cursor", Problem: "is not a cursor this API returned"}}}
	enc := base64.RawURLEncoding
	p64, m64, ok := strings.Cut(cursor, ".")
	if !ok {
		return time.Time{}, "", forged
	}
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, c.mac(userID, string(payload))) {
		return time.Time{}, "", forged
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 3 || parts[0] != "1" || !contract.ValidPurchaseID(parts[2]) {
		return time.Time{}, "", forged
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, "", forged
	}
	return time.UnixMilli(ms).UTC(), parts[2], nil
}
