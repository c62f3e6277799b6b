"""run_pipeline(): several programs on one filesystem, each one's stdout feeding the next
one's stdin, either at the same time (one thread per program, core pipes between them) or
one after another."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Mapping, Sequence

import wasmtime

from ._interrupt import Interrupted
from ._invoke import entry_calls
from ._limits import Limits
from ._options import Env, Options, merge_options
from ._program import ExtraImports, Program, ProgramInfo, load_program, program_info
from ._stdio import OutputTarget, StdinSource
from ._timeout import Stop, stop_when
from ._wasi import Wasi, start_process, start_wasi

# A program alone, or (program, its arguments after argv[0]).
Command = Program | tuple[Program, Sequence[str | bytes]]


@dataclasses.dataclass(frozen=True)
class PipelineResult:
    exit_codes: tuple[int, ...]  # one per program, in pipeline order
    stdout: bytes  # the last program's stdout (empty when it went to a callback or file)
    stderr: tuple[bytes, ...]  # each program's stderr (empty when it went elsewhere)

    @property
    def exit_code(self) -> int:
        """The last program's exit code, as a shell reports a pipeline's status."""
        return self.exit_codes[-1]


@dataclasses.dataclass
class _Stage:
    module: wasmtime.Module
    info: ProgramInfo
    argv: list[str | bytes]
    exit_code: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    error: BaseException | None = None


def run_pipeline(
    commands: Sequence[Command],
    *,
    options: Options | None = None,
    wasi: Wasi | None = None,
    stdin: StdinSource = b"",
    env: Env | None = None,
    preopens: Mapping[str, str] | None = None,
    stdout: OutputTarget = None,
    stderr: OutputTarget = None,
    sequential: bool = False,
    bridge: bool | None = None,
    line_buffered: bool | None = None,
    limits: Limits | None = None,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    tty: Collection[int] = (),
    imports: ExtraImports | None = None,
) -> PipelineResult:
    """Run ``commands`` as a pipeline, like ``a | b | c`` in a shell, on one filesystem:
    ``wasi``'s, else a fresh one.

    Each command is a program (path, wasm bytes or compiled module) or ``(program, args)``;
    argv[0] is the program's file name. ``stdin`` feeds the first program, the last
    program's stdout is captured into the result (or streamed to ``stdout``), and every
    program's stderr is captured (or streamed to ``stderr``, from several threads at once).
    ``env`` and ``preopens`` (default {"/": "/"}) apply to every program.

    By default all programs run at the same time, each in its own thread with its own
    Store, connected by pipes in the shared memory: a reader waits for data or end-of-file,
    a writer whose reader has exited gets EPIPE. ``sequential=True`` runs them one after
    another in this thread instead, each one's whole stdout becoming the next one's stdin.

    ``limits``, ``timeout`` and ``stop`` mean what they mean for ``run``, for every program:
    the filesystem's limits and each process's fd limit; ``timeout`` seconds for the whole
    pipeline, after which every program still running is interrupted, and a
    ``threading.Event`` that interrupts them all once set. ``imports``: the imports besides
    WASI's, as for ``run``, for every program (each takes those it imports). A reactor in a
    pipeline is initialised (its ``_initialize`` runs as the stage). ``options`` (an
    ``Options``) holds any of these settings in one object (``stdout`` is the last
    program's; ``tty`` every program's, where an fd joined to a pipe is never a terminal); a
    keyword argument that is not its default
    replaces its field.
    A program that traps or is interrupted raises its ``wasmtime.Trap`` (``Interrupted``)
    once every program has ended."""
    merged = merge_options(
        options, env=env, stdin=stdin, preopens=preopens, stdout=stdout, stderr=stderr,
        bridge=bridge, line_buffered=line_buffered, limits=limits, timeout=timeout, stop=stop,
        tty=tty,
    )  # fmt: skip
    stages = [_load(command, imports) for command in commands]
    if not stages:
        raise ValueError("a pipeline needs at least one program")
    settings = _Settings(
        dataclasses.replace(
            merged, line_buffered=merged.streams_line_buffered(), timeout=None, stop=None
        ),
        merged.until(),
        imports,
    )
    if wasi is None:
        fresh_options = Options(preopens={}, bridge=merged.bridge, limits=merged.limits)
        with start_wasi(options=fresh_options) as fresh:
            return _run(fresh, stages, merged.stdin, settings, sequential)
    return _run(wasi, stages, merged.stdin, settings, sequential)


@dataclasses.dataclass(frozen=True)
class _Settings:
    process: Options  # every program's, but for stdin and the last one's stdout
    until: Stop | None
    imports: ExtraImports | None

    def options(self, stdin: StdinSource, last: bool) -> Options:
        stdout = self.process.stdout if last else None
        return dataclasses.replace(self.process, stdin=stdin, stdout=stdout)


def _load(command: Command, imports: ExtraImports | None) -> _Stage:
    if isinstance(command, tuple):
        program, args = command
        if isinstance(args, (str, bytes)):
            raise TypeError("a command's args must be a sequence of strings, not one string")
    else:
        program, args = command, ()
    module, name = load_program(program, imports=imports)
    return _Stage(module, program_info(module, name), [name, *args])


def _run(
    wasi: Wasi, stages: list[_Stage], stdin: StdinSource, settings: _Settings, sequential: bool
) -> PipelineResult:
    if sequential:
        _run_sequentially(wasi, stages, stdin, settings)
    else:
        _run_concurrently(wasi, stages, stdin, settings)
    error = _take_error(stages)
    if error is not None:
        try:
            raise error
        finally:
            # This frame joins the error's traceback: a local holding the error would make a
            # cycle that keeps every process of the pipeline until the cycle collector runs.
            del error
    return PipelineResult(
        tuple(stage.exit_code for stage in stages),
        stages[-1].stdout,
        tuple(stage.stderr for stage in stages),
    )


def _take_error(stages: list[_Stage]) -> BaseException | None:
    """The first program's error, with every stage's dropped: a stage holding its error
    while the error's traceback holds the frame that ran the stage is a reference cycle."""
    errors = [stage.error for stage in stages if stage.error is not None]
    for stage in stages:
        stage.error = None
    return errors[0] if errors else None


