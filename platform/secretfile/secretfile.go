// Package secretfile keeps the content of a small file (a mounted Kubernetes
// Secret: a token, a JWKS, a certificate) current without a restart, and cheap to
// read on the hot path.
//
// A read costs one atomic load. At most once per CheckInterval a reader also
// stats the file (without blocking other readers); the file is read again when
// its identity, size or modification time changed, and in any case every
// RereadInterval, so that an in-place rewrite of the same size within the
// filesystem's timestamp granularity is still picked up. Kubernetes replaces a
// Secret volume's files by swapping a symlink, which changes the identity.
//
// A file that disappears, cannot be read or comes back empty keeps its last
// good content (a Secret update is not atomic for every writer); the problem is
// reported once through OnError.
package secretfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of File.
const (
	CheckInterval  = time.Second
	RereadInterval = 10 * time.Second
)

// Content is one version of the file.
type Content struct {
	// Data is the file as read, surrounding white space removed.
	Data []byte
	// Version counts the changes seen since Open, starting at 1.
	Version uint64
	// Read is when this version was read.
	Read time.Time
}

// Lines returns the non-empty lines of the content, trimmed; lines starting with
// # are comments.
func (c *Content) Lines() []string {
	var out []string
	for _, l := range strings.Split(string(c.Data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// File is a watched file. Its methods are safe for concurrent use.
type File struct {
	path string
	// OnChange, if set, is called (from a reader's goroutine) after a new version
	// was loaded. OnError is called once per distinct problem.
	OnChange func(*Content)
	OnError  func(error)
	// Now is the clock; tests may replace it before the first Get.
	Now func() time.Time

	checkEvery, rereadEvery time.Duration

	cur       atomic.Pointer[Content]
	nextCheck atomic.Int64 // unix nanos
	mu        sync.Mutex   // held by the one reader doing a check
	info      os.FileInfo
	lastErr   string
}

// Open reads path once; it fails if the file cannot be read or is empty.
func Open(path string) (*File, error) {
	f := &File{path: path, Now: time.Now, checkEvery: CheckInterval, rereadEvery: RereadInterval}
	info, data, err := f.read()
	if err != nil {
		return nil, err
	}
	f.info = info
	now := f.Now()
	f.cur.Store(&Content{Data: data, Version: 1, Read: now})
	f.nextCheck.Store(now.Add(f.checkEvery).UnixNano())
	return f, nil
}

// SetIntervals changes how often the file is checked and re-read regardless of
// its stat (tests use short ones).
func (f *File) SetIntervals(check, reread time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkEvery, f.rereadEvery = check, reread
	f.nextCheck.Store(0)
}

// Path is the watched path.
func (f *File) Path() string { return f.path }

// Get returns the current content, checking the file first if the interval has
// passed. It never blocks on another reader's check.
func (f *File) Get() *Content {
	if f.Now().UnixNano() >= f.nextCheck.Load() && f.mu.TryLock() {
		f.check(false)
		f.mu.Unlock()
	}
	return f.cur.Load()
}

// Check checks the file now, waiting for a check in progress. It returns the
// content then current.
func (f *File) Check() *Content {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.check(true)
	return f.cur.Load()
}

// check runs with mu held.
func (f *File) check(force bool) {
	now := f.Now()
	if !force && now.UnixNano() < f.nextCheck.Load() {
		return // another reader just did it
	}
	f.nextCheck.Store(now.Add(f.checkEvery).UnixNano())
	cur := f.cur.Load()
	info, err := os.Stat(f.path)
	if err != nil {
		f.report(fmt.Errorf("%s: %w; keeping the last content read", f.path, errors.Unwrap(err)))
		return
	}
	if !force && f.info != nil && os.SameFile(info, f.info) && info.Size() == f.info.Size() &&
		info.ModTime().Equal(f.info.ModTime()) && now.Sub(cur.Read) < f.rereadEvery {
		return
	}
	info, data, err := f.read()
	if err != nil {
		f.report(fmt.Errorf("%w; keeping the last content read", err))
		return
	}
	f.info, f.lastErr = info, ""
	if bytes.Equal(data, cur.Data) {
		f.cur.Store(&Content{Data: cur.Data, Version: cur.Version, Read: now})
		return
	}
	next := &Content{Data: data, Version: cur.Version + 1, Read: now}
	f.cur.Store(next)
	if f.OnChange != nil {
		f.OnChange(next)
	}
}

func (f *File) read() (os.FileInfo, []byte, error) {
	fd, err := os.Open(f.path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.path, errors.Unwrap(err))
	}
	defer func() { _ = fd.Close() }()
	info, err := fd.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.path, err)
	}
	const maxSize = 1 << 20
	if info.Size() > maxSize {
		return nil, nil, fmt.Errorf("%s: larger than 1 MiB", f.path)
	}
	b := make([]byte, 0, info.Size()+1)
	buf := bytes.NewBuffer(b)
	if _, err := buf.ReadFrom(fd); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.path, err)
	}
	data := bytes.TrimSpace(buf.Bytes())
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s is empty", f.path)
	}
	return info, data, nil
}

func (f *File) report(err error) {
	if err.Error() == f.lastErr {
		return
	}
	f.lastErr = err.Error()
	if f.OnError != nil {
		f.OnError(err)
	}
}
