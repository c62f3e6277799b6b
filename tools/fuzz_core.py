"""Build the core natively under AddressSanitizer + UBSan and fuzz it with libFuzzer.

usage: python tools/fuzz_core.py --replay              run every seed and regression once
       python tools/fuzz_core.py --seconds 120         replay, then fuzz for 120 s (CI)
       python tools/fuzz_core.py --seconds 7200 --jobs 2   a long run (hours: see fuzz/README.md)
       python tools/fuzz_core.py --threads --seconds 60    fuzz the threaded harness
       python tools/fuzz_core.py --threads --tsan --seconds 60   the same under ThreadSanitizer
       python tools/fuzz_core.py --build-only          just build build/fuzz/fuzz_core*

The harness is fuzz/fuzz_core.c (inputs decode into WASI and host-API calls from several
processes, fsck after each); fuzz/native_host.c stands in for the host and the guests'
memories. Seeds live in fuzz/seeds/, every crash ever found in fuzz/regressions/; new
coverage goes to build/fuzz/corpus/ (not committed). A crash is written to
build/fuzz/crash-*; copy it into fuzz/regressions/ once fixed.

--threads: fuzz/fuzz_core_threads.c runs 2-4 processes on real threads at once on one
filesystem (build/fuzz/fuzz_core_threads); its inputs are in fuzz/threads/seeds/ and
fuzz/threads/regressions/, its corpus in build/fuzz/corpus_threads/. --tsan builds it with
ThreadSanitizer instead (build/fuzz/tsan/fuzz_core_tsan, suppressions fuzz/tsan.supp).
--replay replays the seeds and regressions of both harnesses (and under --tsan the
threaded ones under ThreadSanitizer). Needs clang-19 with libclang-rt-19-dev (Debian), or
$FUZZ_CC naming a clang with libFuzzer.
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
THREAD_SEEDS = ROOT / "fuzz" / "threads" / "seeds"
THREAD_REGRESSIONS = ROOT / "fuzz" / "threads" / "regressions"
THREAD_DICT = ROOT / "fuzz" / "threads" / "threads.dict"
TSAN_SUPPRESSIONS = ROOT / "fuzz" / "tsan.supp"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
TSAN = ["-fsanitize=thread"]
# A process frees its own reclaim list once 2 KiB wait in it (256 KiB in the real core), so
# that short runs free lists under the lock shared while other threads read (reclaim.c); and
# directories number their entries from 64 below the limit, so that they all renumber
# (dir.c) after 64 names instead of 4 billion; and pipes count their bytes from 16 below
# 2^32, so that their head and tail wrap (pipe.h) after 16 bytes instead of 4 GiB. A reap
# waits 100 us (the stand-in host's longest real sleep) between finding the process and
# ending it (host.c), so that two threads reaping one id both get that far.
CFLAGS = ["-g", "-O1", "-std=c17", "-Wall", "-Wextra", "-Werror", "-fno-common",
          "-DRECLAIM_PRESSING_BYTES=2048", "-DDIR_FIRST_SEQ=0xFFFFFFB0u",
          "-DPIPE_FIRST_POSITION=0xFFFFFFF0u", "-DREAP_PAUSE_NS=100000"]
MAX_LEN = 2048
THREAD_MAX_LEN = 4096
HARNESS = ["native_host.c", "fuzz_ops.c"]


class Target:
    """One fuzzer binary: its sanitizers, harness, inputs and corpus."""

    def __init__(self, name: str, *, threads: bool, tsan: bool = False) -> None:
        self.name = name
        self.threads = threads
        self.tsan = tsan
        self.sanitize = TSAN if tsan else SANITIZE
        self.objects = BUILD / "tsan" if tsan else BUILD
        self.binary = self.objects / name
        self.driver = "fuzz_core_threads.c" if threads else "fuzz_core.c"
        self.seeds = THREAD_SEEDS if threads else SEEDS
        self.regressions = THREAD_REGRESSIONS if threads else REGRESSIONS
        self.corpus = BUILD / ("corpus_threads" if threads else "corpus")
        self.max_len = THREAD_MAX_LEN if threads else MAX_LEN

    def environment(self, *, halt: bool = True) -> dict[str, str]:
        env = dict(os.environ)
        if self.tsan:
            options = [f"suppressions={TSAN_SUPPRESSIONS}", f"halt_on_error={int(halt)}",
                       "second_deadlock_stack=1"]
            env["TSAN_OPTIONS"] = ":".join([env.get("TSAN_OPTIONS", ""), *options]).strip(":")
        return env


SINGLE = Target("fuzz_core", threads=False)
THREADED = Target("fuzz_core_threads", threads=True)
THREADED_TSAN = Target("fuzz_core_tsan", threads=True, tsan=True)


def compiler() -> str:
    for name in (os.environ.get("FUZZ_CC"), "clang-19", "clang"):
        if name and shutil.which(name):
            return name
    raise SystemExit(
        "fuzz_core: no clang with libFuzzer found: apt-get install clang-19 libclang-rt-19-dev"
    )


def build(target: Target) -> Path:
    """Compile every core source (statics gathered by fuzz/core_sections.h) and link."""
    cc = compiler()
    target.objects.mkdir(parents=True, exist_ok=True)
    stamp = target.objects / "flags"
    command = "\n".join([cc, *CFLAGS, *target.sanitize])
    flags_current = stamp.exists() and stamp.read_text() == command
    objects = []
    for source in sorted((ROOT / "dev").glob("*/*.c")):
        obj = target.objects / f"{source.parent.name}_{source.stem}.o"
        objects.append(obj)
        if flags_current and obj.exists() and obj.stat().st_mtime > newest_input(source):
            continue
        run_compiler(
            [cc, "-c", *CFLAGS, *target.sanitize, "-fsanitize=fuzzer-no-link", f"-I{ROOT / 'dev'}",
             "-include", str(ROOT / "fuzz" / "core_sections.h"), str(source), "-o", str(obj)]
        )
    # Written once every object has this command line: a changed flag (a -D knob above)
    # rebuilds every object, not only those whose sources changed.
    stamp.write_text(command)
    harness = [ROOT / "fuzz" / name for name in [*HARNESS, target.driver]]
    run_compiler(
        [cc, *CFLAGS, *target.sanitize, "-fsanitize=fuzzer", "-pthread", f"-I{ROOT / 'dev'}",
         *map(str, objects), *map(str, harness), "-o", str(target.binary)]
    )
    return target.binary


def newest_input(source: Path) -> float:
    headers = [*(ROOT / "dev").glob("*/*.h"), ROOT / "fuzz" / "core_sections.h"]
    return max(p.stat().st_mtime for p in [source, *headers])


def run_compiler(command: list[str]) -> None:
    if subprocess.run(command, check=False).returncode:
        raise SystemExit("fuzz_core: the build failed")


def inputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.is_file()) if folder.exists() else []


def replay(target: Target) -> None:
    """Every seed and regression once: each must run clean."""
    files = inputs(target.seeds) + inputs(target.regressions)
    if not files:
        raise SystemExit(f"{target.name}: no seeds or regressions to replay")
    result = subprocess.run(
        [str(target.binary), "-runs=0", *map(str, files)], capture_output=True, text=True,
        check=False, env=target.environment(),
    )
    if result.returncode:
        sys.stderr.write(result.stderr[-6000:])
        raise SystemExit(f"{target.name}: a seed or regression input fails")
    print(f"{target.name}: replayed {len(files)} seed and regression inputs, all clean")


def fuzz(target: Target, seconds: int, jobs: int) -> int:
    corpus = target.corpus
    corpus.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    command = [
        str(target.binary), f"-max_total_time={seconds}", f"-max_len={target.max_len}",
        "-timeout=30" if target.threads else "-timeout=20",
        "-rss_limit_mb=2048", f"-artifact_prefix={BUILD}/", "-print_final_stats=1",
    ]
    if target.threads:
        command.append(f"-dict={THREAD_DICT}")
    folders = [corpus, target.seeds, target.regressions]
    if target.threads:
        folders.append(SEEDS)  # deep single-threaded sequences, run on every thread at once
    command += [str(p) for p in folders if p.exists()]
    if jobs > 1:
        command[1:1] = [f"-fork={jobs}", "-ignore_crashes=0"]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env=target.environment())
    log = BUILD / f"last_run_{target.name}.log" if target.threads else BUILD / "last_run.log"
    log.write_text(result.stderr)
    summary = [line for line in result.stderr.splitlines() if "DONE" in line or "stat::" in line]
    print("\n".join(summary[-12:]))
    elapsed = time.monotonic() - started
    corpus_size = len(inputs(corpus))
    print(f"{target.name}: {elapsed:.0f} s with {jobs} job(s); corpus {corpus_size} inputs;"
          f" log {log}")
    if result.returncode:
        sys.stderr.write(result.stderr[-8000:])
        print(f"{target.name}: the fuzzer found a problem; the input is in build/fuzz/crash-*")
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=0, help="fuzz this long after replaying")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fuzzing processes")
    parser.add_argument("--replay", action="store_true", help="only replay seeds and regressions")
    parser.add_argument("--threads", action="store_true",
                        help="fuzz the threaded harness (several processes on real threads)")
    parser.add_argument("--tsan", action="store_true",
                        help="with --threads: build and run it under ThreadSanitizer")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    if args.tsan and not args.threads:
        parser.error("--tsan goes with --threads")
    fuzzed = (THREADED_TSAN if args.tsan else THREADED) if args.threads else SINGLE
    # Every replay covers both harnesses; a threaded run replays only the threaded inputs.
    replayed = [fuzzed] if args.threads else [SINGLE, THREADED]
    targets = list(dict.fromkeys([*replayed, fuzzed]))
    for target in targets:
        build(target)
    if args.build_only:
        print("fuzz_core: built " + ", ".join(str(t.binary) for t in targets))
        return 0
    for target in replayed:
        replay(target)
    if args.replay or args.seconds <= 0:
        return 0
    return fuzz(fuzzed, args.seconds, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
