"""Command line: ``wasi-wasm run ...``, ``wasi-wasm pipe ...`` and ``wasi-wasm demo``.

Bad usage, a missing file or a file that is not a WASI command or reactor: one line on stderr,
exit 2.
A program that traps, is stopped (--timeout, Ctrl-C) or exits with a status a process cannot
report: one line on stderr and the exit code a shell or wasmtime's CLI gives for it.
"""

from __future__ import annotations

import argparse
import decimal
import importlib.metadata
import importlib.resources
import math
import os
import posixpath
import re
import signal
import struct
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NoReturn

import wasmtime

from . import __version__
from ._engine import disk_cache_enabled, set_compile_notice, set_disk_cache
from ._interrupt import Interrupted
from ._invoke import InvokeArg
from ._limits import Limits
from ._options import Options
from ._pipeline import run_pipeline
from ._program import ProgramError, load_program, program_info
from ._stdio import BinaryReader, StdinSource
from ._timeout import check_timeout
from ._wasi import InvalidExitStatus, Wasi, start_wasi

USAGE_ERROR = 2
TRAP_EXIT = 134  # what wasmtime's CLI reports for a trap (128 + SIGABRT)
TIMEOUT_EXIT = 124  # what timeout(1) reports
INTERRUPTED_EXIT = 130  # what a shell reports for a program stopped by Ctrl-C (128 + SIGINT)
INVALID_STATUS_EXIT = 1  # what wasmtime's CLI reports for an exit status it refuses
PROG = "wasi-wasm"
PIPE = "|"  # separates the programs of `wasi-wasm pipe`


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
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="{run,pipe,demo}")
    run = commands.add_parser(
        "run",
        help="run a WASI program",
        usage=f"{PROG} run [--env K=V]... [--dir HOST::GUEST]... [--ro-dir HOST::GUEST]... "
        "[--stdin FILE] [--write-back] "
        "[--max-fs-bytes N] [--max-fds N] [--timeout SECONDS] [--no-cache] [--argv0 NAME] "
        "[--invoke NAME] PROGRAM.wasm "
        "[-- ARGS...]",
    )
    _add_filesystem_options(run)
    _add_limit_options(run)
    _add_cache_option(run)
    run.add_argument(
        "--argv0", metavar="NAME", help="argv[0] of the program (default: its file name)"
    )
    run.add_argument("--invoke", metavar="NAME",
        help="call this export (a reactor's, after _initialize) with ARGS as its arguments "
        "and print its results, as wasmtime run --invoke")  # fmt: skip
    run.add_argument("program", metavar="PROGRAM.wasm")
    # Everything after the program belongs to it, options included ("--" is optional).
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    pipe = commands.add_parser(
        "pipe",
        help="run programs connected stdout to stdin, on one filesystem",
        usage=f"{PROG} pipe [--env K=V]... [--dir HOST::GUEST]... [--ro-dir HOST::GUEST]... "
        "[--stdin FILE] [--write-back] "
        "[--max-fs-bytes N] [--max-fds N] [--timeout SECONDS] [--no-cache] [--sequential] "
        f"[--] PROGRAM.wasm [ARGS...] '{PIPE}' PROGRAM.wasm [ARGS...] ...",
    )
    _add_filesystem_options(pipe)
    _add_limit_options(pipe)
    _add_cache_option(pipe)
    pipe.add_argument(
        "--sequential", action="store_true", help="run the programs one after another"
    )
    # The programs and their arguments, separated by a lone "|" (quoted for the shell).
    pipe.add_argument("commands", nargs=argparse.REMAINDER, metavar="COMMANDS")
    _add_cache_option(commands.add_parser("demo", help="run the bundled demo program"))
    return parser


def _version() -> str:
    return f"{PROG} {__version__} (wasmtime-py {importlib.metadata.version('wasmtime')})"


def _add_cache_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-cache", action="store_true",
        help="neither read nor write compiled programs in the disk cache "
        "(also: WASI_WASM_NO_CACHE=1)")  # fmt: skip


