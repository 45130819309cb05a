#!/usr/bin/env bash
# Writes a one-layer OCI image archive FROM scratch with BINARY as its
# entrypoint (/usr/local/bin/<name>), for node_import_image:
#
#   hack/node/image.sh NAME:TAG BINARY OUT.tar [--user 65532] [--port N]... [--file SRC:DST]... [--arg A]... [--env K=V]...
#
# NAME:TAG is normalised like a pod's image field: probe:dev is stored as
# docker.io/library/probe:dev. The user defaults to 65532:65532 (distroless'
# nonroot), like the services' Dockerfiles.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 NAME:TAG BINARY OUT.tar [--user UID[:GID]] [--port N] [--file SRC:DST] [--arg A] [--env K=V]" >&2
  exit 2
fi
bin=$("$(dirname "$0")/build.sh")
exec "$bin/ociimage" --name "$1" --binary "$2" --out "$3" "${@:4}"
