// Package testinfra gives the service modules' own tests a real Kafka-protocol
// broker and MongoDB-wire server without making their modules require them:
// it runs `localstack -infra` (the embedded kfake broker and FerretDB) as a
// separate process built from the workspace; MONGO_URI names an external
// MongoDB-wire server to use instead (as localstack/testenv does). The module graph stays
// contract ← platform ← services ← localstack/e2e; only the go command, at test
// time, sees localstack.
package testinfra

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Infra is a running broker and MongoDB-wire server.
type Infra struct {
	KafkaBrokers []string // bootstrap addresses
	MongoURI     string
	cmd          *exec.Cmd
	stdin        io.WriteCloser
	dir          string
}

// Start starts `localstack -infra` on free loopback ports with its data in a
// temporary folder. Close stops it.
func Start() (*Infra, error) {
	bin, err := build()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "shop-testinfra")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-infra", "-data", dir, "-kafka-addr", "127.0.0.1:0", "-mongo-addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	in := &Infra{cmd: cmd, stdin: stdin, dir: dir}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for in.KafkaBrokers == nil || in.MongoURI == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				in.Close()
				return nil, fmt.Errorf("localstack -infra exited before printing its addresses (its errors are above)")
			}
			if v, ok := strings.CutPrefix(line, "kafka "); ok {
				in.KafkaBrokers = []string{v}
			} else if v, ok := strings.CutPrefix(line, "mongo "); ok {
				in.MongoURI = v
			}
		case <-timeout:
			in.Close()
			return nil, fmt.Errorf("localstack -infra printed no addresses within 60 s")
		}
	}
	if m := os.Getenv("MONGO_URI"); m != "" {
		in.MongoURI = m
	}
	go func() { // keep the pipe drained
		for range lines {
		}
	}()
	return in, nil
}

// Close stops the process Start started (closing its stdin is its signal to
// stop, which also works when the test binary dies) and removes its data.
func (in *Infra) Close() {
	if in.cmd == nil {
		return
	}
	_ = in.stdin.Close()
	done := make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = in.cmd.Process.Kill()
		<-done
	}
	in.cmd = nil
	_ = os.RemoveAll(in.dir)
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// build compiles localstack once per test binary, through the workspace
// (go.work), which is what lets a module run a command of a module it does not
// require.
func build() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shop-testinfra-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "localstack")
		cmd := exec.Command("go", "build", "-o", buildBin, "github.com/scalable-shop/shop/localstack/cmd/localstack")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("building localstack for the test's Kafka and MongoDB failed (%v): run the tests inside the repository, whose go.work names localstack", err)
		}
	})
	return buildBin, buildErr
}
