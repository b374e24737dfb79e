"""What a file with a weights file's name really is, from its first bytes (nothing is unpickled).

A failed download often leaves a file with the right name and the wrong content: Google Drive's
"virus scan warning" HTML page, a JSON error, a truncated zip, a TorchScript archive, a gzip or tar
that still has to be unpacked. ``sniff_checkpoint`` names such content in words a user can act on; it returns
``None`` for something that may be a PyTorch checkpoint (a complete zip-format archive, or a legacy
pickle), which the caller then loads with ``weights_only=True`` to be sure.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

_HEAD_BYTES = 4096
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<title", b"<meta", b"<script")
DOWNLOAD_AGAIN = "download it again with `vcamstyle weights fetch`, or by hand from the catalog's URL"


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def sniff_checkpoint(path: Path) -> str | None:
    """``None`` when ``path`` may be a PyTorch checkpoint, else what it is, e.g. ``"an HTML page, not a
    checkpoint"``. Reads the first bytes and, for zip archives, the central directory."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return "an empty file, not a checkpoint"
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith(_HTML_MARKERS) or (b"<html" in lowered[:1024]):
        google = b"google" in head.lower()
        return ("an HTML page, not a checkpoint" + (" (Google Drive's download warning page)" if google else "")
                + " (the download got a web page instead of the file)")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(path)
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file, not a checkpoint: unpack it first (gunzip)"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive, not a checkpoint: unpack it first (tar -xf) and use the .pth inside"
    if head.startswith(b"7z\xbc\xaf\x27\x1c") or head.startswith(b"Rar!"):
        return "a 7z/RAR archive, not a checkpoint: unpack it first and use the .pth inside"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] in (2, 3, 4, 5):
        return None  # a pickle: the legacy torch.save format (checked by loading)
    if _is_text(head):
        return "a text file, not a checkpoint (the download got an error message or a web page)"
    return "not a PyTorch checkpoint (neither the zip nor the legacy pickle format)"


def _sniff_zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "a truncated or damaged archive (an incomplete download)"
    if any("/code/" in name or name.endswith("/constants.pkl") for name in names):
        return "a TorchScript archive (torch.jit.save), not a state_dict checkpoint"
    if not any(name.endswith("data.pkl") for name in names):
        return "a zip archive, not a checkpoint: unpack it first and use the .pth inside"
    return None