def _announce_compile(name: str) -> None:
    """The line for a program whose compilation takes a while (from a timer thread)."""
    once = " (first run only)" if disk_cache_enabled() else ""
    print(f"{PROG}: compiling {name}{once}\u2026", file=sys.stderr, flush=True)


@contextmanager
def _compile_settings(options: argparse.Namespace) -> Iterator[None]:
    """--no-cache and the compile notice, for the duration of one main()."""
    if options.no_cache:
        set_disk_cache(False)
    set_compile_notice(_announce_compile)
    try:
        yield
    finally:
        set_compile_notice(None)
        if options.no_cache:
            set_disk_cache(None)


def _add_filesystem_options(command: argparse.ArgumentParser) -> None:
    add = command.add_argument
    add("--env", action="append", default=[], metavar="K=V",
        help="an environment variable; a bare K passes this process's, as wasmtime")  # fmt: skip
    add("--dir", action="append", default=[], metavar="HOST::GUEST",
        help="mount host directory HOST as GUEST, read on demand; changes stay in memory "
             "unless --write-back")  # fmt: skip
    add("--ro-dir", action="append", default=[], metavar="HOST::GUEST",
        help="mount host directory HOST as GUEST read-only (writes fail with EPERM)")  # fmt: skip
    add("--stdin", metavar="FILE",
        help="file served as stdin (default, as wasmtime run: this process's stdin)")  # fmt: skip
    add("--write-back", action="store_true",
        help="apply the programs' changes below each --dir to the host when they end")  # fmt: skip


def _add_limit_options(command: argparse.ArgumentParser) -> None:
    add = command.add_argument
    add("--max-fs-bytes", metavar="N",
        help="bytes the filesystem may hold (K, M, G suffixes; 'none'); default 1G")  # fmt: skip
    add("--max-fds", metavar="N", help="open fds of each program; default 1024")
    add("--timeout", metavar="SECONDS",
        help=f"stop the programs after this long (exit {TIMEOUT_EXIT}); default: none")  # fmt: skip


