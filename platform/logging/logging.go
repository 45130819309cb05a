// Package logging builds the slog logger a service writes with.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Formats a logger can write.
const (
	FormatAuto = "auto" // JSON, or text when the output is a terminal
	FormatJSON = "json"
	FormatText = "text"
)

// Levels returns the accepted level names.
func Levels() []string { return []string{"debug", "info", "warn", "error"} }

// Formats returns the accepted format names.
func Formats() []string { return []string{FormatAuto, FormatJSON, FormatText} }

// New returns a logger writing to w at level in format, tagged with the service name.
func New(w io.Writer, service, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q is not one of %s", level, strings.Join(Levels(), ", "))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == FormatAuto {
		format = FormatJSON
		if isTerminal(w) {
			format = FormatText
		}
	}
	var h slog.Handler
	switch format {
	case FormatJSON:
		h = slog.NewJSONHandler(w, opts)
	case FormatText:
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q is not one of %s", format, strings.Join(Formats(), ", "))
	}
	return slog.New(traceHandler{h}).With("service", service), nil
}

// traceHandler adds the trace and span ids of the context to every record logged
// with one (the *Context methods), so a log line leads to its trace.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
