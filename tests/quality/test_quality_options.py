"""The quality benchmark refuses options it cannot run, with a message naming the value (exit status 2
from the script), instead of crashing minutes later or measuring nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from vcamstyle.bench.quality import SHORT_RUN, QualityOptions

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "quality.py"


@pytest.mark.parametrize("changes, message", [
    ({"still": SHORT_RUN - 1}, f"still must be at least {SHORT_RUN}"),
    ({"still": 0}, "still must be at least"),
    ({"moving": 1}, "moving must be at least 2"),
    ({"moving": -3}, "moving must be at least 2"),
    ({"settle": 1}, r"settle must be at least 6 frames \(the async measure starts up to 4 frames after the stop"),
    ({"settle": 5}, "settle must be at least 6 frames"),
    ({"aspects": ("16:9", "21:9")}, "unknown aspect '21:9': choose from 16:9, 4:3"),
    ({"aspects": ()}, r"unknown aspect \(none given\)"),
    ({"photos": ("lena",)}, "unknown photo 'lena': choose from astronaut, grace_hopper"),
])
def test_options_name_the_bad_value(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        QualityOptions(**changes)


def test_the_defaults_and_the_smallest_run_are_accepted() -> None:
    assert QualityOptions().still == 20
    smallest = QualityOptions(still=SHORT_RUN, moving=2, aspects=("4:3",), photos=("grace_hopper",))
    assert smallest.aspects == ("4:3",)


@pytest.mark.parametrize("args, message", [
    (["--still", "2"], "still must be at least"),
    (["--aspects", "16:10"], "unknown aspect '16:10'"),
    (["--photos", ","], r"unknown photo \(none given\)"),
])
def test_the_script_exits_2_with_the_message(args, message) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
