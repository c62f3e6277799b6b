"""Wasi: one WASI process (a core instance) on a shared in-memory filesystem, and start_wasi."""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import wasmtime

from . import _file_clock
from ._abi import STDIO_AT_NEWLINE
from ._bridge import GuestMemory
from ._errno import check
from ._exit import InvalidExitStatus, run_to_exit
from ._filesystem import Filesystem
from ._fs import encode_path
from ._hooks import ProcessHooks
from ._init import InitObj, get_wasi
from ._interrupt import is_interrupt
from ._invoke import InvokeArg, RunResult, execute_run, prepare_run
from ._limits import DEFAULT_MAX_FDS, Limits, apply_filesystem_limits, apply_process_limits
from ._options import Env, Options, merge_options, tty_streams
from ._pipe import Pipe
from ._process import CoreProcess
from ._program import (
    WASI_MODULE,
    ExtraImports,
    Program,
    ProgramError,
    define_extra_imports,
    first_line,
)
from ._shared_memory import importable
from ._stdio import InputSource, OutputSink, OutputTarget, StdinSource
from ._store import StoreState, WasiStore
from ._timeout import stop_when

if TYPE_CHECKING:
    # Type checkers see the forwarded filesystem methods with Filesystem's own signatures.
    from ._filesystem import Filesystem as FilesystemFront
else:
    from ._filesystem import FilesystemFront

__all__ = ["InvalidExitStatus", "Wasi", "start_process", "start_wasi"]


