"""Helpers the config tests share: a flow.yaml written from text, and the check that a
mistake in it is one clear, one-line error naming the file and the key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_clear_error(tmp_path: Path, text: str, path: str, problem: str) -> None:
    """Loading `text` fails with `<file>: <path>: ...` mentioning `problem`, on one line."""
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(file)
    message = str(err.value)
    assert message.startswith(f"{file}: {path}: "), message
    assert problem in message
    assert "\n" not in message
