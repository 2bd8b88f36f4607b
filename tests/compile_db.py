"""A build's compile_commands.json, as test_clang_warnings.py and test_fp_contract.py read it."""
import json
import shlex


def read_entries(path):
    """The file's entries, or None after one 'not ok' line (unreadable, not JSON, or no entry): CMake writes the file
    for Makefile and Ninja builds, so its absence is a failure, not a skip."""
    try:
        with open(path) as f:
            entries = json.load(f)
    except (OSError, ValueError) as err:
        print(f"not ok - cannot read {path}: {err}")
        return None
    if not entries:
        print(f"not ok - {path} lists no file")
        return None
    return entries


def arguments(entry):
    """The entry's command line as a list, compiler first."""
    return entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
