package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/platform/secretfile"
)

// cursorCodec makes opaque page cursors: the position of the last purchase of a
// page, bound to the user and signed, so a forged or foreign cursor is refused
// instead of silently reading from an arbitrary position.
//
// The key is a secret of its own (cursor.key), shared by every cm-api pod: a
// cursor one pod returned pages on any other. During a rotation the previous key
// (cursor.previous_key) is accepted as well, so cursors handed out before it
// keep working; both may come from files that are re-read without a restart.
type cursorCodec struct {
	current, previous secretSource
}

// secretSource is a secret given as a value or as a watched file.
type secretSource struct {
	value string
	file  *secretfile.File
}

func (s secretSource) get() string {
	if s.file != nil {
		return string(s.file.Get().Data)
	}
	return s.value
}

// newCursorCodec signs with a fixed key and accepts no other.
func newCursorCodec(secret string) cursorCodec {
	return cursorCodec{current: secretSource{value: secret}}
}

func cursorKey(secret string) []byte {
	k := sha256.Sum256([]byte("cm-api cursor key\x00" + secret))
	return k[:]
}

// mac signs with the current key.
func (c cursorCodec) mac(userID, payload string) []byte {
	return macWith(cursorKey(c.current.get()), userID, payload)
}

// signedByAKey reports whether mac signs payload under the current or the
// previous key.
func (c cursorCodec) signedByAKey(userID, payload string, mac []byte) bool {
	if hmac.Equal(mac, c.mac(userID, payload)) {
		return true
	}
	prev := c.previous.get()
	return prev != "" && hmac.Equal(mac, macWith(cursorKey(prev), userID, payload))
}

func macWith(key []byte, userID, payload string) []byte {
	h := hmac.New(sha256.New, key)
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
	if err1 != nil || err2 != nil || !c.signedByAKey(userID, string(payload), mac) {
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

// newCursorKeys builds the codec from the cursor settings; files are watched
// (see secretfile) so that a rotation needs no restart.
func newCursorKeys(c CursorConfig, onError func(error)) (cursorCodec, error) {
	var codec cursorCodec
	for _, k := range []struct {
		src         *secretSource
		value, file string
	}{{&codec.current, c.Key, c.KeyFile}, {&codec.previous, c.PreviousKey, c.PreviousKeyFile}} {
		if k.file == "" {
			k.src.value = k.value
			continue
		}
		f, err := secretfile.Open(k.file)
		if err != nil {
			return cursorCodec{}, err
		}
		f.OnError = onError
		k.src.file = f
	}
	return codec, nil
}
