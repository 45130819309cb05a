package contract

import (
	"net/url"
	"strconv"
	"time"
)

// BuyAccepted is the body of a 202 from POST /buy.
type BuyAccepted struct {
	ID     string `json:"id"`
	Status string `json:"status"` // always "accepted": the broker has the purchase
}

// PurchaseView is one purchase as both APIs show it. Price is a decimal string.
type PurchaseView struct {
	ID         string    `json:"id"`
	UserID     string    `json:"userid"`
	Username   string    `json:"username"`
	Price      string    `json:"price"`
	Timestamp  time.Time `json:"timestamp"`
	ReceivedAt time.Time `json:"received_at"`
}

// PurchasePage is one page of a user's purchases, newest first, after the user's
// summary (absent for a user without purchases). NextCursor is empty on the last
// page; pass it back as ?cursor= for the next one.
type PurchasePage struct {
	UserID     string         `json:"userid"`
	User       *UserSummary   `json:"user,omitempty"`
	Purchases  []PurchaseView `json:"purchases"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// UserSummary is what the shop knows of a user, kept exact as purchases arrive.
type UserSummary struct {
	UserID        string    `json:"userid"`
	Username      string    `json:"username"` // of the user's latest purchase
	PurchaseCount int64     `json:"purchase_count"`
	TotalSpent    string    `json:"total_spent"` // decimal, like prices
	FirstPurchase time.Time `json:"first_purchase"`
	LastPurchase  time.Time `json:"last_purchase"`
	// AsOf: every purchase of the user acknowledged before this time is
	// counted. Summaries trail the purchases (cm_api_summaries_lag); absent for a
	// summary stored before summaries carried it.
	AsOf time.Time `json:"as_of,omitzero"`
}

// Paging limits of the look-up APIs.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
	MaxCursorLen     = 512
)

// Page is a validated paging request.
type Page struct {
	Limit  int
	Cursor string
}

// ParsePage validates the limit and cursor query parameters. The cursor stays opaque
// here: only cm-api can tell a forged one, but its syntax is checked at the edge.
func ParsePage(limit, cursor string) (Page, error) {
	p := Page{Limit: DefaultPageLimit, Cursor: cursor}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		// Plain digits only: Atoi would also take "+5" and "05".
		if err != nil || n < 1 || n > MaxPageLimit || limit[0] < '1' || limit[0] > '9' {
			return Page{}, &Error{Code: EInvalid, Message: "invalid paging parameter",
				Fields: []FieldProblem{{Field: "limit", Problem: "must be a whole number from 1 to " + strconv.Itoa(MaxPageLimit)}}}
		}
		p.Limit = n
	}
	if !cursorSyntax(cursor) {
		return Page{}, &Error{Code: EInvalid, Message: "invalid paging parameter",
			Fields: []FieldProblem{{Field: "cursor", Problem: "is not a cursor this API returned"}}}
	}
	return p, nil
}

func cursorSyntax(c string) bool {
	if len(c) > MaxCursorLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// CheckUserIDParam validates a user id taken from a URL path.
func CheckUserIDParam(id string) error {
	if p := CheckUserID(id); p != "" {
		return &Error{Code: EInvalid, Message: "invalid user id",
			Fields: []FieldProblem{{Field: "userid", Problem: p}}}
	}
	return nil
}

// UserIDFromPath decodes and validates a user id taken from a URL path. Routers
// match on the escaped path, so the value may still hold percent-escapes
// (%41da is ada). The ids "." and ".." arrive only escaped (%2E, %2E%2E): HTTP
// clients remove them as dot segments otherwise.
func UserIDFromPath(raw string) (string, error) {
	id, err := url.PathUnescape(raw)
	if err != nil {
		id = raw // a broken escape keeps its '%', which the check refuses
	}
	return id, CheckUserIDParam(id)
}

// UserIDPathSegment is the inverse of UserIDFromPath for a valid id: the id
// itself, with "." and ".." escaped so that no client or proxy drops them.
func UserIDPathSegment(id string) string {
	switch id {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(id)
}
