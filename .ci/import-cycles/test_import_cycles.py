#!/usr/bin/env python3
"""The import-circle check can fail: a crate whose dispatcher calls a child that imports from it,
and one with two files that import each other, are refused; the same crates without the circle
pass."""
import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "import-cycles.py")


def crate(files):
    root = tempfile.mkdtemp()
    for path, text in files.items():
        full = os.path.join(root, "src", path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)
    return root


def check(root):
    return subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)


def main():
    dispatcher_circle = crate({
        "lib.rs": "pub mod commands;\n",
        "commands/mod.rs": "pub mod rand;\npub fn run() { rand::run(); }\npub fn helper() {}\n",
        "commands/rand.rs": "use crate::commands::helper;\npub fn run() { helper(); }\n",
    })
    two_files = crate({
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use crate::b::g;\npub fn f() { g(); }\n",
        "b.rs": "use crate::a::f;\npub fn g() { f(); }\n",
    })
    clean = crate({
        "lib.rs": "pub mod commands;\nmod output;\n",
        "commands/mod.rs": "pub mod rand;\npub fn run() { rand::run(); }\n",
        "commands/rand.rs": "use crate::output::helper;\npub fn run() { helper(); }\n",
        "output.rs": "pub fn helper() {}\n",
    })
    failures = []
    for name, root, want in [
        ("dispatcher circle", dispatcher_circle, 1),
        ("two files", two_files, 1),
        ("clean", clean, 0),
    ]:
        result = check(root)
        if result.returncode != want:
            failures.append(f"{name}: exit {result.returncode}, expected {want}: {result.stdout}")
        elif want == 1 and "import circle" not in result.stdout:
            failures.append(f"{name}: no circle named: {result.stdout}")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("import-circle check: 3 fixtures ok")


if __name__ == "__main__":
    main()
