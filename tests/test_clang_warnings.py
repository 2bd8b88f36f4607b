#!/usr/bin/env python3
"""Compiles every entry of a build's compile_commands.json with Clang's front end and -Werror.

The project builds with GCC; the README also promises a warning-free Clang build (FCNET_WERROR=ON), which nothing
else checks. Each file keeps its own flags (warnings, definitions, include paths); only the compiler changes, and
-fsyntax-only skips code generation, so all files take a few seconds. Exit 77 (skipped) without clang.

    test_clang_warnings.py BUILD/compile_commands.json
"""
import shutil
import subprocess
import sys

import compile_db


def clang_args(entry):
    """The entry's compiler arguments without the compiler, its output file and -c."""
    args = compile_db.arguments(entry)
    kept, skip_next = [], False
    for a in args[1:]:
        if skip_next:
            skip_next = False
        elif a == "-o":
            skip_next = True
        elif a != "-c":
            kept.append(a)
    return kept


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    clang = shutil.which("clang")
    if clang is None:
        print("skipped: no clang on PATH")
        return 77
    entries = compile_db.read_entries(sys.argv[1])
    if entries is None:
        return 1
    failed = 0
    for e in entries:
        # A GCC-only warning flag in the user's CFLAGS (-Wlogical-op) is no warning in fcnet's code.
        r = subprocess.run([clang, "-fsyntax-only", "-Werror"] + clang_args(e) + ["-Wno-unknown-warning-option"],
                           cwd=e["directory"], capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            failed += 1
            print(f"not ok - {e['file']}\n{r.stderr.strip()}")
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"{'ok' if failed == 0 else 'not ok'} - {len(entries) - failed} of {len(entries)} files without a "
          f"warning under {version}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