def _run_sequentially(
    wasi: Wasi, stages: list[_Stage], stdin: StdinSource, settings: _Settings
) -> None:
    data = stdin
    for index, stage in enumerate(stages):
        last = index == len(stages) - 1
        with wasi.spawn_run(stage.argv, settings.options(data, last)) as process:
            _run_stage(process, stage, settings)
        if stage.error is not None:
            return
        data = stage.stdout


def _run_stage(process: Wasi, stage: _Stage, settings: _Settings) -> None:
    try:
        with stop_when(process.store, process.engine, settings.until):
            instance = process.instantiate_program(stage.module, settings.imports)
            calls = entry_calls(process.store, instance, stage.info, None, ())
            stage.exit_code, _returned = process.call_run(instance, calls)
    except BaseException as error:  # reported by _run once every program has ended
        stage.error = error
    stage.stdout = process.stdout
    stage.stderr = process.stderr


class _Ending:
    """Counts the programs of a pipeline that ended. One stopped by the pipeline's timeout or
    stop event keeps its pipe ends open until every program has ended: closing them at once
    would let the next program read end-of-file and carry on (print its result) in the tick
    before it is stopped too, as no program does when a shell's Ctrl-C stops them all."""

    def __init__(self, count: int) -> None:
        self._running = count
        self._changed = threading.Condition()

    def ended(self, *, stopped: bool) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify_all()
            if stopped:
                self._changed.wait_for(lambda: self._running == 0)


def _run_concurrently(
    wasi: Wasi, stages: list[_Stage], stdin: StdinSource, settings: _Settings
) -> None:
    init = wasi.init_obj()
    count = len(stages)
    pipes = [wasi.pipe() for _ in range(count - 1)]
    # Every program attaches its pipe ends before any starts: a reader whose writer is not
    # attached yet would see end-of-file.
    ready = threading.Barrier(count + 1)

    ending = _Ending(count)

    def stage_thread(index: int) -> None:
        stage = stages[index]
        last = index == count - 1
        ran = False
        try:
            try:
                options = settings.options(stdin if index == 0 else b"", last)
                process = start_process(init, stage.argv, options, one_run=True)
            except BaseException as error:
                stage.error = error
                ready.abort()
                return
            with process:  # closing the process closes its pipe ends: EOF or EPIPE downstream
                try:
                    if index > 0:
                        process.attach_pipe(pipes[index - 1], 0, write_end=False)
                    if not last:
                        process.attach_pipe(pipes[index], 1, write_end=True)
                except BaseException as error:
                    stage.error = error
                    ready.abort()
                    return
                try:
                    ready.wait()
                except threading.BrokenBarrierError:
                    return  # another program could not start: this one does not run either
                _run_stage(process, stage, settings)
                ran = True
                ending.ended(stopped=isinstance(stage.error, Interrupted))
        finally:
            if not ran:
                ending.ended(stopped=False)

    threads = [
        threading.Thread(target=stage_thread, args=(index,), name=f"wasi-pipeline-{index}",
                         daemon=True)
        for index in range(count)
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    finally:
        for pipe in pipes:
            pipe.release()
    for thread in threads:
        thread.join()
