"""Safe, strict checkpoint loading (``vcamstyle.models.weights.checkpoint``)."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.models.weights.checkpoint import (
    InertStub,
    extract_state_dict,
    load_checkpoint,
    load_strict,
    require_file,
)


def small_net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1))


def load_into(net: nn.Module, path: Path, key: str | None = None) -> None:
    load_strict(net, extract_state_dict(load_checkpoint(path), path, key=key), path)


def test_bare_state_dict_loads_every_tensor(tmp_path: Path) -> None:
    source = small_net()
    path = tmp_path / "net.pth"
    torch.save(source.state_dict(), path)
    target = small_net()
    load_into(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_nested_state_dict_key_loads(tmp_path: Path) -> None:
    source = small_net()
    path = tmp_path / "trainer.pth"
    torch.save({"iteration": 7, "state_dict": source.state_dict(), "loss_seq": [1.0, 0.5]}, path)
    target = small_net()
    load_into(target, path, key="state_dict")
    assert torch.equal(target[0].weight, source[0].weight)


def test_missing_state_dict_key_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "trainer.pth"
    torch.save({"iteration": 7}, path)
    with pytest.raises(WeightsError, match="state_dict") as info:
        extract_state_dict(load_checkpoint(path), path, key="state_dict")
    assert str(path) in str(info.value)


def test_module_prefix_is_stripped(tmp_path: Path) -> None:
    source = small_net()
    path = tmp_path / "parallel.pth"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    target = small_net()
    load_into(target, path)
    assert torch.equal(target[2].bias, source[2].bias)


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    state = small_net().state_dict()
    del state["2.bias"]
    path = tmp_path / "missing.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as info:
        load_into(small_net(), path)
    message = str(info.value)
    assert str(path) in message and "missing keys: 2.bias" in message


def test_extra_key_names_file_and_key(tmp_path: Path) -> None:
    state = small_net().state_dict()
    state["3.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as info:
        load_into(small_net(), path)
    message = str(info.value)
    assert str(path) in message and "unexpected keys: 3.weight" in message


def test_misshaped_tensor_names_file_key_and_shapes(tmp_path: Path) -> None:
    state = small_net().state_dict()
    state["0.weight"] = torch.zeros(4, 3, 5, 5)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    target = small_net()
    before = target[0].weight.clone()
    with pytest.raises(WeightsError) as info:
        load_into(target, path)
    message = str(info.value)
    assert str(path) in message
    assert "0.weight: expected shape (4, 3, 3, 3), file has (4, 3, 5, 5)" in message
    assert torch.equal(target[0].weight, before), "a refused file must not change the network"


def test_non_tensor_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.pth"
    torch.save({"0.weight": [1, 2, 3]}, path)
    with pytest.raises(WeightsError, match="state_dict of tensors"):
        extract_state_dict(load_checkpoint(path), path)


class _RunsCommand:
    """Pickles as a call to ``os.system`` (what a malicious checkpoint looks like)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _save_zip(obj: object, path: Path) -> None:
    torch.save(obj, path)


def _save_legacy(obj: object, path: Path) -> None:
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def _save_raw_pickle(obj: object, path: Path) -> None:
    with path.open("wb") as handle:
        pickle.dump(obj, handle)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("save", [_save_zip, _save_legacy, _save_raw_pickle], ids=["zip", "legacy", "raw-pickle"])
def test_pickle_that_runs_a_command_is_refused_and_never_runs(tmp_path: Path, save) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"0.weight": torch.zeros(1), "logger": _RunsCommand(f"touch {marker}")}
    save(payload, path)
    assert not marker.exists()
    with pytest.raises(WeightsError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert "refused" in str(info.value)
    assert not marker.exists(), "loading a checkpoint ran pickled code"


def test_pickle_that_runs_a_command_is_refused_even_with_an_allow_list(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"logger": _RunsCommand(f"touch {marker}")}, path)
    with pytest.raises(WeightsError):
        load_checkpoint(path, allowed_classes=("utils.logger.Logger",))
    assert not marker.exists()


@pytest.fixture
def fake_logger_module(monkeypatch: pytest.MonkeyPatch) -> type:
    """A class importable as ``utils.logger.Logger`` while the test saves its checkpoint."""
    module = types.ModuleType("utils.logger")

    class Logger:
        def __init__(self) -> None:
            self.entries = {"epoch": [1, 2], "loss": [0.3, 0.2]}

    Logger.__module__ = "utils.logger"
    Logger.__qualname__ = "Logger"
    module.Logger = Logger
    package = types.ModuleType("utils")
    package.logger = module
    monkeypatch.setitem(sys.modules, "utils", package)
    monkeypatch.setitem(sys.modules, "utils.logger", module)
    return Logger


def test_allow_listed_class_loads_as_inert_stub(tmp_path: Path, fake_logger_module: type,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    net = small_net()
    path = tmp_path / "trainer.pth"
    torch.save({"arch": "UNet", "epoch": 3, "logger": fake_logger_module(), "state_dict": net.state_dict()}, path)
    # Loading must not need (or use) the real class.
    monkeypatch.delitem(sys.modules, "utils.logger")
    monkeypatch.delitem(sys.modules, "utils")

    with pytest.raises(WeightsError, match="refused"):
        load_checkpoint(path)

    checkpoint = load_checkpoint(path, allowed_classes=("utils.logger.Logger",))
    logger = checkpoint["logger"]
    assert isinstance(logger, InertStub)
    assert type(logger).__module__ == "utils.logger" and type(logger).__qualname__ == "Logger"
    assert logger.state == {"entries": {"epoch": [1, 2], "loss": [0.3, 0.2]}}
    assert "utils.logger" not in sys.modules
    target = small_net()
    load_strict(target, extract_state_dict(checkpoint, path, key="state_dict"), path)
    assert torch.equal(target[0].weight, net[0].weight)


def test_truncated_file_gives_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.pth"
    torch.save(small_net().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "truncated" in message and "download it again" in message


def test_empty_and_garbage_files_give_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"<html>quota exceeded</html>")
    for path in (empty, garbage):
        with pytest.raises(WeightsError) as info:
            load_checkpoint(path)
        assert str(path) in str(info.value)


def test_require_file_returns_existing_path(tmp_path: Path) -> None:
    (tmp_path / "decoder.pth").write_bytes(b"x")
    assert require_file(tmp_path, "decoder.pth", "adain") == tmp_path / "decoder.pth"


def test_require_file_missing_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as info:
        require_file(tmp_path, "decoder.pth", "adain")
    message = str(info.value)
    assert "vcamstyle weights fetch adain" in message
    assert str(tmp_path / "decoder.pth") in message


def test_require_file_without_directory_says_how_to_fetch() -> None:
    with pytest.raises(WeightsError, match="vcamstyle weights fetch sanet"):
        require_file(None, "decoder_iter_500000.pth", "sanet")
