"""Build the core natively under AddressSanitizer + UBSan and fuzz it with libFuzzer.

usage: python tools/fuzz_core.py --replay              run the seeds and every regression once
       python tools/fuzz_core.py --seconds 120         replay, then fuzz for 120 s (CI)
       python tools/fuzz_core.py --seconds 7200 --jobs 2   a long run (hours: see fuzz/README.md)
       python tools/fuzz_core.py --build-only          just build build/fuzz/fuzz_core

The harness is fuzz/fuzz_core.c (inputs decode into WASI and host-API calls from several
processes, fsck after each); fuzz/native_host.c stands in for the host and the guests'
memories. Seeds live in fuzz/seeds/, every crash ever found in fuzz/regressions/; new
coverage goes to build/fuzz/corpus/ (not committed). A crash is written to
build/fuzz/crash-*; copy it into fuzz/regressions/ once fixed. Needs clang-19 with
libclang-rt-19-dev (Debian), or $FUZZ_CC naming a clang with libFuzzer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "fuzz"
SEEDS = ROOT / "fuzz" / "seeds"
REGRESSIONS = ROOT / "fuzz" / "regressions"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
CFLAGS = ["-g", "-O1", "-std=c17", "-Wall", "-Wextra", "-Werror", "-fno-common"]
MAX_LEN = 2048


def compiler() -> str:
    for name in (os.environ.get("FUZZ_CC"), "clang-19", "clang"):
        if name and shutil.which(name):
            return name
    raise SystemExit(
        "fuzz_core: no clang with libFuzzer found: apt-get install clang-19 libclang-rt-19-dev"
    )


def build() -> Path:
    """Compile every core source (statics gathered by fuzz/core_sections.h) and link."""
    cc = compiler()
    BUILD.mkdir(parents=True, exist_ok=True)
    objects = []
    for source in sorted((ROOT / "dev").glob("*/*.c")):
        obj = BUILD / f"{source.parent.name}_{source.stem}.o"
        objects.append(obj)
        if obj.exists() and obj.stat().st_mtime > newest_input(source):
            continue
        run_compiler(
            [cc, "-c", *CFLAGS, *SANITIZE, "-fsanitize=fuzzer-no-link", f"-I{ROOT / 'dev'}",
             "-include", str(ROOT / "fuzz" / "core_sections.h"), str(source), "-o", str(obj)]
        )
    binary = BUILD / "fuzz_core"
    harness = [ROOT / "fuzz" / "native_host.c", ROOT / "fuzz" / "fuzz_core.c"]
    run_compiler(
        [cc, *CFLAGS, *SANITIZE, "-fsanitize=fuzzer", f"-I{ROOT / 'dev'}",
         *map(str, objects), *map(str, harness), "-o", str(binary)]
    )
    return binary


def newest_input(source: Path) -> float:
    headers = [*(ROOT / "dev").glob("*/*.h"), ROOT / "fuzz" / "core_sections.h"]
    return max(p.stat().st_mtime for p in [source, *headers])


def run_compiler(command: list[str]) -> None:
    if subprocess.run(command, check=False).returncode:
        raise SystemExit("fuzz_core: the build failed")


def inputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.is_file()) if folder.exists() else []


def replay(binary: Path) -> None:
    """Every seed and regression input once: each must run clean."""
    files = inputs(SEEDS) + inputs(REGRESSIONS)
    if not files:
        raise SystemExit("fuzz_core: no seeds or regressions to replay")
    result = subprocess.run(
        [str(binary), "-runs=0", *map(str, files)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.stderr.write(result.stderr[-6000:])
        raise SystemExit("fuzz_core: a seed or regression input fails")
    print(f"fuzz_core: replayed {len(files)} seed and regression inputs, all clean")


def fuzz(binary: Path, seconds: int, jobs: int) -> int:
    corpus = BUILD / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    command = [
        str(binary), f"-max_total_time={seconds}", f"-max_len={MAX_LEN}", "-timeout=20",
        "-rss_limit_mb=2048", f"-artifact_prefix={BUILD}/", "-print_final_stats=1",
        str(corpus), str(SEEDS), str(REGRESSIONS),
    ]
    if jobs > 1:
        command[1:1] = [f"-fork={jobs}", "-ignore_crashes=0"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    log = BUILD / "last_run.log"
    log.write_text(result.stderr)
    summary = [line for line in result.stderr.splitlines() if "DONE" in line or "stat::" in line]
    print("\n".join(summary[-12:]))
    elapsed = time.monotonic() - started
    corpus_size = len(inputs(corpus))
    print(f"fuzz_core: {elapsed:.0f} s with {jobs} job(s); corpus {corpus_size} inputs; log {log}")
    if result.returncode:
        sys.stderr.write(result.stderr[-8000:])
        print("fuzz_core: the fuzzer found a problem; the input is in build/fuzz/crash-*")
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=0, help="fuzz this long after replaying")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fuzzing processes")
    parser.add_argument("--replay", action="store_true", help="only replay seeds and regressions")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    binary = build()
    if args.build_only:
        print(f"fuzz_core: built {binary}")
        return 0
    replay(binary)
    if args.replay or args.seconds <= 0:
        return 0
    return fuzz(binary, args.seconds, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
