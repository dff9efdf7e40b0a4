"""Fixtures shared by the unit tests that need a real table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from management.db.base import Base


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An SQLite database file with the whole schema, made from the models."""
    eng = create_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()