def _parse_env(items: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE sets a variable; a bare KEY passes this process's value, as `wasmtime run
    --env KEY` does (nothing when it is unset)."""
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"--env expects KEY=VALUE or KEY, got {item!r}")
        if sep:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    return env


def _parse_dirs(items: Sequence[str], flag: str = "--dir") -> list[tuple[str, str]]:
    """(host directory, guest name) pairs; a bare HOST is preopened under its own name."""
    dirs = []
    for item in items:
        host, sep, guest = item.partition("::")
        guest = guest if sep else host
        if not host or not guest:
            raise UsageError(f"{flag} expects HOST::GUEST, got {item!r}")
        if not os.path.isdir(host):
            raise UsageError(f"{flag}: {_printable(host)}: not a directory")
        dirs.append((host, guest))
    return dirs


def _parse_mounts(options: argparse.Namespace) -> list[tuple[str, str, bool]]:
    """--dir and --ro-dir: (host directory, guest name, read-only)."""
    return [(host, guest, False) for host, guest in _parse_dirs(options.dir)] + [
        (host, guest, True) for host, guest in _parse_dirs(options.ro_dir, "--ro-dir")
    ]


_SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _parse_limits(options: argparse.Namespace) -> Limits:
    """--max-fs-bytes and --max-fds as a Limits (defaults for what is not given)."""
    defaults = Limits()
    max_fs_bytes, max_fds = defaults.max_fs_bytes, defaults.max_fds
    size = getattr(options, "max_fs_bytes", None)
    if size is not None:
        text = size.strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:].isalpha() else ""
        digits = text[: len(text) - len(unit)]
        if text == "NONE":
            max_fs_bytes = None
        elif unit not in _SIZE_SUFFIXES or not digits.isdigit():
            raise UsageError(
                f"--max-fs-bytes expects a size such as 1000, 64K, 512M or 2G, got {size!r}"
            )
        else:
            max_fs_bytes = int(digits) * _SIZE_SUFFIXES[unit]
    fds = getattr(options, "max_fds", None)
    if fds is not None:
        if not fds.isdigit():
            raise UsageError(f"--max-fds expects a number, got {fds!r}")
        max_fds = int(fds)
    try:
        return Limits(max_fs_bytes=max_fs_bytes, max_fds=max_fds)
    except ValueError as error:
        raise UsageError(str(error).replace("Limits.max_", "--max-").replace("_", "-")) from None


def _vfs_path(guest: str) -> str:
    """Where a guest directory lives in the VFS: "/data" -> "/data", "data" -> "/data"."""
    return posixpath.normpath("/" + guest.replace(os.sep, "/").lstrip("/"))


def _depth(guest: str) -> int:
    return len([part for part in _vfs_path(guest).split("/") if part])


def _terminals(stdin_name: str | None) -> list[int]:
    """The stdio fds the program sees as terminals: those of this process that are, as
    wasmtime run shows them (so C programs flush per line there); stdin only if inherited."""
    streams = {0: sys.stdin if stdin_name in (None, "-") else None, 1: sys.stdout, 2: sys.stderr}
    return [fd for fd, stream in streams.items() if stream is not None and _isatty(stream)]


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # replaced, closed or odd streams
        return False


def _open_stdin(name: str | None) -> StdinSource:
    if name is None or name == "-":  # this process's stdin, as wasmtime run gives
        if sys.stdin is None:  # started without one
            return b""
        stream: BinaryReader = sys.stdin.buffer
        return stream
    try:
        with open(name, "rb") as source:
            return source.read()
    except OSError as error:
        raise UsageError(f"--stdin: cannot read {_describe(error, name)}") from None


@contextmanager
def _filesystem(
    dirs: Sequence[tuple[str, str, bool]], write_back: bool, limits: Limits | None = None
) -> Iterator[tuple[Wasi, dict[str, str]]]:
    """A fresh filesystem with the --dir and --ro-dir trees mounted lazily (_mount.py: read
    from the host as the programs touch them, changes kept in memory), and the preopens that
    show them; the changes below each --dir are applied to the host afterwards with
    --write-back (what the programs never touched is neither read nor rewritten), unless the
    programs failed (a trap, an exit status a process cannot report). Programs stopped by
    --timeout or Ctrl-C are written back: wasmtime would have left their work on the host
    too, and here it is whole, since an interrupt never lands inside a filesystem operation.
    A Ctrl-C during the write-back stops it where it is, as it stops cp."""
    with start_wasi(preopens={}, limits=limits) as fs, ExitStack() as targets:
        preopens = {}
        target_fds: dict[int, int] = {}  # by the --dir's place on the command line
        # Enclosing directories first: a nested --dir takes the place of what the enclosing
        # one has at its path (a mount must be an empty or still unlisted directory).
        for index in sorted(range(len(dirs)), key=lambda index: _depth(dirs[index][1])):
            host, guest, read_only = dirs[index]
            try:
                fs.mount_host_dir(host, _vfs_path(guest), read_only=read_only)
            except OSError as error:  # unreadable, or nested in a mount where GUEST exists
                raise UsageError(f"--dir: cannot mount {_describe(error, host)}") from None
            preopens[guest] = _vfs_path(guest)
            if write_back and not read_only:
                target_fds[index] = targets.enter_context(_open_target(host))
        yield fs, preopens
        # Written back through the directories opened before the run, never by name: once
        # the write-back of an enclosing --dir has replaced a directory on the path to a
        # nested one (by a symlink the program planted, say), the name could lead anywhere.
        # Each through its own: they were opened in mount order, and paired with the
        # command line's order a nested --dir was written into another --dir's directory.
        for index, target in sorted(target_fds.items()):
            host, guest, _read_only = dirs[index]
            if os.fstat(target).st_nlink == 0:
                raise UsageError(f"--write-back: {_printable(host)} is gone: the write-back of "
                                 f"an enclosing --dir replaced it with what the program left "
                                 f"there; {_printable(guest)} was not written back")  # fmt: skip
            try:
                fs.write_back_host_dir(_vfs_path(guest), target)
            except OSError as error:
                message = f"--write-back: cannot write {_describe(error, host)}"
                raise UsageError(message) from None


@contextmanager
def _open_target(host: str) -> Iterator[int]:
    """A --write-back target's directory, opened (following symlinks, as the copy-in did)."""
    try:
        fd = os.open(host, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise UsageError(f"--write-back: cannot open {_describe(error, host)}") from None
    try:
        yield fd
    finally:
        os.close(fd)


def _describe(error: OSError, default: str) -> str:
    """NAME: reason, for an OSError from a copy (its own file name when it has one; a name
    below a directory given by fd, "<fd N>/x", is shown below default instead)."""
    name = os.fsdecode(error.filename) if error.filename is not None else default
    if name.startswith("<fd ") and ">" in name:
        name = default + name[name.index(">") + 1 :]
    return f"{_printable(name)}: {error.strerror or error}"


def _output_is_terminal() -> bool:
    """Whether stdout or stderr is a terminal: output then goes out per line, as a person
    reads it. To a pipe or a file the core buffers it and the host delivers it at every
    epoch tick (10 ms) and when the program reads, exits or fills a buffer: one host call
    per write cost 20 us a line, five times wasmtime's (bench/stdout_lines.py)."""
    return any(stream.isatty() for stream in (sys.stdout, sys.stderr))


def _printable(name: str) -> str:
    """A name as one line: a newline in it must not make a second line of a message."""
    return name if name.isprintable() else repr(name)[1:-1]


def _run_command(options: argparse.Namespace) -> int:
    env = _parse_env(options.env)
    dirs = _parse_mounts(options)
    limits = _parse_limits(options)
    stdin = _open_stdin(options.stdin)
    timeout = _parse_timeout(options.timeout)
    module, name = load_program(options.program)
    invoke_args, result_types = [], []
    if options.invoke is not None:
        function = _export_to_invoke(module, options.program, options.invoke)
        invoke_args = _parse_invoke_args(function, options.invoke, options.args)
        result_types = [str(result) for result in function.results]
    with _filesystem(dirs, options.write_back, limits) as (fs, preopens), _sigint_stops() as stop:
        settings = _run_options(
            env=env, stdin=stdin, preopens=preopens, limits=limits, timeout=timeout, stop=stop,
            stdin_name=options.stdin,
        )
        try:
            result = fs.run(
                module, options.args, options=settings, program_name=options.argv0 or name,
                invoke=options.invoke, invoke_args=invoke_args,
            )  # fmt: skip
        except Interrupted:
            return _report_stop(options.program, stop, options.timeout)
    # After the program's own output, one line per result, as wasmtime run --invoke prints
    # (none when the program exited instead of returning).
    if result.results:
        for value, wasm_type in zip(result.results, result_types, strict=True):
            sys.stdout.buffer.write(f"{_show_wasm_value(value, wasm_type)}\n".encode())
        sys.stdout.buffer.flush()
    return result.exit_code


def _export_to_invoke(module: wasmtime.Module, program: str, invoke: str) -> wasmtime.FuncType:
    function = program_info(module, program).exports.get(invoke)
    shown = _printable(program)
    if function is None:
        raise UsageError(f"--invoke: {shown} exports no function named {invoke!r}")
    if not isinstance(function, wasmtime.FuncType):
        raise UsageError(f"--invoke: the export {invoke!r} of {shown} is not a function")
    return function


# The numbers wasmtime run --invoke takes (Rust's parsers): decimal integers, or hexadecimal
# after 0x (its sign, if any, after the prefix); floats as Rust writes them, inf and nan too.
_DECIMAL_INTEGER = re.compile(r"[+-]?[0-9]+")
_HEX_INTEGER = re.compile(r"0[xX]([+-]?[0-9a-fA-F]+)")
_FLOAT = re.compile(r"[+-]?(inf|infinity|nan|([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?)",
                    re.IGNORECASE)  # fmt: skip
_INTEGER_BITS = {"i32": 32, "i64": 64}


def _parse_invoke_args(
    function: wasmtime.FuncType, invoke: str, words: Sequence[str]
) -> list[InvokeArg]:
    """The export's arguments from the words after the program, by its parameter types."""
    params = [str(param) for param in function.params]
    if len(words) != len(params):
        raise UsageError(
            f"--invoke {invoke}: expects {len(params)} argument{'' if len(params) == 1 else 's'}"
            f" ({', '.join(params)}), got {len(words)}"
        )
    return [
        _parse_wasm_value(word, param, f"--invoke {invoke}: argument {position}")
        for position, (word, param) in enumerate(zip(words, params, strict=True), 1)
    ]


def _parse_wasm_value(word: str, wasm_type: str, where: str) -> InvokeArg:
    bits = _INTEGER_BITS.get(wasm_type)
    if bits is not None:
        hexadecimal = _HEX_INTEGER.fullmatch(word)
        if hexadecimal is None and not _DECIMAL_INTEGER.fullmatch(word):
            raise UsageError(f"{where}: {_printable(word)!r} is not an {wasm_type}")
        number = int(hexadecimal.group(1), 16) if hexadecimal else int(word)
        # Signed, as Rust parses it: 0xffffffff does not fit an i32 there either.
        if not -(1 << (bits - 1)) <= number < 1 << (bits - 1):
            raise UsageError(f"{where}: {_printable(word)!r} does not fit in an {wasm_type}")
        return number
    if wasm_type in ("f32", "f64"):
        if not _FLOAT.fullmatch(word):
            raise UsageError(f"{where}: {_printable(word)!r} is not an {wasm_type}")
        return _to_f32(float(word)) if wasm_type == "f32" else float(word)
    raise UsageError(f"{where}: --invoke cannot pass a {wasm_type} argument")


def _to_f32(value: float) -> float:
    """``value`` rounded to the nearest f32 (infinity past the largest)."""
    try:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def _show_wasm_value(value: Any, wasm_type: str) -> str:
    """A result as wasmtime run --invoke prints it: Rust's Display of the value."""
    if wasm_type in ("f32", "f64"):
        return _show_float(float(value), single=wasm_type == "f32")
    if wasm_type == "funcref":
        return "<null funcref>" if value is None else "<funcref>"
    if wasm_type == "externref":
        return "<null externref>" if value is None else "<externref>"
    return str(value)


def _show_float(value: float, *, single: bool) -> str:
    """Rust's Display of an f32 or f64: the fewest digits that read back as the same value,
    written out without an exponent ("0.00000005", "1", "-0", "inf", "NaN")."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    shortest = repr(value)
    if single:
        shortest = next(
            text
            for text in (f"{value:.{digits}e}" for digits in range(9))
            if _to_f32(float(text)) == value
        )
    text = format(decimal.Decimal(shortest), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@contextmanager
def _sigint_stops() -> Iterator[threading.Event]:
    """An event that SIGINT (Ctrl-C) sets within the block, instead of raising
    KeyboardInterrupt: the run it is given to stops as cleanly as on a timeout.

    Python runs signal handlers in the main thread between bytecodes, and the main thread
    may be inside wasm for as long as the program runs; so a watcher thread reads the signal
    numbers that the C-level handler writes to the wakeup fd, and sets the event at once."""
    stop = threading.Event()
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # e.g. a shell's background job
    if ignored or threading.current_thread() is not threading.main_thread():
        yield stop  # an ignored SIGINT stays ignored; only the main thread handles signals
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    watcher = threading.Thread(target=_watch_for_sigint, args=(read_fd, stop), daemon=True)
    watcher.start()
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        yield stop
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGINT, previous)
        os.close(write_fd)  # the watcher reads end-of-file and ends
        watcher.join()
        os.close(read_fd)


def _watch_for_sigint(read_fd: int, stop: threading.Event) -> None:
    while signals := os.read(read_fd, 64):
        if signal.SIGINT.value in signals:
            stop.set()


def _report_stop(program: str, stop: threading.Event, timeout: str | None) -> int:
    """One line for a program stopped by Ctrl-C or --timeout, and the exit code for it."""
    if stop.is_set():
        print(f"{PROG}: {program}: stopped by Ctrl-C (SIGINT)", file=sys.stderr)
        return INTERRUPTED_EXIT
    print(f"{PROG}: {program}: stopped after {timeout} s (--timeout)", file=sys.stderr)
    return TIMEOUT_EXIT


def _parse_timeout(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return check_timeout(float(text))
    except ValueError:
        message = f"--timeout: expected a positive number of seconds, got {text!r}"
        raise UsageError(message) from None


def _split_pipeline(words: Sequence[str]) -> list[tuple[str, list[str]]]:
    """PROGRAM [ARGS...] | PROGRAM [ARGS...] ... -> [(program, args), ...]; a "--" right after
    a program starts its arguments and is not passed on."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word == PIPE:
            commands.append([])
        else:
            commands[-1].append(word)
    if not words:
        raise UsageError(f"pipe needs programs: PROGRAM.wasm [ARGS...] '{PIPE}' PROGRAM.wasm ...")
    if any(not command for command in commands):
        raise UsageError(f"pipe: empty command before or after '{PIPE}'")
    stages = []
    for program, *args in commands:
        stages.append((program, args[1:] if args[:1] == ["--"] else args))
    return stages


def _pipe_command(options: argparse.Namespace) -> int:
    env = _parse_env(options.env)
    dirs = _parse_mounts(options)
    limits = _parse_limits(options)
    timeout = _parse_timeout(options.timeout)
    stages = _split_pipeline(options.commands)
    for program, _args in stages:
        load_program(program)  # a missing or invalid program: exit 2 before anything runs
    stdin = _open_stdin(options.stdin)
    with _filesystem(dirs, options.write_back, limits) as (fs, preopens), _sigint_stops() as stop:
        settings = _run_options(
            env=env, stdin=stdin, preopens=preopens, limits=limits, timeout=timeout, stop=stop,
            stdin_name=options.stdin,
        )
        try:
            result = run_pipeline(stages, options=settings, wasi=fs, sequential=options.sequential)
        except Interrupted:
            return _report_stop("pipe", stop, options.timeout)
    return result.exit_code


def _run_options(
    *,
    env: dict[str, str],
    stdin: StdinSource,
    preopens: dict[str, str],
    limits: Limits,
    timeout: float | None,
    stop: threading.Event,
    stdin_name: str | None,
) -> Options:
    """How `run` and `pipe` run their programs: output streams to this process's stdout and
    stderr, and the stdio that are terminals here say so."""
    return Options(
        env=env, stdin=stdin, preopens=preopens, stdout=sys.stdout.buffer,
        stderr=sys.stderr.buffer, line_buffered=_output_is_terminal(), limits=limits,
        timeout=timeout, stop=stop, tty=_terminals(stdin_name),
    )  # fmt: skip


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
        if head.command == "pipe" and not head.commands:
            head.commands = arguments[cut + 1 :]
            return head
    return parser.parse_args(arguments)


def main(argv: Sequence[str] | None = None) -> int:
    options = _parse(sys.argv[1:] if argv is None else argv)
    try:
        with _compile_settings(options):
            if options.command == "demo":
                return _demo_command()
            if options.command == "pipe":
                return _pipe_command(options)
            return _run_command(options)
    except (UsageError, ProgramError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as error:  # e.g. no room left to start the program (--max-fs-bytes)
        print(f"{PROG}: error: {error.strerror or error}", file=sys.stderr)
        return USAGE_ERROR
    except wasmtime.Trap as trap:
        print(f"{PROG}: {_program(options)}: {_trap_summary(trap)}", file=sys.stderr)
        return TRAP_EXIT
    except InvalidExitStatus as error:
        print(f"{PROG}: {_program(options)}: {error}", file=sys.stderr)
        return INVALID_STATUS_EXIT
    except KeyboardInterrupt:  # Ctrl-C outside a program's run (while copying the trees)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT


def _program(options: argparse.Namespace) -> str:
    """How a one-line message names what ran."""
    if options.command == "pipe":
        return "pipe"
    return str(getattr(options, "program", "demo.wasm"))


def _trap_summary(trap: wasmtime.Trap) -> str:
    """The cause line of a trap ("wasm trap: wasm `unreachable` instruction executed"),
    without the backtrace."""
    lines = [line.strip() for line in str(trap).splitlines() if line.strip()]
    return lines[-1] if lines else "wasm trap"


if __name__ == "__main__":
    sys.exit(main())
