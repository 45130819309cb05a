// Command ociimage writes a one-layer OCI image archive FROM scratch around a
// static binary, for `ctr -n k8s.io images import` on the test node:
//
//	ociimage --name NAME:TAG --binary BIN --out OUT.tar [--user 65532] [--port N]... [--file SRC:DST]... [--arg A]... [--env K=V]...
//
// The binary becomes /usr/local/bin/<its name> and the entrypoint, like the
// services' Dockerfiles.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/scalable-shop/shop/hack/node/oci"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func run(_ context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "image NAME:TAG")
	binary := fs.String("binary", "", "static binary: the entrypoint")
	out := fs.String("out", "", "archive to write")
	user := fs.String("user", "65532", "numeric UID or UID:GID the image runs as")
	var ports, files, cmdArgs, env list
	fs.Var(&ports, "port", "exposed TCP port (repeatable)")
	fs.Var(&files, "file", "SRC:DST extra file (repeatable)")
	fs.Var(&cmdArgs, "arg", "default argument after the entrypoint (repeatable)")
	fs.Var(&env, "env", "K=V environment variable (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *binary == "" || *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("want --name NAME:TAG --binary BIN --out OUT.tar (and only flags)")
	}
	ref, err := oci.ParseReference(*name)
	if err != nil {
		return err
	}
	uid, err := oci.ParseUser(*user)
	if err != nil {
		return err
	}
	img := oci.Image{Ref: ref, OS: "linux", Arch: runtime.GOARCH, User: uid, Cmd: cmdArgs,
		Env: append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...)}
	for _, p := range ports {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("--port %q: want a number", p)
		}
		img.Ports = append(img.Ports, n)
	}
	entry := path.Join("/usr/local/bin", filepath.Base(*binary))
	img.Entrypoint = []string{entry}
	layer := []oci.File{{Path: entry, Mode: 0o755}}
	if layer[0].Data, err = os.ReadFile(*binary); err != nil {
		return err
	}
	for _, f := range files {
		src, dst, ok := strings.Cut(f, ":")
		if !ok || src == "" || dst == "" {
			return fmt.Errorf("--file %q: want SRC:DST", f)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if st, err := os.Stat(src); err == nil && st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		layer = append(layer, oci.File{Path: dst, Mode: mode, Data: data})
	}
	if img.Layer, err = oci.Layer(layer); err != nil {
		return err
	}
	return writeFile(*out, img)
}

// writeFile writes next to out and renames, so a reader never sees half an archive.
func writeFile(out string, img oci.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".ociimage-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := oci.Write(tmp, img); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
