"""A file with the right name and the wrong content, everywhere (list, verify, fetch, loading).

Each case is a way a real download goes wrong: Google Drive's virus-scan warning page saved as the
checkpoint, a truncated zip or legacy pickle, a TorchScript archive, another network's checkpoint,
an archive that still has to be unpacked. None may be recorded as the file's first-seen sum, and each
is reported as what it is.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.models.weights.checkpoint import load_checkpoint, load_strict
from vcamstyle.models.weights.checkpoint_layout import inspect_weight_file, known_layouts
from vcamstyle.models.seed.sanet import Transform
from vcamstyle.models.seed.vgg import build_decoder
from vcamstyle.models.weights import store

GDRIVE_WARNING = (
    b"<!DOCTYPE html><html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"/>"
    b"<title>Google Drive - Virus scan warning</title></head><body><div class=\"uc-main\"><p class=\"uc-warning-"
    b"caption\">Google Drive can't scan this file for viruses.</p><p>UNet_ResNet18.pth (127M) is too large for "
    b"Google to scan for viruses. Would you still like to download this file?</p><form id=\"download-form\" "
    b"action=\"https://drive.usercontent.google.com/download\" method=\"get\"></form></div></body></html>\n"
)


def _save(obj: object, path: Path, legacy: bool = False) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture(scope="module")
def decoder_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_decoder().state_dict()


@pytest.fixture(scope="module")
def transform_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Transform().state_dict()


def _torchscript(path: Path) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, but users still have such files
        torch.jit.save(torch.jit.script(nn.Linear(4, 4)), str(path))
    return path


def test_the_google_drive_page_is_named_and_never_recorded(tmp_path: Path) -> None:
    """The issue's case: the warning page saved as UNet_ResNet18.pth."""
    (tmp_path / "UNet_ResNet18.pth").write_bytes(GDRIVE_WARNING)
    listed = {s.filename: s for s in store.list_status(tmp_path)}["UNet_ResNet18.pth"]
    assert listed.state == "corrupt" and "an HTML page, not a checkpoint" in listed.note
    verified = {s.filename: s for s in store.verify(tmp_path)}["UNet_ResNet18.pth"]
    assert verified.state == "corrupt" and "Google Drive" in verified.note and "download it again" in verified.note
    assert store.read_recorded(tmp_path) == {}
    with pytest.raises(WeightsError) as info:
        load_checkpoint(tmp_path / "UNet_ResNet18.pth", ("utils.logger.Logger",))
    assert "an HTML page, not a checkpoint" in info.value.message
    assert "pickles objects" not in info.value.message and "download it again" in info.value.hint


def test_loading_the_unet_from_an_html_page_says_so(tmp_path: Path) -> None:
    from vcamstyle.models.registry import BuildOptions, create_segmenter

    (tmp_path / "UNet_ResNet18.pth").write_bytes(GDRIVE_WARNING)
    with pytest.raises(WeightsError, match="an HTML page, not a checkpoint"):
        create_segmenter("unet_resnet18", BuildOptions(device=torch.device("cpu"), weights_dir=tmp_path))


def _cases(tmp_path: Path, decoder_state, transform_state) -> dict[str, tuple[Path, str]]:
    """name -> (a file saved as decoder_iter_500000.pth, words its report must contain)."""
    full = _save(decoder_state, tmp_path / "full.pth")
    legacy = _save(decoder_state, tmp_path / "legacy.pth", legacy=True)
    cases: dict[str, tuple[bytes, str]] = {
        "html page": (GDRIVE_WARNING, "an HTML page, not a checkpoint"),
        "json error": (b'{"error": "quota exceeded"}\n', "a text file, not a checkpoint"),
        "truncated zip": (full.read_bytes()[: full.stat().st_size // 2], "truncated"),
        "truncated legacy pickle": (legacy.read_bytes()[: legacy.stat().st_size * 2 // 3], "truncated"),
        "gzip": (gzip.compress(full.read_bytes()[:4096]), "gzip"),
        "torchscript": (_torchscript(tmp_path / "ts.pt").read_bytes(), "TorchScript archive"),
        "another network": (_save(transform_state, tmp_path / "t.pth").read_bytes(),
                            "the checkpoint transformer_iter_500000.pth (another network's file)"),
        "empty": (b"", "empty file"),
    }
    out = {}
    for name, (data, words) in cases.items():
        path = tmp_path / name.replace(" ", "_") / "decoder_iter_500000.pth"
        path.parent.mkdir()
        path.write_bytes(data)
        out[name] = (path, words)
    return out


CASES = ["html page", "json error", "truncated zip", "truncated legacy pickle", "gzip", "torchscript",
         "another network", "empty"]


@pytest.mark.parametrize("case", CASES)
def test_wrong_content_is_reported_by_verify_and_never_recorded(tmp_path: Path, decoder_state, transform_state,
                                                                 case: str) -> None:
    path, words = _cases(tmp_path, decoder_state, transform_state)[case]
    assert words in (inspect_weight_file(path) or "")
    [status] = [s for s in store.verify(path.parent) if s.filename == "decoder_iter_500000.pth"]
    assert status.state == "corrupt" and words in status.note
    assert "decoder_iter_500000.pth" not in store.read_recorded(path.parent)


@pytest.mark.parametrize("case", ["html page", "truncated zip", "truncated legacy pickle", "torchscript", "another network"])
def test_wrong_content_is_reported_when_loading(tmp_path: Path, decoder_state, transform_state, case: str) -> None:
    path, words = _cases(tmp_path, decoder_state, transform_state)[case]
    with pytest.raises(WeightsError) as info:
        state = load_checkpoint(path)
        load_strict(build_decoder(), state, path)
    assert words.split(" (")[0] in info.value.message
    assert info.value.hint


def test_the_right_layout_is_recorded_once(tmp_path: Path, decoder_state) -> None:
    path = _save(decoder_state, tmp_path / "decoder_iter_500000.pth")
    assert inspect_weight_file(path) is None
    [status] = [s for s in store.verify(tmp_path) if s.filename == "decoder_iter_500000.pth"]
    assert status.state == "present" and "loads as the expected network" in status.note
    assert "decoder_iter_500000.pth" in store.read_recorded(tmp_path)


def test_a_recorded_html_page_from_an_older_version_is_caught(tmp_path: Path) -> None:
    """A sum recorded before this check existed does not make a web page a checkpoint."""
    import hashlib

    path = tmp_path / "check_point.pth"
    path.write_bytes(GDRIVE_WARNING)
    store.record_checksum(tmp_path, "check_point.pth", hashlib.sha256(GDRIVE_WARNING).hexdigest(),
                          len(GDRIVE_WARNING), origin="old version")
    [status] = [s for s in store.list_status(tmp_path) if s.filename == "check_point.pth"]
    assert status.state == "corrupt" and "an HTML page" in status.note


def test_a_complete_archive_too_small_for_the_network_is_refused(tmp_path: Path) -> None:
    path = _save({"0.weight": torch.zeros(3, 3, 1, 1)}, tmp_path / "vgg_normalised.pth")
    assert "too small for vgg_normalised.pth" in inspect_weight_file(path)


def test_every_known_file_has_a_layout() -> None:
    assert set(known_layouts()) == {entry.filename for entry in store.load_catalog().files}
    assert known_layouts()["UNet_ResNet18.pth"].key == "state_dict"
    assert len(known_layouts()["UNet_ResNet18.pth"].shapes) == 204
