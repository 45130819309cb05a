// Package config loads a service's settings in layers (defaults < config file <
// environment < flags) with viper, and reads typed values so that a bad one stops the
// service with a single line naming the setting, where it came from, and a fix.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Setting declares one configuration key.
type Setting struct {
	Key     string // dotted, e.g. "kafka.brokers"
	Default string
	Usage   string
	// Secret settings also accept KEY_file (a path whose content is the value) and
	// are never printed.
	Secret bool
}

// Values holds the loaded settings. Typed getters record the first problem;
// check Err once after reading everything.
type Values struct {
	v      *viper.Viper
	prefix string
	source map[string]string
	secret map[string]bool // keys whose values are never shown
	err    error
	getenv func(string) string
}

// ErrHelp is returned by Load when the flags asked for help; the usage is printed.
var ErrHelp = pflag.ErrHelp

// Load reads the settings of a service. prefix is its environment prefix such as
// "CM_SERVER"; args are the command-line arguments without the program name.
func Load(name, prefix string, settings []Setting, args []string, getenv func(string) string, stderr io.Writer) (*Values, error) {
	v := viper.New()
	vals := &Values{v: v, prefix: prefix, source: map[string]string{}, secret: map[string]bool{}, getenv: getenv}

	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", getenv(prefix+"_CONFIG"), "YAML config file (env "+prefix+"_CONFIG)")
	known := map[string]bool{}
	for _, s := range settings {
		v.SetDefault(s.Key, s.Default)
		vals.source[s.Key] = "default"
		known[s.Key] = true
		fs.String(s.Key, s.Default, fmt.Sprintf("%s (env %s)", s.Usage, vals.EnvName(s.Key)))
		if s.Secret {
			vals.secret[s.Key] = true
			fk := s.Key + "_file"
			v.SetDefault(fk, "")
			vals.source[fk] = "default"
			known[fk] = true
			fs.String(fk, "", fmt.Sprintf("file holding %s (env %s)", s.Key, vals.EnvName(fk)))
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, fmt.Errorf("config: %w (run with --help for the list of flags)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q (settings are flags such as --http.addr=:8080)", fs.Arg(0))
	}

	if *configFile != "" {
		v.SetConfigFile(*configFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: cannot read config file %s: %w", *configFile, err)
		}
		file := viper.New()
		file.SetConfigFile(*configFile)
		file.SetConfigType("yaml")
		_ = file.ReadInConfig()
		for _, k := range file.AllKeys() {
			if !known[k] {
				return nil, fmt.Errorf("config: config file %s sets unknown setting %q; known settings are listed by --help", *configFile, k)
			}
			vals.source[k] = "config file " + *configFile
		}
	}
	// The environment is read through getenv rather than viper.AutomaticEnv so that
	// tests and the in-process local stack can give each service its own.
	keys := make([]string, 0, len(known))
	for k := range known {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if env := vals.EnvName(k); getenv(env) != "" {
			v.Set(k, getenv(env))
			vals.source[k] = env
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed && known[f.Name] {
			v.Set(f.Name, f.Value.String())
			vals.source[f.Name] = "flag --" + f.Name
		}
	})
	return vals, nil
}

// EnvName is the environment variable of a key: PREFIX_KEY with dots as underscores.
func (c *Values) EnvName(key string) string {
	return c.prefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Err returns the first problem any getter found.
func (c *Values) Err() error { return c.err }

func (c *Values) fail(key, value, problem string) {
	if c.err != nil {
		return
	}
	shown := fmt.Sprintf("%q", value)
	if c.secret[key] && value != "" {
		shown = "(secret, not shown)"
	}
	c.err = fmt.Errorf("config: %s = %s (from %s) %s; set %s or --%s", key, shown, c.source[key], problem, c.EnvName(key), key)
}

// failSecret records a problem with the file of the secret setting key.
func (c *Values) failSecret(key, problem string) {
	if c.err == nil {
		fk := key + "_file"
		c.err = fmt.Errorf("config: %s (from %s) %s; set %s or %s", fk, c.source[fk], problem, c.EnvName(fk), c.EnvName(key))
	}
}

// String returns the value of key as text.
func (c *Values) String(key string) string { return strings.TrimSpace(c.v.GetString(key)) }

// OneOf returns the value of key if it is one of the allowed ones.
func (c *Values) OneOf(key string, allowed ...string) string {
	s := strings.ToLower(c.String(key))
	if !slices.Contains(allowed, s) {
		c.fail(key, s, "is not one of "+strings.Join(quoteAll(allowed), ", "))
	}
	return s
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// Duration returns a positive duration (or zero if allowZero).
func (c *Values) Duration(key string, allowZero bool) time.Duration {
	s := c.String(key)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.fail(key, s, "is not a duration; use a value such as 250ms, 5s or 1m")
	case d < 0 || d == 0 && !allowZero:
		c.fail(key, s, "must be greater than zero")
	}
	return d
}

// Int returns an integer within [lo, hi].
func (c *Values) Int(key string, lo, hi int) int {
	s := c.String(key)
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		c.fail(key, s, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n
}

// Float returns a number within [lo, hi].
func (c *Values) Float(key string, lo, hi float64) float64 {
	s := c.String(key)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < lo || f > hi {
		c.fail(key, s, fmt.Sprintf("must be a number from %g to %g", lo, hi))
	}
	return f
}

// Bool returns a boolean.
func (c *Values) Bool(key string) bool {
	s := c.String(key)
	b, err := strconv.ParseBool(s)
	if err != nil {
		c.fail(key, s, "must be true or false")
	}
	return b
}

// Addr returns a host:port listen or dial address.
func (c *Values) Addr(key string) string {
	s := c.String(key)
	if _, port, err := net.SplitHostPort(s); err != nil || !validPort(port) {
		c.fail(key, s, "is not a host:port address such as :8080 or 127.0.0.1:9092")
	}
	return s
}

// List returns a non-empty comma-separated list of host:port addresses.
func (c *Values) AddrList(key string) []string {
	s := c.String(key)
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(part); err != nil || !validPort(port) {
			c.fail(key, s, "must be a comma-separated list of host:port addresses")
			return nil
		}
		out = append(out, part)
	}
	if len(out) == 0 {
		c.fail(key, s, "must name at least one host:port address")
	}
	return out
}

// Required records a problem if the value of key is empty.
func (c *Values) Required(key string) string {
	s := c.String(key)
	if s == "" {
		c.fail(key, s, "is required")
	}
	return s
}

// Secret returns the value of a secret setting, from KEY or from the file KEY_file
// names. It never puts the value into an error.
func (c *Values) Secret(key string) string {
	file := c.String(key + "_file")
	if file == "" {
		return c.String(key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		c.failSecret(key, fmt.Sprintf("names a file that cannot be read (%v)", errors.Unwrap(err)))
		return ""
	}
	return strings.TrimSpace(string(b))
}

// File records a problem if a non-empty path setting names no readable file.
func (c *Values) File(key string) string {
	s := c.String(key)
	if s == "" {
		return ""
	}
	if _, err := os.Stat(s); err != nil {
		c.fail(key, s, "names a file that does not exist")
	}
	return s
}

// Invalid records a problem with key that the caller found itself.
func (c *Values) Invalid(key, problem string) {
	c.fail(key, c.String(key), problem)
}

// validPort reports whether p is a decimal port number from 0 to 65535.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535 && p[0] != '+' && p[0] != '-'
}
