package contract

import (
	"errors"
	"fmt"
)

// Error codes. Each service maps them to HTTP statuses in one table; anything that
// carries no code is an internal error and its details are never shown to a client.
const (
	EInvalid          = "invalid_request"        // 400
	EUnauthorized     = "unauthorized"           // 401
	EForbidden        = "forbidden"              // 403
	ENotFound         = "not_found"              // 404
	EMethodNotAllowed = "method_not_allowed"     // 405
	ETooLarge         = "payload_too_large"      // 413
	EUnsupportedMedia = "unsupported_media_type" // 415
	ETooManyRequests  = "too_many_requests"      // 429
	EInternal         = "internal"               // 500
	EUpstream         = "bad_gateway"            // 502
	EUnavailable      = "unavailable"            // 503
)

// Error is an error whose code and message are safe to show to a client.
type Error struct {
	Code    string
	Message string
	Fields  []FieldProblem
}

// FieldProblem says what is wrong with one field of a request.
type FieldProblem struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s %s", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Problem)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any
// other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorBody is the JSON every error response carries.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Fields  []FieldProblem `json:"fields,omitempty"`
}

// Body returns the client-safe JSON body for err.
func Body(err error) ErrorBody {
	var e *Error
	if errors.As(err, &e) {
		return ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields}}
	}
	return ErrorBody{Error: ErrorDetail{Code: EInternal, Message: "internal error"}}
}
