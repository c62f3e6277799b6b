"""Run many more random filesystem-operation sequences than CI does (issue 6, item 5).

usage: python tools/fuzz.py [--sequences N] [--against wasmtime|model|both|model-vs-wasmtime]
                            [--seed S] [--max-ops K] [--no-shrink]

Each sequence runs in tests/programs/fuzz_driver.c under wasi.wasm (fsck after each) and is
compared step by step with wasmtime-py's own WASI on a temp directory ("wasmtime", odd
paths included) and/or with the reference model of tests/fs_model.py ("model", fd_allocate
included). Unlike the CI tests the sequences are fresh on every run unless --seed is given.
A difference is shrunk to a minimal sequence and printed; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from fs_model import Op  # noqa: E402
from test_fuzz_ops import Fuzzer, sequences  # noqa: E402
from wasm_build import compile_program  # noqa: E402


def fuzz(fuzzer: Fuzzer, against: str, count: int, args: argparse.Namespace) -> str | None:
    """Run ``count`` sequences; the first failure's message (after shrinking), or None."""
    check = {
        "wasmtime": fuzzer.against_wasmtime,
        "model": fuzzer.against_model,
        "model-vs-wasmtime": fuzzer.model_against_wasmtime,
    }[against]
    strategy = sequences(
        odd_paths=against == "wasmtime", allocate=against == "model", max_ops=args.max_ops
    )
    phases = [Phase.generate] if args.no_shrink else [Phase.generate, Phase.shrink]
    done = 0
    started = time.monotonic()

    @settings(
        max_examples=count, database=None, deadline=None, derandomize=False, phases=phases,
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
    )  # fmt: skip
    @given(ops=strategy)
    def run(ops: list[Op]) -> None:
        nonlocal done
        done += 1
        if done % 1000 == 0:
            rate = done / (time.monotonic() - started)
            print(f"  {against}: {done} sequences ({rate:.0f}/s)", file=sys.stderr)
        message = check(ops)
        assert message is None, message

    if args.seed is not None:
        run = seed(args.seed)(run)
    try:
        run()
    except AssertionError as failure:
        return str(failure)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=10_000, metavar="N")
    parser.add_argument(
        "--against",
        choices=("wasmtime", "model", "both", "model-vs-wasmtime"),
        default="both",
        help="what wasi.wasm is compared with (model-vs-wasmtime: checks the model itself)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-ops", type=int, default=40, metavar="K")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failure as is")
    args = parser.parse_args()
    fuzzer = Fuzzer(compile_program("fuzz_driver"))
    targets = ("wasmtime", "model") if args.against == "both" else (args.against,)
    status = 0
    try:
        for against in targets:
            started = time.monotonic()
            message = fuzz(fuzzer, against, args.sequences, args)
            elapsed = time.monotonic() - started
            if message is None:
                print(f"{against}: {args.sequences} sequences agree ({elapsed:.1f} s)")
            else:
                print(f"{against}: DIFFERENCE\n{message}")
                status = 1
        problems = fuzzer.runner.wasi.fsck()
        if problems:
            print(f"fsck of the shared filesystem: {problems} problems")
            status = 1
    finally:
        fuzzer.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