_guest_imports: weakref.WeakKeyDictionary[wasmtime.Module, list[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)
_guest_imports_lock = threading.Lock()


def _import_names(module: wasmtime.Module) -> list[tuple[str, str]]:
    """(module, name) of each import of ``module`` (Module.imports is slow: cached)."""
    with _guest_imports_lock:
        names = _guest_imports.get(module)
        if names is None:
            names = [(item.module, item.name or "") for item in module.imports]
            _guest_imports[module] = names
        return names


class Wasi(FilesystemFront):
    """One WASI process on a shared in-memory filesystem.

    ``fs`` is the filesystem (a ``Filesystem``: ``write_file``, ``read_file``, ``mkdir``,
    ``save_tar``, ``fsck``...); each of its methods is also a method of the Wasi
    (``wasi.write_file`` is ``wasi.fs.write_file``).

    ``import_obj`` supplies a guest module's imports; the guest must be instantiated in
    ``store``. Use it as a context manager, or call ``close()``, to free the process.

    Like its wasmtime Store, a Wasi belongs to one thread (another thread uses
    ``start_wasi(wasi.init_obj())``). Its filesystem methods must not be called from an
    output callback: the core may be holding its filesystem lock while delivering output."""

    def __init__(self, state: StoreState, argv: Sequence[str | bytes], options: Options) -> None:
        self._state = state
        self._options = options
        self.fs = Filesystem(state)
        self._closed = True
        self.uses_bridge: bool | None = None  # set by bind_to_other_memory
        self._hooks = ProcessHooks(
            state.core_memory,
            OutputSink(options.stdout),
            OutputSink(options.stderr),
            InputSource(options.stdin),
        )
        self._process = state.new_process(self._hooks)
        self._import_obj: dict[str, dict[str, wasmtime.Func]] | None = None
        state.open_processes += 1
        self._closed = False
        try:
            self._setup(argv, options)
        except BaseException:
            self.close()
            raise

    def _setup(self, argv: Sequence[str | bytes], options: Options) -> None:
        process = self._process
        if isinstance(argv, (str, bytes)):
            raise TypeError("args must be a sequence of strings, not one string")
        # A new process starts with 1024 fds, no environment and STDIO_AT_THRESHOLD: each call
        # into the core costs microseconds, so only differences are sent.
        if options.limits is not None:
            apply_filesystem_limits(process, options.limits)
            if options.limits.max_fds != DEFAULT_MAX_FDS:
                apply_process_limits(process, options.limits)
        process.set_args(argv)
        if options.env:
            process.set_env(options.env)
        if options.line_buffered:
            process.set_stdio_mode(STDIO_AT_NEWLINE)
        if options.tty:
            process.call("wasi_wasm_set_tty", tty_streams(options.tty))
        preopens = {"/": "/"} if options.preopens is None else options.preopens
        for guest_name, vfs_path in preopens.items():
            encode_path(vfs_path)  # a str, absolute
            process.preopen(vfs_path, guest_name)  # the core creates missing directories

    # -- state ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("this Wasi is closed")

    def _host_process(self) -> tuple[CoreProcess, int]:
        self._check_open()
        return self._state.host_process()

    @property
    def store(self) -> WasiStore:
        return self._state.store

    @property
    def engine(self) -> wasmtime.Engine:
        return self._state.init.engine

    @property
    def module(self) -> wasmtime.Module:
        """The compiled core module."""
        return self._state.init.module

    @property
    def memory(self) -> wasmtime.SharedMemory:
        """The shared core memory that holds the filesystem."""
        return self._state.core_memory.memory

    @property
    def stdout(self) -> bytes:
        """Captured stdout (when no stdout target was given)."""
        return bytes(self._hooks.stdout.captured)

    @property
    def stderr(self) -> bytes:
        return bytes(self._hooks.stderr.captured)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- wiring a guest ---------------------------------------------------------------------
    @property
    def import_obj(self) -> dict[str, dict[str, wasmtime.Func]]:
        """``{"wasi_snapshot_preview1": {name: Func}}``: every WASI function, in ``store``."""
        if self._import_obj is None:
            self._import_obj = {WASI_MODULE: self._process.wasi_functions()}
        return self._import_obj

    def imports_for(self, module: wasmtime.Module) -> list[wasmtime.Func]:
        """``module``'s imports in declaration order, for ``wasmtime.Instance``."""
        self._check_open()
        values = []
        for module_name, name in _import_names(module):
            function = self._process.wasi_function(name) if module_name == WASI_MODULE else None
            if function is None:
                raise LookupError(f"wasi.wasm does not provide the import {module_name}.{name}")
            values.append(function)
        return values

    def instantiate_program(
        self, module: wasmtime.Module, imports: ExtraImports | None = None
    ) -> wasmtime.Instance:
        """Instantiate a checked WASI program in ``store`` (``run``): a Linker resolves the
        imports natively, twice as fast as ``imports_for`` and ``wasmtime.Instance``. The
        imports WASI does not provide come from ``imports`` (see ``load_program``)."""
        self._check_open()
        linker = wasmtime.Linker(self.engine)
        linker.define_instance(self.store, WASI_MODULE, self._process.instance)
        if imports is not None:
            define_extra_imports(linker, self.store, module, imports)
        try:
            return linker.instantiate(self.store, module)
        except wasmtime.WasmtimeError as error:
            if is_interrupt(error):
                raise
            # An extra import of the wrong type: wasmtime's first line names it.
            raise ProgramError(f"cannot instantiate the program: {first_line(error)}") from None

    def define(self, linker: wasmtime.Linker) -> None:
        """Define every WASI function in ``linker`` (for instantiation in ``store``)."""
        self._check_open()
        for name, function in self.import_obj[WASI_MODULE].items():
            linker.define(self.store, WASI_MODULE, name, function)

    def bind_to_other_memory(self, memory: GuestMemory, *, bridge: bool | None = None) -> None:
        """Make ``memory`` the program memory this process's WASI calls read and write."""
        self._check_open()
        if isinstance(memory, wasmtime.SharedMemory):
            memory = importable(memory)
        choice = self._options.bridge if bridge is None else bridge
        self.uses_bridge = self._process.bind(memory, choice)

    def start(self, instance: wasmtime.Instance) -> int:
        """Bind the instance's memory, run ``_start`` and return the exit code (0 to 255: a
        larger status raises ``InvalidExitStatus``)."""
        self._check_open()
        entry = instance.exports(self.store).get("_start")
        if not isinstance(entry, wasmtime.Func):
            raise ValueError("the program has no '_start' function (is it a command?)")
        code, _results = self.call_program(instance, [(entry, ())])
        return code

    def call_program(
        self, instance: wasmtime.Instance, calls: Sequence[tuple[wasmtime.Func, Sequence[Any]]]
    ) -> tuple[int, list[Any] | None]:
        """Bind the instance's memory and make ``calls`` (function, arguments) in order as
        one run of the program: a reactor's ``_initialize`` and then one of its exports, say.
        Returns the exit code (0 to 255: a larger status raises ``InvalidExitStatus``) and
        what each call returned, as wasmtime-py gives it (None when a ``proc_exit`` ended
        the run). The process's ``timeout`` and ``stop`` apply to each such run."""
        self._check_open()
        with stop_when(self.store, self.engine, self._options.until()):
            return self._call_program(instance, calls)

    def _call_program(
        self, instance: wasmtime.Instance, calls: Sequence[tuple[wasmtime.Func, Sequence[Any]]]
    ) -> tuple[int, list[Any] | None]:
        self._process.check_not_frozen_out()  # its WASI calls reach the core directly
        exports = instance.exports(self.store)
        memory = exports.get("memory")
        if not isinstance(memory, (wasmtime.Memory, wasmtime.SharedMemory)):
            raise ValueError("the program does not export its memory as 'memory'")
        file_clock = self._process.file_clock_address

        def body() -> list[Any]:
            self.bind_to_other_memory(memory)
            with _file_clock.kept(file_clock):
                return [function(self.store, *arguments) for function, arguments in calls]

        return run_to_exit(self.store, self._hooks, self._recover, self.flush, body)

    def _recover(self) -> None:
        self._process.call("wasi_wasm_recover")

    def flush(self) -> None:
        """Deliver buffered stdout/stderr now; re-raise an error of an output callback."""
        self._check_open()
        self._process.flush()
        error, self._hooks.deferred_error = self._hooks.deferred_error, None
        if error is not None:
            raise error

    # -- pipes ------------------------------------------------------------------------------
    def pipe(self) -> Pipe:
        """A new pipe in the shared memory, held by this thread until ``pipe.release()``."""
        process, _root = self._host_process()
        return Pipe(process)

    def attach_pipe(self, pipe: Pipe, fd: int, *, write_end: bool) -> None:
        """Make this process's ``fd`` one end of ``pipe`` (e.g. 0 with ``write_end=False``:
        stdin reads from the pipe; 1 with ``write_end=True``: stdout writes into it),
        replacing what the fd was. Attach both ends before either program starts."""
        self._check_open()
        if pipe.released:
            raise ValueError("this pipe was released: attach its ends before releasing it")
        code = self._process.call("wasi_wasm_pipe_attach", pipe.handle, fd, int(write_end))
        check(code)

    # -- more processes ---------------------------------------------------------------------
    def copy_for_rebinding(
        self,
        *,
        args: Sequence[str | bytes] = (),
        options: Options | None = None,
        env: Env | None = None,
        stdin: StdinSource = b"",
        preopens: Mapping[str, str] | None = None,
        stdout: OutputTarget = None,
        stderr: OutputTarget = None,
        line_buffered: bool | None = None,
        bridge: bool | None = None,
        limits: Limits | None = None,
        tty: Collection[int] = (),
        timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> Wasi:
        """A new process in the same store on the same filesystem, with its own fd table,
        args, env and stdio (for another module in this thread). The options (``bridge``
        None: as this one's): see start_wasi."""
        merged = merge_options(
            options, env=env, stdin=stdin, preopens=preopens, stdout=stdout, stderr=stderr,
            line_buffered=line_buffered, bridge=bridge, limits=limits, tty=tty,
            timeout=timeout, stop=stop,
        )  # fmt: skip
        return self.spawn(args, merged)

    def spawn(self, argv: Sequence[str | bytes], options: Options) -> Wasi:
        """copy_for_rebinding with the options in one object (bridge None: as this one)."""
        self._check_open()
        return Wasi(self._state, argv, self._inherit(options))

    def spawn_run(self, argv: Sequence[str | bytes], options: Options) -> Wasi:
        """A new process on this filesystem for one program run (``run``, ``run_pipeline``),
        in a Store of its own (bridge None: as this one), like ``start_wasi(self.init_obj())``
        but for this thread: the program runs while this Wasi waits (another thread uses
        ``start_wasi``). Closing it drops that Store with everything the program left in it,
        so a Wasi can run any number of programs. Start the program with ``start_run``."""
        self._check_open()
        options = self._inherit(options)
        # Its program runs on this thread, while this Wasi's processes wait: one thread group.
        state = StoreState(
            self._state.init, options.bridge, one_run=True, run_for=self.store,
            thread_group=self._state.thread_group,
        )  # fmt: skip
        try:
            return Wasi(state, argv, options)
        except BaseException:
            state.close_if_unused()
            raise

    def _inherit(self, options: Options) -> Options:
        if options.bridge is None and self._options.bridge is not None:
            return dataclasses.replace(options, bridge=self._options.bridge)
        return options

    def start_run(self, instance: wasmtime.Instance) -> int:
        """``start(instance)`` for a process from ``spawn_run``: the program runs under the
        epoch deadline of the Wasi it was spawned from."""
        with self._state.following():
            return self.start(instance)

    def call_run(
        self, instance: wasmtime.Instance, calls: Sequence[tuple[wasmtime.Func, Sequence[Any]]]
    ) -> tuple[int, list[Any] | None]:
        """``call_program`` for a process from ``spawn_run`` (as ``start_run``)."""
        with self._state.following():
            return self.call_program(instance, calls)

    def init_obj(self) -> InitObj:
        """What another thread passes to start_wasi to share this filesystem."""
        self._check_open()
        return self._state.init

    def run(
        self,
        program: Program,
        args: Sequence[str | bytes] = (),
        *,
        options: Options | None = None,
        env: Env | None = None,
        stdin: StdinSource = b"",
        preopens: Mapping[str, str] | None = None,
        stdout: OutputTarget = None,
        stderr: OutputTarget = None,
        bridge: bool | None = None,
        line_buffered: bool | None = None,
        program_name: str | None = None,
        limits: Limits | None = None,
        timeout: float | None = None,
        stop: threading.Event | None = None,
        tty: Collection[int] = (),
        invoke: str | None = None,
        invoke_args: Sequence[InvokeArg] = (),
        imports: ExtraImports | None = None,
    ) -> RunResult:
        """Run ``program`` as a new process on this filesystem (see ``wasi_wasm.run``, also
        for reactors: ``invoke``, ``invoke_args``, ``imports``), in a Store of its own that
        is dropped when it ends (``store``'s epoch deadline applies)."""
        merged = merge_options(
            options, env=env, stdin=stdin, preopens=preopens, stdout=stdout, stderr=stderr,
            bridge=bridge, line_buffered=line_buffered, limits=limits, timeout=timeout,
            stop=stop, tty=tty,
        )  # fmt: skip
        self._check_open()
        prepared = prepare_run(
            program, args, merged, program_name=program_name, invoke=invoke,
            invoke_args=invoke_args, imports=imports,
        )  # fmt: skip
        with self.spawn_run(prepared.argv, prepared.options) as process:
            return execute_run(process, prepared)

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the process's fds and free its table and stack. Idempotent."""
        if self._closed:
            return
        self._process.check_not_frozen_out()  # before anything is closed
        self._closed = True
        self.fs._wasi_closed()
        try:
            self._process.detach()
        finally:
            self._state.release()

    def __enter__(self) -> Wasi:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Wasi {'closed' if self._closed else 'open'} pid={id(self):#x}>"


def start_wasi(
    init: InitObj | None = None,
    *,
    args: Sequence[str | bytes] = (),
    options: Options | None = None,
    env: Env | None = None,
    stdin: StdinSource = b"",
    preopens: Mapping[str, str] | None = None,
    stdout: OutputTarget = None,
    stderr: OutputTarget = None,
    line_buffered: bool | None = None,
    bridge: bool | None = None,
    limits: Limits | None = None,
    tty: Collection[int] = (),
    timeout: float | None = None,
    stop: threading.Event | None = None,
) -> Wasi:
    """Start a WASI process: on a fresh filesystem, or on ``init``'s memory if it has one
    (a Wasi's ``init_obj()``, e.g. from another thread: this thread gets its own Store).

    ``args`` is the whole argv; ``preopens`` maps guest names to absolute VFS directories
    (default {"/": "/"}; missing directories are created). stdout/stderr: None captures
    into ``wasi.stdout``/``wasi.stderr``, or a callable receiving bytes, or a binary file.
    ``limits`` (a ``Limits``) sets the filesystem's limits and this process's fd limit; a
    fresh filesystem gets ``Limits()`` when it is None. ``tty``: which of fds 0, 1 and 2
    say they are terminals (character devices, as wasmtime shows a terminal: isatty() is 1
    and C programs flush per line), e.g. ``[fd for fd in (0, 1, 2) if os.isatty(fd)]``.
    ``timeout``, ``stop``: each program this process runs with ``start()`` or
    ``call_program()`` is interrupted after ``timeout`` seconds or once ``stop`` is set.
    ``options`` (an ``Options``) holds any of these settings in one object; a keyword
    argument that is not its default replaces its field."""
    merged = merge_options(
        options, env=env, stdin=stdin, preopens=preopens, stdout=stdout, stderr=stderr,
        line_buffered=line_buffered, bridge=bridge, limits=limits, tty=tty, timeout=timeout,
        stop=stop,
    )  # fmt: skip
    return start_process(init, args, merged)


def start_process(
    init: InitObj | None,
    argv: Sequence[str | bytes],
    options: Options,
    *,
    one_run: bool = False,
) -> Wasi:
    """start_wasi with the options in one object. ``one_run``: the Store is closed with the
    process (for a process that runs one program: ``run``, ``run_pipeline``)."""
    if init is None:
        init = get_wasi()
    if init.memory is None:
        init = init.with_memory(init.new_memory())
        if options.limits is None:  # a fresh filesystem starts with the default limits
            options = dataclasses.replace(options, limits=Limits())
    state = StoreState(init, options.bridge, one_run=one_run)
    try:
        return Wasi(state, argv, options)
    except BaseException:
        state.close_if_unused()
        raise
