"""Reading the config file as a hostile filesystem offers it (issue 10, fault 6 and 7): special files
refused without blocking, bounded size, YAML alias bombs and deep nesting refused fast, a symlinked
config followed at every read."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vcamstyle.config import ConfigValidationError, load_config, parse_config
from vcamstyle.config.load import MAX_CONFIG_BYTES, read_config_text
from vcamstyle.config.yaml_reader import MAX_DEPTH, MAX_EXPANDED_NODES, expanded_size
from vcamstyle.errors import ConfigError


def load_in_thread(path: Path, timeout: float = 10.0) -> BaseException | object:
    """``load_config(path)`` in a thread: a hang is a test failure, not a hung suite."""
    outcome: list[BaseException | object] = []

    def target() -> None:
        try:
            outcome.append(load_config(path))
        except BaseException as exc:  # collected for the assertions
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert outcome, f"reading {path} did not return within {timeout} s"
    return outcome[0]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    error = load_in_thread(fifo)
    assert isinstance(error, ConfigError) and "is a FIFO (named pipe), expected a YAML file" in error.message


def test_a_symlink_to_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    link = tmp_path / "config.yaml"
    link.symlink_to("/dev/zero")
    error = load_in_thread(link)
    assert isinstance(error, ConfigError) and "is a character device" in error.message


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="too large for a config file"):
        load_config(path)
    assert read_config_text(path, max_bytes=MAX_CONFIG_BYTES + 1).startswith("#")


def alias_bomb(levels: int = 9) -> str:
    """The issue's kind of file: under an unknown key, each anchor lists the previous one nine times."""
    lines = ['  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghijk"[:levels - 1]:
        lines.append(f"  {name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return "unknown:\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    text = alias_bomb()
    assert len(text) < 1000
    with pytest.raises(ConfigValidationError, match=f"expands to more than {MAX_EXPANDED_NODES} values"):
        parse_config(text, Path("config.yaml"))


def test_expanded_size_counts_aliases_as_copies() -> None:
    import yaml

    root = yaml.compose("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n", Loader=yaml.SafeLoader)
    # the mapping, its 3 keys, a = [1, 2] (3 nodes), b = a copy of it (3), c = a list of two copies (1 + 3 + 3)
    assert expanded_size(root) == 1 + 3 + 3 + 3 + 7


@pytest.mark.parametrize("text", ["deep: " + "[" * 3000 + "]" * 3000 + "\n",
                                  "".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "x: 1\n"],
                         ids=["flow", "block"])
def test_deep_nesting_is_a_config_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(ConfigValidationError, match=f"nesting deeper than {MAX_DEPTH} levels"):
        parse_config(text, Path("config.yaml"))


def test_a_symlinked_config_is_followed_at_every_read(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("threads: 1\n")
    second.write_text("threads: 2\n")
    link = tmp_path / "config.yaml"
    link.symlink_to(first)
    assert load_config(link).threads == 1
    first.write_text("threads: 3\n")
    assert load_config(link).threads == 3
    link.unlink()
    link.symlink_to(second)
    assert load_config(link).threads == 2
