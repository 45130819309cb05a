package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, content string) (*File, string, *clock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	f.Now = c.now
	f.SetIntervals(time.Second, 10*time.Second)
	f.Get() // the first check, on the fake clock
	return f, path, c
}

func TestChangeIsSeenAfterTheCheckInterval(t *testing.T) {
	f, path, c := open(t, "  one\n")
	if got := string(f.Get().Data); got != "one" {
		t.Fatalf("Data = %q", got)
	}
	var changes []string
	f.OnChange = func(c *Content) { changes = append(changes, string(c.Data)) }
	// Kubernetes swaps a Secret's files by renaming.
	if err := os.WriteFile(path+".new", []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if got := f.Get(); string(got.Data) != "one" || got.Version != 1 {
		t.Errorf("before the interval: %q v%d", got.Data, got.Version)
	}
	c.add(time.Second)
	if got := f.Get(); string(got.Data) != "two" || got.Version != 2 {
		t.Errorf("after the interval: %q v%d", got.Data, got.Version)
	}
	if strings.Join(changes, ",") != "two" {
		t.Errorf("OnChange calls: %v", changes)
	}
}

func TestInPlaceRewriteIsSeenByTheReread(t *testing.T) {
	f, path, c := open(t, "aaaa")
	info, _ := os.Stat(path)
	// Same size, same modification time, same inode: only the periodic re-read sees it.
	if err := os.WriteFile(path, []byte("bbbb"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	c.add(2 * time.Second)
	if got := string(f.Get().Data); got != "aaaa" {
		t.Errorf("stat unchanged, before the re-read: %q", got)
	}
	c.add(10 * time.Second)
	if got := string(f.Get().Data); got != "bbbb" {
		t.Errorf("after the re-read interval: %q", got)
	}
}

func TestBadFileKeepsTheLastContent(t *testing.T) {
	f, path, c := open(t, "good")
	var errs []string
	f.OnError = func(err error) { errs = append(errs, err.Error()) }
	if err := os.WriteFile(path, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.add(time.Second)
	f.Get()
	c.add(time.Second)
	if got := string(f.Get().Data); got != "good" {
		t.Errorf("after an empty write: %q", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c.add(time.Second)
	if got := string(f.Get().Data); got != "good" {
		t.Errorf("after removal: %q", got)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "empty") {
		t.Errorf("errors reported: %q (want each problem once)", errs)
	}
	if _, err := Open(path); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

func TestLines(t *testing.T) {
	c := &Content{Data: []byte("# comment\n a \n\nb\r\n")}
	if got := strings.Join(c.Lines(), "|"); got != "a|b" {
		t.Errorf("Lines = %q", got)
	}
}

func TestConcurrentReaders(t *testing.T) {
	f, path, _ := open(t, "x")
	f.Now = time.Now
	f.SetIntervals(time.Millisecond, time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 2000; j++ {
				if d := f.Get().Data; len(d) == 0 {
					t.Error("empty content")
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		if err := os.WriteFile(path, []byte(strings.Repeat("y", i+1)), 0o600); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
