"""Issue 26's examples: what `config check` accepts the daemon runs, and messages say what is there.

Each test failed on the code before the fix: 1.0e+308 weights passed as "0% + 0%" and then crashed
`run`/`render`; `weight: 1e3` got the wrong hint "remove the quotes"; a style path that is a directory
"does not exist"; `output.format: rgb` at 641x361 silently ran at 640x360; a newline in a style's
file name split `status` and log lines; a failed reload's `status` said "internal error".
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcamstyle import cli, paths
from vcamstyle.commands import check_config_files
from vcamstyle.config import ConfigValidationError, load_config, parse_config
from vcamstyle.config.checks import yaml_spellings
from vcamstyle.daemon import one_line_handler, output_geometry

STYLES = paths.bundled_styles_dir()


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigValidationError) as info:
        parse_config(text, Path("/cfg/config.yaml"))
    return info.value.problems


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize("weights", [("1.0e+308", "1.0e+308"), ("1.7e+308", "1.0e+308", "1")])
def test_weights_whose_sum_overflows_are_refused_with_key_and_line(weights: tuple[str, ...]) -> None:
    entries = "".join(f"    - image: styles/waves.png\n      weight: {w}\n" for w in weights)
    (problem,) = problems_of(f"person:\n  effect: style\n  style:\n{entries}")
    assert problem.startswith("person.style: expected weights whose sum is a finite number")
    assert "only their ratio counts" in problem and problem.endswith("(line 3)")


def test_huge_and_tiny_weights_whose_sum_is_finite_keep_their_ratio() -> None:
    config = parse_config("person:\n  style:\n    - {image: a.png, weight: 1.0e+300}\n"
                          "    - {image: b.png, weight: 3.0e+300}\n"
                          "background:\n  style:\n    - {image: a.png, weight: 5.0e-324}\n"
                          "    - {image: b.png, weight: 5.0e-324}\n", Path("/cfg/config.yaml"))
    assert [ref.weight for ref in config.person.style] == [0.25, 0.75]
    assert [ref.weight for ref in config.background.style] == [0.5, 0.5]


@pytest.mark.parametrize("written, hint", [
    ("1e3", "(YAML reads 1e3 as text, not a number: write 1000 or 1.0e+3)"),
    ("2E-4", "(YAML reads 2E-4 as text, not a number: write 0.0002 or 2.0e-4)"),
    ("1.5e2", "(YAML reads 1.5e2 as text, not a number: write 150 or 1.5e+2)"),
    ("'0.5'", "(text: remove the quotes)"),
    ('"3"', "(text: remove the quotes)"),
])
def test_a_number_yaml_reads_as_text_gets_a_hint_that_works(written: str, hint: str) -> None:
    (problem,) = problems_of(f"person:\n  style:\n    - image: a.png\n      weight: {written}\n")
    assert problem.startswith("person.style[0].weight: expected a number > 0, got ")
    assert problem.endswith(f"{hint} (line 4)")
    if "write" in hint:  # the spelling the hint gives is a number to YAML, and the config takes it
        spelled = hint.split("write ")[1].split(" or ")[1].rstrip(")")
        config = parse_config(f"person:\n  style:\n    - image: a.png\n      weight: {spelled}\n",
                              Path("/cfg/config.yaml"))
        assert config.person.style[0].weight == 1.0


def test_the_hint_works_for_other_numeric_keys_too() -> None:
    (problem,) = problems_of("output:\n  on_demand_grace_s: 1e1\n")
    assert "write 10 or 1.0e+1" in problem and problem.startswith("output.on_demand_grace_s:")


@pytest.mark.parametrize("number, spelled", [(1000.0, "1000 or 1.0e+3"), (0.0001, "0.0001 or 1.0e-4"),
                                             (1e300, "1.0e+300"), (-2.5, "-2.5 or -2.5e+0")])
def test_yaml_spellings(number: float, spelled: str) -> None:
    assert yaml_spellings(number) == spelled


@pytest.mark.parametrize("text", ["camera:\n  fps: .nan\n", "camera:\n  fps: .inf\n", "output:\n  fps: -.inf\n",
                                  "person:\n  strength: .nan\n", "segmentation:\n  softness: .inf\n",
                                  "person:\n  style:\n    - {image: a.png, weight: .inf}\n",
                                  "person:\n  blur: 1.0e+308\n", "output:\n  width: 1.0e+308\n  height: 360\n"])
def test_non_finite_and_huge_numbers_are_refused_everywhere(text: str) -> None:
    (problem,) = problems_of(text)
    assert "expected" in problem and "(line " in problem


@pytest.mark.parametrize("text", ["camera:\n  fps: 1.0e-300\n", "output:\n  fps: 0.001\n", "camera:\n  fps: 0.5\n"])
def test_a_frame_rate_below_one_is_refused(text: str) -> None:
    """A tiny rate made the frame pacer sleep ~1e300 s (OverflowError); the rate is now [1, 240]."""
    (problem,) = problems_of(text)
    assert "fps: expected a number in [1, 240]" in problem and "(line 2)" in problem


# ------------------------------------------------------------------ sizes per format


@pytest.mark.parametrize("fmt", ["rgb", "yuyv", "i420"])
def test_an_odd_output_size_is_refused_for_every_format(fmt: str) -> None:
    problems = problems_of(f"output:\n  format: {fmt}\n  width: 641\n  height: 361\n")
    assert problems[0].startswith(f"output.width: expected an even number for format {fmt}")
    assert "write 640 or 642 (line 3)" in problems[0]


def test_a_cameras_odd_size_rounded_to_even_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config("output:\n  format: rgb\n", Path("/cfg/config.yaml"))
    with caplog.at_level(logging.INFO, logger="vcamstyle.daemon"):
        assert output_geometry(config, (641, 361, 30.0)) == (640, 360, 30.0)
    assert "output 640x360: the camera's 641x361 rounded down to even sides" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="vcamstyle.daemon"):
        assert output_geometry(config, (640, 360, 30.0)) == (640, 360, 30.0)
    assert "rounded" not in caplog.text


# ------------------------------------------------------------------ paths


def test_a_style_path_that_is_a_directory_is_called_a_directory(tmp_path: Path) -> None:
    (tmp_path / "styles_dir").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text("person:\n  effect: style\n  style: styles_dir\nbackground:\n  effect: image\n  image: nothing.png\n")
    with pytest.raises(ConfigValidationError) as info:
        check_config_files(load_config(path), path)
    first, second = info.value.problems
    assert first.startswith("person.style: style image") and "is a directory, not a file" in first
    assert "name an image file in it" in first and first.endswith("(line 3)")
    assert "does not exist" in second and second.endswith("(line 6)")


def test_a_weights_dir_that_is_a_file_is_refused_by_config_check(tmp_path: Path) -> None:
    (tmp_path / "weights").write_text("not a directory")
    shutil.copy(STYLES / "waves.png", tmp_path / "waves.png")
    path = tmp_path / "config.yaml"
    path.write_text(f"person:\n  style: waves.png\nbackground:\n  style: waves.png\nweights_dir: {tmp_path}/weights\n")
    with pytest.raises(ConfigValidationError, match=r"weights_dir: .*weights is a file, not a directory \(line 5\)"):
        check_config_files(load_config(path), path)


def test_why_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert paths.why_not_a_file(tmp_path / "f") is None
    assert paths.why_not_a_file(tmp_path) == "is a directory, not a file"
    assert paths.why_not_a_file(tmp_path / "missing") == "does not exist"
    assert paths.why_not_a_file(tmp_path / "f" / "below").startswith("does not exist")


# ------------------------------------------------------------------ names with control characters


def test_a_newline_in_a_style_file_name_is_escaped_in_the_region_summary() -> None:
    config = parse_config('person:\n  style: "styles/evil\\nlast error: none.png"\n', Path("/cfg/config.yaml"))
    assert config.summary_region("person") == "style evil\\nlast error: none.png @0.7"


def test_status_shows_names_with_control_characters_escaped(isolated_xdg, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.daemon import control

    info = {"pid": 4242, "state": "streaming", "ready": True, "uptime_s": 3.0, "fps": 30.0, "stage_ms": {},
            "person": "style a\nlast error: none.png @0.7", "background": "image b\x1b[2J.png",
            "method": "magenta", "output": "null", "config": "/cfg/config.yaml",
            "last_error": "person.style: style image /x/a\u2028b.png does not exist", "manager": "pidfile"}
    monkeypatch.setattr(control, "status", lambda **kw: dict(info))
    result = CliRunner().invoke(cli.app, ["status"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 11  # one line per field: no name split one
    assert "  person:     style a\\nlast error: none.png @0.7" in lines
    assert "  background: image b\\x1b[2J.png" in lines
    assert any(line.endswith("/x/a\\u2028b.png does not exist") for line in lines)


def test_log_records_keep_to_one_line(tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    logger = logging.getLogger("vcamstyle.test26")
    logger.addHandler(one_line_handler(stream, "%(levelname)s %(message)s"))
    logger.propagate = False
    try:
        logger.error("style image %s does not exist", "/x/a\nERROR forged line.png")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("with a traceback")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ERROR style image /x/a\\nERROR forged line.png does not exist"
    assert lines[1] == "ERROR with a traceback" and lines[2].startswith("Traceback")  # the traceback keeps its lines


def test_config_check_escapes_names_in_its_messages(tmp_path: Path, isolated_xdg) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('person:\n  effect: style\n  style: "gone\\nfix: nothing.png"\n')
    result = CliRunner().invoke(cli.app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "gone\\nfix: nothing.png does not exist" in result.output
    assert [line for line in result.output.splitlines() if line.startswith("  fix:")] == [
        "  fix: fix the path or replace the picture; `vcamstyle run` would refuse this configuration"]


def test_an_unexpected_error_in_a_command_is_one_line_not_a_traceback(isolated_xdg,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.daemon import control

    def broken(**kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(control, "reload", broken)
    result = CliRunner().invoke(cli.app, ["reload"])
    assert result.exit_code == 1
    assert "vcamstyle: internal error: ZeroDivisionError: division by zero" in result.output
    assert "Traceback" not in result.output and "VCAMSTYLE_TRACEBACK=1" in result.output
