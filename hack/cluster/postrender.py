#!/usr/bin/env python3
"""Helm post-renderer for the negative cases of `make test-cluster`.

Reads the rendered manifests on stdin and writes them to stdout with fields
set, so a test can make Helm send a change that the API server must refuse
(an immutable field, or a value a CRD's schema forbids) without touching the
chart. Arguments come in triples:

    KIND PATH JSON-VALUE

PATH is dot-separated (spec.selector.matchLabels.foo, a number indexes a
list: spec.rules.0.matches); every object of KIND gets PATH set to the JSON
value; missing maps are created.
Example:
    --post-renderer hack/cluster/postrender.py \
    --post-renderer-args Deployment --post-renderer-args spec.replicas \
    --post-renderer-args '"two"'
"""
import json
import sys

import yaml


def main(argv):
    if len(argv) % 3 != 0 or not argv:
        sys.exit("usage: postrender.py KIND PATH JSON-VALUE [KIND PATH JSON-VALUE ...]")
    edits = [(argv[i], argv[i + 1].split("."), json.loads(argv[i + 2]))
             for i in range(0, len(argv), 3)]
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    changed = 0
    for doc in docs:
        for kind, path, value in edits:
            if doc.get("kind") != kind:
                continue
            node = doc
            for key in path[:-1]:
                node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
            if isinstance(node, list):
                node[int(path[-1])] = value
            else:
                node[path[-1]] = value
            changed += 1
    if changed == 0:
        sys.exit("postrender.py: no object of kind(s) %s in the release"
                 % ", ".join(sorted({e[0] for e in edits})))
    yaml.safe_dump_all(docs, sys.stdout, default_flow_style=False, sort_keys=False)


if __name__ == "__main__":
    main(sys.argv[1:])
