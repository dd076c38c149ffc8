#!/usr/bin/env python3
"""Fails when a crate's files use each other in a circle, including a module that uses the module
that dispatches to it (a parent calling into its child, the child importing from the parent).
Reads `crate::…` and `super::…` paths and, for a module's own children, `child::…` paths outside
`mod`/`pub use` lines, in every .rs file under each crate's src/ (tests excluded: a `tests`
module looks at its parent by design; a re-export is not a use).

Usage: .ci/import-cycles.py [CRATE_DIR ...]   (default: every crate of the workspace)
"""
import os
import re
import sys

CRATES = ["protocol", "firmware", "host", "sim", "station", "cli", "python"]
PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}", re.S)


def module_files(src):
    """Maps module path tuples to files: () is lib.rs/main.rs."""
    mods = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel in (["lib"], ["main"]):
                key = ()
            elif rel[-1] == "mod":
                key = tuple(rel[:-1])
            else:
                key = tuple(rel)
            mods[key] = path
    return mods


def is_test_module(key, path):
    name = key[-1] if key else ""
    return name == "tests" or name.endswith("_tests") or "/tests/" in path


def strip_tests(text):
    """Drops `#[cfg(test)] mod … { … }` blocks and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def resolve(mods, current, kind, segments):
    """The longest module prefix a path names, as a key of `mods`."""
    if kind == "crate":
        base = ()
    else:
        base = current[:-1]
        while segments and segments[0] == "super":
            segments = segments[1:]
            base = base[:-1]
    best = None
    for n in range(len(segments) + 1):
        key = base + tuple(segments[:n])
        if key in mods:
            best = key
    return best


def edges_of(mods):
    edges = {}
    for key, path in mods.items():
        if is_test_module(key, path):
            continue
        text = strip_tests(open(path, encoding="utf-8").read())
        found = set()
        paths = []
        for m in GROUP.finditer(text):
            prefix = [s for s in m.group(2).split("::") if s]
            for item in m.group(3).split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item not in ("self", "*"):
                    paths.append((m.group(1), prefix + [p for p in item.split("::") if p]))
                else:
                    paths.append((m.group(1), prefix))
        for m in PATH.finditer(text):
            paths.append((m.group(1), [s for s in m.group(2).split("::") if s]))
        # Uses of the module's own children (`aes::start(…)`), but not their declaration or a
        # re-export.
        children = {k[-1] for k in mods if len(k) == len(key) + 1 and k[: len(key)] == key}
        body = "\n".join(
            line
            for line in text.splitlines()
            if not re.match(r"\s*(pub(\([^)]*\))?\s+)?(mod|use)\s", line)
        )
        for m in re.finditer(r"(?<![:\w])([a-z_][a-z0-9_]*)::", body):
            if m.group(1) in children:
                found_child = key + (m.group(1),)
                if not is_test_module(found_child, mods[found_child]):
                    found.add(found_child)
        for kind, segments in paths:
            target = resolve(mods, key, kind, segments)
            if target is None or target == key:
                continue
            # The crate root only declares and re-exports.
            if target == ():
                continue
            if not is_test_module(target, mods[target]):
                found.add(target)
        edges[key] = found
    return edges


def cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    crates = sys.argv[1:] or [os.path.join(root, c) for c in CRATES]
    failed = False
    for crate in crates:
        src = os.path.join(crate, "src")
        mods = module_files(src)
        edges = edges_of(mods)
        name = os.path.relpath(crate, root)
        for comp in cycles(edges):
            failed = True
            shown = ", ".join(sorted(mods[k] for k in comp))
            print(f"{name}: import circle between {shown}")
    if failed:
        sys.exit(1)
    print(f"no import circles in {len(crates)} crates")


if __name__ == "__main__":
    main()
