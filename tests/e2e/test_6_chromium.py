"""Headless Chromium (Debian's package) against the real device: enumerateDevices lists the card label,
getUserMedia delivers frames (waking the on-demand daemon), and a canvas frame matches the daemon output.

Slow under emulation (minutes before the first frame) but not timing-dependent: the page reports a frame
every second and the test waits, within a generous limit, for one that matches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from vm import CARD_LABEL, EXCLUSIVE_CAPS, HEIGHT, WIDTH, config_text, psnr, wait_for

PAGE = Path(__file__).with_name("camera_page.html")
BLOCK = 8
CHROME_LIMIT_S = 900
#: Chromium converts YUYV to RGB itself and the canvas may apply colour management, so block means differ
#: from ours by a few levels (about 35-40 dB); the placeholder or a black frame scores under 15 dB.
BLOCK_PSNR_DB = 28.0

pytestmark = pytest.mark.skipif(EXCLUSIVE_CAPS != 1 or not shutil.which("chromium"),
                                reason="browsers list v4l2loopback devices with exclusive_caps=1; needs chromium")


def block_means(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    blocks = image.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3).astype(np.float64).mean(axis=(1, 3))
    return np.round(blocks).reshape(-1)


def test_chromium_lists_the_device_and_gets_the_daemon_picture(vm_daemon, still, tmp_path):
    path, image = still
    vm_daemon.ensure(config_text(path, on_demand=True, grace_s=3.0))
    wait_for(lambda: vm_daemon.state() in ("idle", "streaming"), "the daemon up")
    expected = block_means(image)
    command = ["chromium", "--headless=new", "--no-sandbox", "--use-fake-ui-for-media-stream",
               "--enable-logging=stderr", "--v=0", "--no-first-run", "--disable-gpu",
               f"--user-data-dir={tmp_path / 'profile'}", PAGE.as_uri()]
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HOME": str(tmp_path)})
    watchdog = threading.Timer(CHROME_LIMIT_S, browser.kill)  # a silent hang ends the read loop below
    watchdog.start()
    reports: list[dict] = []
    best = 0.0
    try:
        end = time.monotonic() + CHROME_LIMIT_S
        assert browser.stderr is not None
        for line in browser.stderr:
            if time.monotonic() > end:
                break
            if '"E2E ' not in line:
                continue
            payload = line.split('"E2E ', 1)[1].rsplit('", source', 1)[0]
            report = json.loads(payload.replace('\\"', '"'))
            reports.append(report)
            assert "error" not in report, report
            if "blocks" in report:
                assert (report["width"], report["height"]) == (WIDTH, HEIGHT)
                best = max(best, psnr(np.array(report["blocks"], np.float64), expected))
                if best >= BLOCK_PSNR_DB:
                    break
    finally:
        watchdog.cancel()
        browser.terminate()
        try:
            browser.wait(60)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
    listing = next((r for r in reports if "devices" in r), None)
    assert listing is not None, reports[:3]
    assert any(CARD_LABEL in label for label in listing["devices"]) and CARD_LABEL in listing["track"]
    assert best >= BLOCK_PSNR_DB, f"best canvas frame {best:.1f} dB over {len(reports)} reports"
