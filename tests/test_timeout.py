"""run(timeout=...) and `wasi-wasm run --timeout`: a program that never ends is stopped
after about that long, wherever it is (in its own loop or in the middle of its filesystem
calls), and the filesystem stays consistent and usable."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import wasi_wasm
from cli_run import cli

WORK = "/work"


@pytest.fixture(scope="module")
def worker(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("harden_worker")


@pytest.mark.parametrize("mode", ["spin", "compute"])
def test_a_program_that_never_ends_is_stopped(worker: Path, mode: str) -> None:
    """spin: endless filesystem calls; compute: an endless loop with no WASI call."""
    with wasi_wasm.start_wasi() as wasi:
        wasi.mkdir(WORK)
        args = [WORK, "w", mode] + (["2"] if mode == "compute" else [])
        started = time.monotonic()
        with pytest.raises(wasi_wasm.Interrupted):
            wasi.run(worker, args, preopens={WORK: WORK}, timeout=0.3)
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 5, elapsed
        assert wasi.fsck() == 0
        again = wasi.run(worker, [WORK, "again", "normal", "2"], preopens={WORK: WORK})
        assert again.exit_code == 0


def test_a_program_within_its_time_is_not_disturbed(worker: Path) -> None:
    with wasi_wasm.start_wasi() as wasi:
        wasi.mkdir(WORK)
        result = wasi.run(worker, [WORK, "w", "normal", "3"], preopens={WORK: WORK}, timeout=30)
        assert result.exit_code == 0
        assert b"done w" in result.stdout


def test_timed_runs_in_threads_each_get_their_own_time(worker: Path) -> None:
    """One ticker serves every timed run: a short timeout does not cut a long one short."""
    outcomes: dict[str, object] = {}

    def go(name: str, mode: str, timeout: float) -> None:
        try:
            args = [WORK, name, mode] + (["30"] if mode == "normal" else [])
            outcomes[name] = wasi_wasm.run(
                worker, args, preopens={WORK: WORK}, timeout=timeout
            ).exit_code
        except wasi_wasm.Interrupted as error:
            outcomes[name] = error

    threads = [
        threading.Thread(target=go, args=("short", "spin", 0.2)),
        threading.Thread(target=go, args=("long", "normal", 60)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert isinstance(outcomes["short"], wasi_wasm.Interrupted)
    assert outcomes["long"] == 0


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, "1", True])
def test_bad_timeouts_are_refused_before_anything_runs(worker: Path, bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="timeout"):
        wasi_wasm.run(worker, [WORK, "w", "normal", "1"], timeout=bad)  # type: ignore[arg-type]


def test_cli_timeout_stops_the_program_with_exit_124(worker: Path, tmp_path: Path) -> None:
    result = cli(
        "run", "--dir", f"{tmp_path}::{WORK}", "--timeout", "0.3", worker, WORK, "w", "spin"
    )
    assert result.returncode == 124, result
    assert result.stderr.decode().splitlines()[-1] == (
        f"wasi-wasm: {worker}: stopped after 0.3 s (--timeout)"
    )


@pytest.mark.parametrize("bad", ["0", "-2", "soon", "nan"])
def test_cli_rejects_bad_timeouts(worker: Path, bad: str) -> None:
    result = cli("run", "--timeout", bad, worker, "/", "w", "normal", "1")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"wasi-wasm: error: --timeout: expected a positive number of seconds, got {bad!r}\n"
    )
