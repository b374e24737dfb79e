"""Settings from the page: generated from the schema, written round-trip and atomically, refused with
`config check`'s message and nothing written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from control_fakes import CONFIG
from starlette.testclient import TestClient

from vcamstyle import paths
from vcamstyle.commands import check_config_files
from vcamstyle.config import Config, ConfigValidationError, leaf_values, load_config
from vcamstyle.control.form import settings_form
from vcamstyle.control.yaml_edit import set_keys


def test_a_change_keeps_comments_order_and_untouched_lines(client: TestClient, config_file: Path) -> None:
    response = client.post("/api/config", json={"changes": {"person.strength": "0.35"}})
    assert response.status_code == 200, response.text
    expected = CONFIG.replace("  strength: 0.7         # [0, 1]", "  strength: 0.35        # [0, 1]")
    assert config_file.read_text() == expected
    assert response.json()["values"]["person.strength"] == 0.35
    assert load_config(config_file).person.strength == 0.35


def test_a_new_key_and_section_are_added(client: TestClient, config_file: Path) -> None:
    assert client.post("/api/config", json={"changes": {"style.preserve_color": "true",
                                                        "person.face_strength": "0.1"}}).status_code == 200
    config = load_config(config_file)
    assert config.style.preserve_color is True and config.person.face_strength == 0.1
    assert config_file.read_text().startswith(CONFIG.split("background:")[0].rstrip("\n").split("  strength")[0])


def test_the_write_is_atomic_and_keeps_the_files_mode(client: TestClient, config_file: Path) -> None:
    inode = config_file.stat().st_ino
    assert client.post("/api/config", json={"changes": {"background.blur": "40"}}).status_code == 200
    assert config_file.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o640
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.yaml"]  # no temporary left


def test_a_symlinked_config_is_written_through_to_its_target(client: TestClient, config_file: Path,
                                                              tmp_path: Path, server) -> None:
    real = tmp_path / "dotfiles" / "vcamstyle.yaml"
    real.parent.mkdir()
    os.replace(config_file, real)
    config_file.symlink_to(real)
    assert client.post("/api/config", json={"changes": {"background.blur": "40"}}).status_code == 200
    assert config_file.is_symlink() and load_config(real).background.blur == 40


@pytest.mark.parametrize("key, text", [("person.strength", "1.5"), ("background.effect", "sparkles"),
                                       ("segmentation.threshold", "abc"), ("person.nonsense", "1")])
def test_a_refused_value_gives_config_checks_message_and_writes_nothing(client: TestClient, config_file: Path,
                                                                        tmp_path: Path, key: str, text: str) -> None:
    before = config_file.read_bytes()
    response = client.post("/api/config", json={"changes": {key: text}})
    assert response.status_code == 422
    hand_edit = tmp_path / "hand" / "config.yaml"
    hand_edit.parent.mkdir()
    hand_edit.write_text(set_keys(before.decode(), {key: __import__("yaml").safe_load(text)}))
    with pytest.raises(ConfigValidationError) as err:
        load_config(hand_edit)
    assert response.json()["error"] == str(err.value).replace(str(hand_edit), str(config_file))
    assert config_file.read_bytes() == before
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.yaml"]


def test_a_missing_picture_is_refused_as_config_check_refuses_it(client: TestClient, config_file: Path) -> None:
    before = config_file.read_bytes()
    response = client.post("/api/config", json={"changes": {"person.effect": "image", "person.image": "gone.png"}})
    assert response.status_code == 422
    candidate = config_file.with_name("candidate.yaml")
    candidate.write_text(set_keys(before.decode(), {"person.effect": "image", "person.image": "gone.png"}))
    with pytest.raises(ConfigValidationError) as err:
        check_config_files(load_config(candidate), candidate)
    assert response.json()["error"] == str(err.value).replace(str(candidate), str(config_file))
    candidate.unlink()
    assert config_file.read_bytes() == before


def test_the_template_round_trips_unchanged() -> None:
    text = paths.template_config_path().read_text()
    changed = set_keys(text, {"person.strength": 0.7})
    assert changed == text


def test_the_form_has_every_leaf_key_of_the_schema_with_bounds_and_help() -> None:
    fields = {f["key"]: f for section in settings_form() for f in section["fields"]}
    assert set(fields) == set(leaf_values(Config()))
    strength = fields["person.strength"]
    assert (strength["kind"], strength["min"], strength["max"], strength["default"]) == ("number", 0, 1, 0.7)
    assert fields["segmentation.feather"]["integer"] is True and fields["segmentation.feather"]["max"] == 200
    assert fields["background.effect"]["choices"] == ["original", "blur", "color", "image", "style"]
    assert fields["output.on_demand"]["kind"] == "bool"
    assert "0 = the original region" in fields["person.strength"]["help"]
    assert all(f["help"] for f in fields.values()), [k for k, f in fields.items() if not f["help"]]


def test_a_new_schema_key_appears_in_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from typing import Annotated

    from pydantic import BeforeValidator, create_model

    from vcamstyle.config import checks, schema
    from vcamstyle.control import form

    Extended = create_model("Extended", __base__=schema.StyleConfig,
                            sparkle=(Annotated[float, BeforeValidator(checks._number_check(0, 3))], 1.0))
    fields = dict(schema.Config.model_fields)
    fields["style"] = fields["style"].__class__.from_annotated_attribute(Extended, Extended())
    monkeypatch.setattr(form, "Config", _with_fields(fields))
    keys = {f["key"]: f for section in form.settings_form() for f in section["fields"]}
    assert keys["style.sparkle"]["kind"] == "number" and keys["style.sparkle"]["max"] == 3


def _with_fields(fields):
    """A stand-in for ``Config`` with other fields (defaults built from them)."""
    class Stand:
        model_fields = fields

        def __init__(self) -> None:
            for name, field in fields.items():
                setattr(self, name, field.get_default(call_default_factory=True))

    return Stand
