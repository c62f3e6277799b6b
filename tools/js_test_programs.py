"""The C test programs that `npm test` (tools/npm_test.mjs) needs, prebuilt into
tests/js/programs/prebuilt/ so that the JS tests run with Node alone. The builds are
reproducible (the pinned zig, stripped): tests/test_js.py fails when a committed one differs
from a fresh build of its source.

usage: python tools/js_test_programs.py           build them into tests/js/programs/prebuilt/
       python tools/js_test_programs.py --check   fail if a committed one is not current
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREBUILT = ROOT / "tests" / "js" / "programs" / "prebuilt"
# name in tests/programs: extra compiler flags (as tests/test_js.py's program_paths builds it)
PROGRAMS: dict[str, tuple[str, ...]] = {
    "api_tool": (),
    "reactor_calc": ("-mexec-model=reactor",),
    "harden_limits": (),
    "share_pipe": (),
    "snapshot_mutator": (),
    "lazy_ops": (),
}


def stale() -> list[str]:
    """The programs whose committed build differs from a fresh one (or is missing)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import wasm_build  # noqa: PLC0415 - tests/ is not a package

    out = []
    for name, flags in PROGRAMS.items():
        built = wasm_build.compile_program(name, flags).read_bytes()
        committed = PREBUILT / f"{name}.wasm"
        if not committed.exists() or committed.read_bytes() != built:
            out.append(name)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    check = parser.parse_args().check
    names = stale()
    if check:
        for name in names:
            print(f"js_test_programs: {PREBUILT / name}.wasm is not current", file=sys.stderr)
        return 1 if names else 0
    sys.path.insert(0, str(ROOT / "tests"))
    import wasm_build  # noqa: PLC0415

    PREBUILT.mkdir(parents=True, exist_ok=True)
    for name in names:
        data = wasm_build.compile_program(name, PROGRAMS[name]).read_bytes()
        (PREBUILT / f"{name}.wasm").write_bytes(data)
        print(f"js_test_programs: wrote {PREBUILT / name}.wasm ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
