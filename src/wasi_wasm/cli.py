"""Command line: ``wasi-wasm run ...`` and ``wasi-wasm demo``.

Bad usage, a missing file or a file that is not a WASI command: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import posixpath
import sys
from collections.abc import Sequence
from typing import NoReturn

import wasmtime

from ._program import ProgramError, load_program
from ._stdio import BinaryReader, StdinSource
from ._wasi import start_wasi

USAGE_ERROR = 2
TRAP_EXIT = 134  # what wasmtime's CLI reports for a trap (128 + SIGABRT)
PROG = "wasi-wasm"


class UsageError(Exception):
    """Reported as one line on stderr with exit code 2."""


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage first; a one-line message is easier to read.
        self.exit(USAGE_ERROR, f"{PROG}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=PROG, description="Run WASI preview 1 programs on an in-memory filesystem."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{run,demo}")
    run = commands.add_parser(
        "run",
        help="run a WASI program",
        usage=f"{PROG} run [--env K=V]... [--dir HOST::GUEST]... [--stdin FILE] [--write-back] "
        "PROGRAM.wasm [-- ARGS...]",
    )
    add = run.add_argument
    add("--env", action="append", default=[], metavar="K=V", help="an environment variable")
    add("--dir", action="append", default=[], metavar="HOST::GUEST",
        help="copy host directory HOST into the VFS and preopen it as GUEST")  # fmt: skip
    add("--stdin", metavar="FILE", help="file served as the program's stdin ('-': this stdin)")
    add("--write-back", action="store_true",
        help="mirror the --dir trees back to the host when the program ends")  # fmt: skip
    add("program", metavar="PROGRAM.wasm")
    # Everything after the program belongs to it, options included ("--" is optional).
    add("args", nargs=argparse.REMAINDER, metavar="ARGS")
    commands.add_parser("demo", help="run the bundled demo program")
    return parser


def _parse_env(items: Sequence[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env expects KEY=VALUE, got {item!r}")
        env[key] = value
    return env


def _parse_dirs(items: Sequence[str]) -> list[tuple[str, str]]:
    """(host directory, guest name) pairs; a bare HOST is preopened under its own name."""
    dirs = []
    for item in items:
        host, sep, guest = item.partition("::")
        guest = guest if sep else host
        if not host or not guest:
            raise UsageError(f"--dir expects HOST::GUEST, got {item!r}")
        if not os.path.isdir(host):
            raise UsageError(f"--dir: {host}: not a directory")
        dirs.append((host, guest))
    return dirs


def _vfs_path(guest: str) -> str:
    """Where a guest directory lives in the VFS: "/data" -> "/data", "data" -> "/data"."""
    return posixpath.normpath("/" + guest.replace(os.sep, "/"))


def _open_stdin(name: str | None) -> StdinSource:
    if name is None:
        return b""
    if name == "-":
        stream: BinaryReader = sys.stdin.buffer
        return stream
    try:
        with open(name, "rb") as source:
            return source.read()
    except OSError as error:
        raise UsageError(f"--stdin: cannot read {name}: {error.strerror or error}") from None


def _run_command(options: argparse.Namespace) -> int:
    env = _parse_env(options.env)
    dirs = _parse_dirs(options.dir)
    stdin = _open_stdin(options.stdin)
    module, name = load_program(options.program)
    with start_wasi(preopens={}) as fs:
        preopens = {}
        for host, guest in dirs:
            fs.copy_in_tree(host, _vfs_path(guest))
            preopens[guest] = _vfs_path(guest)
        result = fs.run(
            module, options.args, env, stdin, preopens,
            stdout=sys.stdout.buffer, stderr=sys.stderr.buffer, line_buffered=True,
            program_name=name,
        )  # fmt: skip
        if options.write_back:
            for host, guest in dirs:
                fs.copy_out_tree(_vfs_path(guest), host, delete=True)
    return result.exit_code


def _demo_command() -> int:
    demo = importlib.resources.files("wasi_wasm").joinpath("demo.wasm")
    if not demo.is_file():
        raise UsageError("the demo program (demo.wasm) is not bundled with this installation")
    with start_wasi() as fs:
        result = fs.run(
            demo.read_bytes(), stdout=sys.stdout.buffer, stderr=sys.stderr.buffer,
            program_name="demo.wasm",
        )  # fmt: skip
    return result.exit_code


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse; a "--" right after the program starts its arguments and is not passed on.
    Any later "--" belongs to the program (argparse's own "--" rules vary by version)."""
    parser = _parser()
    arguments = list(argv)
    if "--" in arguments:
        cut = arguments.index("--")
        head = parser.parse_args(arguments[:cut])
        if head.command == "run" and not head.args:
            head.args = arguments[cut + 1 :]
            return head
    return parser.parse_args(arguments)


def main(argv: Sequence[str] | None = None) -> int:
    options = _parse(sys.argv[1:] if argv is None else argv)
    try:
        if options.command == "demo":
            return _demo_command()
        return _run_command(options)
    except (UsageError, ProgramError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except wasmtime.Trap as trap:
        program = getattr(options, "program", "demo.wasm")
        print(f"{PROG}: {program}: {_trap_summary(trap)}", file=sys.stderr)
        return TRAP_EXIT


def _trap_summary(trap: wasmtime.Trap) -> str:
    """The cause line of a trap ("wasm trap: wasm `unreachable` instruction executed"),
    without the backtrace."""
    lines = [line.strip() for line in str(trap).splitlines() if line.strip()]
    return lines[-1] if lines else "wasm trap"


if __name__ == "__main__":
    sys.exit(main())
