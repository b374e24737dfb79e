"""The weights catalog, weights directory resolution, and status/verify without any network."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from vcamstyle import paths
from vcamstyle.errors import WeightsError
from vcamstyle.models.weights import store
from vcamstyle.models.weights.download import SOURCE_KINDS, Source, part_path

REPO_CATALOG = paths.SOURCE_ROOT / "weights" / "catalog.json"
PACKAGED_CATALOG = paths.PACKAGE_DIR / "models" / "weights" / "catalog.json"

ADAIN_VGG_SHA256 = "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"
ADAIN_DECODER_SHA256 = "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"


# --- catalog ------------------------------------------------------------------------------------


def test_repo_and_packaged_catalogs_are_identical() -> None:
    assert REPO_CATALOG.read_bytes() == PACKAGED_CATALOG.read_bytes()


def test_packaged_catalog_is_used_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "SOURCE_ROOT", tmp_path)
    assert store.catalog_path() == PACKAGED_CATALOG
    assert store.load_catalog().models == store.load_catalog(REPO_CATALOG).models


def test_catalog_lists_every_upstream_file() -> None:
    catalog = store.load_catalog(REPO_CATALOG)
    assert catalog.models == ("adain", "sanet", "avatarnet", "unet_resnet18")
    by_model = {model: [e.filename for e in catalog.select([model])] for model in catalog.models}
    assert by_model == {
        "adain": ["vgg_normalised.pth", "decoder.pth"],
        "sanet": ["vgg_normalised.pth", "decoder_iter_500000.pth", "transformer_iter_500000.pth"],
        "avatarnet": ["check_point.pth"],
        "unet_resnet18": ["UNet_ResNet18.pth"],
    }


def test_catalog_pins_the_published_adain_checksums() -> None:
    catalog = store.load_catalog(REPO_CATALOG)
    assert catalog.get("vgg_normalised.pth").sha256 == ADAIN_VGG_SHA256
    assert catalog.get("vgg_normalised.pth").size_bytes == 80_102_481
    assert catalog.get("decoder.pth").sha256 == ADAIN_DECODER_SHA256
    unpublished = [e.filename for e in catalog.files if e.sha256 is None]
    assert unpublished == ["decoder_iter_500000.pth", "transformer_iter_500000.pth", "check_point.pth",
                           "UNet_ResNet18.pth"]


def test_catalog_sources_are_well_formed_and_official_first() -> None:
    catalog = store.load_catalog(REPO_CATALOG)
    for entry in catalog.files:
        assert entry.sources, entry.filename
        assert entry.licence and entry.origin_repo.startswith("https://github.com/")
        assert entry.display_size is not None
        for source in entry.sources:
            assert source.kind in SOURCE_KINDS
            if source.kind == "gdrive":
                assert "/" not in source.ref and len(source.ref) >= 25
            else:
                assert source.ref.startswith("https://")
            if source.kind == "yandex":
                assert source.ref.startswith("https://yadi.sk/d/")
    assert catalog.get("vgg_normalised.pth").sources[0].ref == \
        "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth"
    assert catalog.get("decoder_iter_500000.pth").sources[0] == Source(
        "yandex", "https://yadi.sk/d/xsZ7j6FhK1dmfQ", catalog.get("decoder_iter_500000.pth").sources[0].note)
    assert catalog.get("check_point.pth").sources[0].ref == \
        "https://github.com/tyui592/Avatar-Net_Pytorch/releases/download/v0.2/check_point.pth"
    assert catalog.get("UNet_ResNet18.pth").sources[0].ref == "14QxasSCcL_ij7NHR7Fshx5fi5Sc9MleD"


def test_approximate_sizes_are_not_used_for_checking() -> None:
    raw = json.loads(REPO_CATALOG.read_text())
    for item in raw["files"]:
        assert (item["size_bytes"] is None) != (item["approx_size_bytes"] is None), item["filename"]
        if item["approx_size_bytes"] is not None:
            assert "approximate" in item["size_note"]


def test_unknown_name_is_a_weights_error_listing_known_names() -> None:
    catalog = store.load_catalog(REPO_CATALOG)
    with pytest.raises(WeightsError) as info:
        catalog.select(["adain", "nope"])
    assert "'nope'" in str(info.value) and "unet_resnet18" in str(info.value)
    assert [e.filename for e in catalog.select(["decoder.pth", "adain"])] == ["vgg_normalised.pth", "decoder.pth"]


def test_malformed_catalog_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.json"
    data = json.loads(REPO_CATALOG.read_text())
    data["files"][0]["sha256"] = "XYZ"
    bad.write_text(json.dumps(data))
    with pytest.raises(WeightsError, match="64 lowercase hex"):
        store.load_catalog(bad)
    bad.write_text("{not json")
    with pytest.raises(WeightsError, match="cannot read the weights catalog"):
        store.load_catalog(bad)


# --- weights directory resolution ---------------------------------------------------------------


@pytest.fixture
def fake_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checkout"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "catalog.json").write_text("{}")
    monkeypatch.setattr(paths, "SOURCE_ROOT", root)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(store.WEIGHTS_DIR_ENV, raising=False)
    return root


def test_env_var_wins(fake_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.WEIGHTS_DIR_ENV, str(tmp_path / "from_env"))
    assert store.resolve_weights_dir(str(tmp_path / "from_config")) == tmp_path / "from_env"


def test_config_value_comes_second(fake_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.WEIGHTS_DIR_ENV, "")
    assert store.resolve_weights_dir(str(tmp_path / "from_config")) == tmp_path / "from_config"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.resolve_weights_dir("~/w") == tmp_path / "home" / "w"


def test_source_checkout_comes_third(fake_checkout: Path) -> None:
    assert store.resolve_weights_dir(None) == fake_checkout / "weights"
    assert store.resolve_weights_dir("") == fake_checkout / "weights"


def test_xdg_data_dir_is_the_fallback(fake_checkout: Path, tmp_path: Path) -> None:
    (fake_checkout / "weights" / "catalog.json").unlink()
    assert store.resolve_weights_dir(None) == tmp_path / "xdg" / "vcamstyle" / "weights"


# --- status and verify (files written by hand, no network) --------------------------------------


def _catalog(sha256: str | None, size: int | None = None) -> store.Catalog:
    entry = store.WeightFile(filename="demo.pth", models=("demo", "other"), description="", size_bytes=size,
                               approx_size_bytes=None, sha256=sha256, licence="test", origin_repo="test",
                               sources=(Source("http", "https://example.invalid/demo.pth"),))
    return store.Catalog(files=(entry,))


def test_status_missing_reports_a_partial_download(tmp_path: Path) -> None:
    [status] = store.list_status(tmp_path, _catalog(None))
    assert (status.state, status.size, status.path, status.model) == ("missing", None, tmp_path / "demo.pth",
                                                                      "demo,other")
    part_path(tmp_path / "demo.pth").write_bytes(b"12345")
    [status] = store.list_status(tmp_path, _catalog(None))
    assert status.state == "missing" and "5 bytes" in status.note


def test_status_against_a_published_checksum(tmp_path: Path) -> None:
    data = b"published weights"
    (tmp_path / "demo.pth").write_bytes(data)
    good = _catalog(hashlib.sha256(data).hexdigest(), size=len(data))
    [status] = store.list_status(tmp_path, good)
    assert (status.state, status.size) == ("present", len(data))
    [status] = store.list_status(tmp_path, _catalog("0" * 64))
    assert status.state == "corrupt" and "published" in status.note
    [status] = store.list_status(tmp_path, _catalog(hashlib.sha256(data).hexdigest(), size=len(data) + 1))
    assert status.state == "corrupt" and "size" in status.note


def test_hand_copied_file_is_unverified_until_verify_records_it(tmp_path: Path) -> None:
    import io

    import torch

    catalog = _catalog(None)
    buffer = io.BytesIO()
    torch.save({"weight": torch.ones(4, 4)}, buffer)
    (tmp_path / "demo.pth").write_bytes(buffer.getvalue())
    [status] = store.list_status(tmp_path, catalog)
    assert status.state == "unverified"
    assert not (tmp_path / store.CHECKSUMS_FILENAME).exists()

    [verified] = store.verify(tmp_path, catalog)
    assert verified.state == "present" and "recorded now" in verified.note
    record_file = tmp_path / store.CHECKSUMS_FILENAME
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    assert store.read_recorded(tmp_path)["demo.pth"]["sha256"] == hashlib.sha256(buffer.getvalue()).hexdigest()
    assert [s.state for s in store.list_status(tmp_path, catalog)] == ["present"]

    torch.save({"weight": torch.zeros(4, 4)}, tmp_path / "demo.pth")
    assert [s.state for s in store.verify(tmp_path, catalog)] == ["corrupt"]


def test_damaged_checksums_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / store.CHECKSUMS_FILENAME).write_text("[1, 2")
    with pytest.raises(WeightsError) as info:
        store.list_status(tmp_path, _catalog(None))
    assert store.CHECKSUMS_FILENAME in str(info.value) and "verify" in (info.value.hint or "")


def test_require_files_names_the_missing_ones_and_the_fix(tmp_path: Path) -> None:
    catalog = store.load_catalog(REPO_CATALOG)
    (tmp_path / "vgg_normalised.pth").write_bytes(b"x")
    with pytest.raises(WeightsError) as info:
        store.require_files("sanet", tmp_path, catalog)
    assert "decoder_iter_500000.pth" in str(info.value) and "vgg_normalised.pth" not in info.value.message
    assert info.value.hint == "run `vcamstyle weights fetch sanet`"
    (tmp_path / "decoder.pth").write_bytes(b"y")
    assert store.require_files("adain", tmp_path, catalog) == {
        "vgg_normalised.pth": tmp_path / "vgg_normalised.pth", "decoder.pth": tmp_path / "decoder.pth"}
    with pytest.raises(WeightsError, match="unknown model"):
        store.require_files("decoder.pth", tmp_path, catalog)
