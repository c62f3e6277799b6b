from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wasm_build import compile_program


@pytest.fixture(scope="session")
def wasm_program() -> Callable[..., Path]:
    """compile a tests/programs/NAME.c (cached) and return the .wasm path."""
    return compile_program
