#!/usr/bin/env python3
"""Checks that every entry of a build's compile_commands.json compiles with -ffp-contract=off.

The suite compares the core's results bitwise (chunks against the whole update, ranks, exchanges) and with the same
arithmetic written out in a test. That holds only if no compiler fuses a*b+c into one rounding. GCC in ISO C mode
contracts nothing, so a GCC build passes with or without the flag; Clang contracts by default, also when it folds
constants at compile time on a CPU without FMA (test_data's plain-sum standard deviation came out one ulp off). CI
builds with GCC only: this check, which needs no compiler, finds a target that would lose the flag under Clang.

    test_fp_contract.py BUILD/compile_commands.json
"""
import sys

import compile_db


def contract_mode(entry):
    """The value of the entry's last -ffp-contract= option (the one the compiler obeys), or None."""
    args = compile_db.arguments(entry)
    modes = [a.split("=", 1)[1] for a in args if a.startswith("-ffp-contract=")]
    return modes[-1] if modes else None


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    entries = compile_db.read_entries(sys.argv[1])
    if entries is None:
        return 1
    failed = 0
    for e in entries:
        mode = contract_mode(e)
        if mode != "off":
            failed += 1
            print(f"not ok - {e['file']}: -ffp-contract={mode}" if mode else f"not ok - {e['file']}: no -ffp-contract")
    print(f"{'ok' if failed == 0 else 'not ok'} - {len(entries) - failed} of {len(entries)} files compiled with "
          f"-ffp-contract=off")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
