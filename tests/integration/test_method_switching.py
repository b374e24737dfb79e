"""Live switching of the style method (magenta, adain, sanet, avatarnet) and of the segmenter (selfie,
unet_resnet18) in a running daemon, with checkpoints written in the upstream file layouts (random
values; the exact key tables are checked in tests/models), and the missing-weights path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from daemon_harness import Daemon

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def write_upstream_checkpoints(directory: Path) -> None:
    from vcamstyle.models.seed import avatarnet, sanet, vgg
    from vcamstyle.models.segmenters import unet

    directory.mkdir(parents=True, exist_ok=True)
    torch.save(vgg.build_encoder_layers().state_dict(), directory / "vgg_normalised.pth")
    torch.save(vgg.build_decoder().state_dict(), directory / "decoder.pth")
    torch.save(vgg.build_decoder().state_dict(), directory / "decoder_iter_500000.pth")
    torch.save(sanet.Transform().state_dict(), directory / "transformer_iter_500000.pth")
    torch.save({"iteration": 1, "state_dict": avatarnet.AvatarNet().state_dict(), "loss_seq": {"total": [1.0]}},
               directory / "check_point.pth")
    torch.save({"arch": "UNet", "epoch": 1, "state_dict": unet.UNetResNet18().state_dict(), "monitor_best": 0.9},
               directory / "UNet_ResNet18.pth")


STYLED = """\
style:
  method: {method}
  size: 64
person:
  effect: style
  style: styles/mosaic.png
background:
  effect: style
  style: styles/waves.png
segmentation:
  model: {segmenter}
"""


def switch(daemon: Daemon, method: str, segmenter: str = "selfie") -> None:
    base = daemon.config.read_text().split("# --- styled ---")[0]
    daemon.config.write_text(base + "# --- styled ---\n" + STYLED.format(method=method, segmenter=segmenter))


def test_switching_methods_and_segmenters_live(daemon: Daemon, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    write_upstream_checkpoints(weights)
    daemon.env["VCAMSTYLE_WEIGHTS_DIR"] = str(weights)
    text = daemon.config.read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith(("person:", "background:", "segmentation:"))
                     and not line.startswith(("  effect:", "  color:", "  smoothing:")))
    daemon.config.write_text(text + "\n")
    switch(daemon, "magenta")
    daemon.start()
    daemon.wait_for(lambda: (daemon.status() or {}).get("ready") is True, timeout=90, what="ready")

    for method, segmenter in [("adain", "selfie"), ("sanet", "selfie"), ("avatarnet", "selfie"),
                              ("magenta", "unet_resnet18"), ("magenta", "selfie")]:
        switch(daemon, method, segmenter)
        daemon.wait_for(lambda: (daemon.status() or {}).get("method") == method
                        and (daemon.status() or {}).get("segmentation") == segmenter,
                        timeout=180, what=f"{method} + {segmenter} active")
        assert daemon.status()["last_error"] is None
        count = len(daemon.frames())
        daemon.wait_for(lambda: len(daemon.frames()) > count + 2, timeout=120, what=f"frames with {method}")

    # missing weights: the previous method keeps running and status names the fetch command
    (weights / "check_point.pth").unlink()
    switch(daemon, "avatarnet")
    daemon.wait_for(lambda: "weights fetch avatarnet" in ((daemon.status() or {}).get("last_error") or ""),
                    timeout=60, what="missing-weights error in status")
    assert daemon.status()["method"] == "magenta"
    count = len(daemon.frames())
    daemon.wait_for(lambda: len(daemon.frames()) > count + 3, what="frames keep flowing")
    assert daemon.stop() == 0
