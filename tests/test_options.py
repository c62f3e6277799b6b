"""One keyword-only options type (``wasi_wasm.Options``) for every entry point: start_wasi,
copy_for_rebinding, run, Wasi.run, run_pipeline and the CLI's run and pipe, so each has the
limits and the timeout; the keyword arguments of each entry point still work and override it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import wasi_wasm
from cli_run import cli
from wasi_wasm import Limits, Options

TIMEOUT = 0.5
PROMPTLY = 1.5  # a stopped program is gone this long after its time (shared machines)


@pytest.fixture(scope="module")
def waiter(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("stops_wait")


@pytest.fixture(scope="module")
def limits_program(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("harden_limits")


def assert_stopped_promptly(started: float) -> None:
    elapsed = time.monotonic() - started
    assert TIMEOUT <= elapsed < TIMEOUT + PROMPTLY, elapsed


def test_options_are_keyword_only_frozen_and_checked() -> None:
    with pytest.raises(TypeError):
        Options({"A": "1"})  # type: ignore[call-arg]
    options = Options(timeout=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.timeout = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"^timeout must"):
        Options(timeout=0)
    with pytest.raises(TypeError, match=r"^stop must"):
        Options(stop=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^limits must be a wasi_wasm.Limits"):
        Options(limits=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^tty must"):
        Options(tty=[3])
    with pytest.raises(TypeError, match=r"^options must be a wasi_wasm.Options"):
        wasi_wasm.run(b"", options={"timeout": 1})  # type: ignore[arg-type]


def test_the_settings_after_args_are_keyword_only(waiter: Path) -> None:
    """env, stdin and preopens were positional in run, Wasi.run and run_pipeline."""
    with pytest.raises(TypeError):
        wasi_wasm.run(waiter, ["exit", "0"], {"A": "1"})  # type: ignore[call-arg,arg-type]
    with pytest.raises(TypeError):
        wasi_wasm.run_pipeline([waiter], b"input")  # type: ignore[call-arg,arg-type]
    with wasi_wasm.start_wasi() as fs, pytest.raises(TypeError):
        fs.run(waiter, ["exit", "0"], {"A": "1"})  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize("sequential", [False, True], ids=["concurrent", "sequential"])
def test_run_pipeline_options_timeout_stops_a_looping_stage(waiter: Path, sequential: bool) -> None:
    commands = [(waiter, ["spin"]), (waiter, ["read"])]
    started = time.monotonic()
    with pytest.raises(wasi_wasm.Interrupted):
        wasi_wasm.run_pipeline(commands, options=Options(timeout=TIMEOUT), sequential=sequential)
    assert_stopped_promptly(started)


def test_run_pipeline_options_limits_reach_every_stage(waiter: Path, limits_program: Path) -> None:
    """harden_limits passes only if its process meets exactly these limits."""
    box = {"/sandbox": "/sandbox"}
    fds = Options(preopens=box, limits=Limits(max_fds=8))
    result = wasi_wasm.run_pipeline([(limits_program, ["fds", "8"])], options=fds)
    assert result.exit_codes == (0,), result.stdout.decode()
    space = Options(preopens=box, limits=Limits(max_fs_bytes=3 << 20))
    result = wasi_wasm.run_pipeline(
        [(waiter, ["exit", "0"]), (limits_program, ["space"])], options=space
    )
    assert result.exit_codes == (0, 0), result.stdout.decode()
    assert b"create files until none fits: ENOSPC" in result.stdout


def test_cli_pipe_timeout_stops_a_looping_stage(waiter: Path) -> None:
    started = time.monotonic()
    result = cli("pipe", "--timeout", str(TIMEOUT), waiter, "spin", "|", waiter, "read")
    assert time.monotonic() - started < TIMEOUT + PROMPTLY + 3  # + the CLI's own start
    assert result.returncode == 124
    assert result.stderr.decode().splitlines() == [
        "started",
        f"wasi-wasm: pipe: stopped after {TIMEOUT} s (--timeout)",
    ]


def test_cli_pipe_max_fs_bytes_is_hit_by_a_stage(limits_program: Path, tmp_path: Path) -> None:
    box = f"{tmp_path}::/sandbox"
    result = cli("pipe", "--dir", box, "--max-fs-bytes", "3M", limits_program, "space")
    assert result.returncode == 0, result.stdout.decode()
    assert b"create files until none fits: ENOSPC" in result.stdout


@pytest.mark.parametrize("entry", ["run", "Wasi.run"])
def test_run_takes_options_and_its_keywords_override_them(waiter: Path, entry: str) -> None:
    options = Options(timeout=60, env={"A": "1"})
    started = time.monotonic()
    with wasi_wasm.start_wasi() as fs, pytest.raises(wasi_wasm.Interrupted):
        runner: Any = fs.run if entry == "Wasi.run" else wasi_wasm.run
        runner(waiter, ["spin"], options=options, timeout=TIMEOUT)
    assert_stopped_promptly(started)


def test_run_options_limits(limits_program: Path) -> None:
    options = Options(preopens={"/sandbox": "/sandbox"}, limits=Limits(max_fds=9))
    result = wasi_wasm.run(limits_program, ["fds", "9"], options=options)
    assert result.exit_code == 0, result.stdout.decode()


def _instance(wasi: wasi_wasm.Wasi, program: Path) -> wasmtime.Instance:
    module = wasmtime.Module.from_file(wasi.engine, str(program))
    return wasmtime.Instance(wasi.store, module, wasi.imports_for(module))


def test_start_wasi_and_copy_for_rebinding_take_limits_and_a_timeout(
    waiter: Path, limits_program: Path
) -> None:
    """The timeout of a process started by hand applies to each start(); limits to it."""
    box = {"/sandbox": "/sandbox"}
    spin = ["stops_wait", "spin"]
    with wasi_wasm.start_wasi(args=spin, options=Options(timeout=TIMEOUT)) as wasi:
        instance = _instance(wasi, waiter)
        started = time.monotonic()
        with pytest.raises(wasi_wasm.Interrupted):
            wasi.start(instance)
        assert_stopped_promptly(started)
        fds = Options(preopens=box, limits=Limits(max_fds=7))
        copy = wasi.copy_for_rebinding(args=["harden_limits", "fds", "7"], options=fds)
        with copy:
            assert copy.start(_instance(copy, limits_program)) == 0, copy.stdout.decode()
        spinner = wasi.copy_for_rebinding(args=spin, timeout=TIMEOUT)
        with spinner, pytest.raises(wasi_wasm.Interrupted):
            spinner.start(_instance(spinner, waiter))
        assert wasi.fsck() == 0
