#!/usr/bin/env python3
"""Reads the JSON stream of `govulncheck -format json` (one module per file given)
and decides: a vulnerability whose vulnerable code is called (a finding with a
function in its trace) fails the check, unless hack/vulncheck.ignore lists it
with a reason and a date it stops counting. Vulnerabilities only imported or
required are listed as information.

Usage: vulncheck-report.py IGNORE_FILE MODULE=FILE.json...
"""
import datetime
import json
import sys


def read_stream(path):
    dec = json.JSONDecoder()
    text = open(path, encoding="utf-8").read()
    i, out = 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def read_ignores(path):
    ignores, today = {}, datetime.date.today()
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        return ignores
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[1].startswith("until="):
            sys.exit(f"{path}:{n}: want 'GO-YYYY-NNNN until=YYYY-MM-DD reason', got {line!r}")
        until = datetime.date.fromisoformat(parts[1][len("until="):])
        if until < today:
            print(f"vulncheck: {path}:{n}: the exception for {parts[0]} expired on {until}; it counts again", file=sys.stderr)
            continue
        ignores[parts[0]] = (until, parts[2])
    return ignores


def frame(f):
    where = f.get("function", "")
    if f.get("receiver"):
        where = f["receiver"] + "." + where
    pos = f.get("position") or {}
    at = f"{pos.get('filename', '')}:{pos.get('line', '')}" if pos.get("filename") else ""
    return f"{f.get('package', f.get('module', ''))}.{where}" + (f" ({at})" if at else "")


def main():
    ignore_file, results = sys.argv[1], sys.argv[2:]
    ignores = read_ignores(ignore_file)
    called, ignored, informational, osvs = {}, {}, set(), {}
    for arg in results:
        module, path = arg.split("=", 1)
        for obj in read_stream(path):
            if "osv" in obj:
                osvs[obj["osv"]["id"]] = obj["osv"]
            f = obj.get("finding")
            if not f:
                continue
            trace, vid = f.get("trace") or [{}], f["osv"]
            top = trace[0]
            key = (vid, top.get("module"), top.get("version"), f.get("fixed_version", ""))
            if top.get("function"):
                target = ignored if vid in ignores else called
                target.setdefault(key, (module, " <- ".join(frame(x) for x in trace[:4])))
            else:
                informational.add(key)

    def describe(key):
        vid, mod, ver, fixed = key
        summary = osvs.get(vid, {}).get("summary", "")
        return f"{vid} {mod}@{ver} (fixed in {fixed or 'no version yet'}): {summary}"

    for key in sorted(informational - set(called) - set(ignored)):
        print("  imported, not called:", describe(key))
    for key, (module, trace) in sorted(ignored.items()):
        until, reason = ignores[key[0]]
        print(f"  IGNORED until {until}: {describe(key)}\n      reason: {reason}")
    for key, (module, trace) in sorted(called.items()):
        print(f"  CALLED in {module}: {describe(key)}\n      e.g. {trace}")
    if called:
        print(f"vulncheck: FAIL - {len({k[0] for k in called})} vulnerabilities are called; "
              "upgrade the modules (or Go) to the fixed versions, or list an exception with a reason in "
              f"{ignore_file}", file=sys.stderr)
        return 1
    print(f"vulncheck: PASS - no called vulnerability ({len({k[0] for k in ignored})} excepted in {ignore_file}, "
          f"{len({k[0] for k in informational})} only imported or required)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
