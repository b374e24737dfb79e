"""The style gallery: the bundled styles and the pictures in the config's ``styles/`` folder.

Files are served only by the id of an entry the gallery listed (no path from a request is ever
opened). Uploads are bounded (``MAX_UPLOAD_BYTES``), checked by the one picture loader with the limits
a configured file meets, in a private scratch file in the runtime directory, and only then copied into
the config's ``styles/`` folder under a clean, new name.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from vcamstyle import paths
from vcamstyle.errors import StyleImageError
from vcamstyle.control.preview import encode_jpeg
from vcamstyle.pipeline import load_picture, probe

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
THUMB_SIZE = (96, 96)
_EXTENSION = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRefused(StyleImageError):
    """An upload that is too large, not a picture, or refused by the picture loader."""


@dataclass(frozen=True)
class Entry:
    """One gallery picture: ``ref`` is what config.yaml gets (``styles/<name>``, relative to the config)."""

    id: str
    name: str
    source: str  # "bundled" | "yours"
    path: Path
    ref: str


class Gallery:
    def __init__(self, config_path: Path) -> None:
        self.config_path = Path(config_path)
        self._listed: dict[str, Entry] = {}
        self._thumbs: dict[tuple[str, float], bytes] = {}

    @property
    def user_dir(self) -> Path:
        return Path(os.path.realpath(self.config_path)).parent / "styles"

    def entries(self) -> list[Entry]:
        """Your pictures first, then the bundled ones a picture of yours does not shadow (a relative
        ``styles/<name>`` finds yours first, then the bundled one)."""
        found: dict[str, Entry] = {}
        for source, folder in (("yours", self.user_dir), ("bundled", paths.bundled_styles_dir())):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in PICTURE_SUFFIXES and path.is_file() and not path.name.startswith("."):
                    if path.name in found:
                        continue
                    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
                    found[path.name] = Entry(key, path.stem.replace("_", " "), source, path, f"styles/{path.name}")
        self._listed = {entry.id: entry for entry in found.values()}
        return list(found.values())

    def entry(self, entry_id: str) -> Entry | None:
        """A listed entry by id (listing first when the id is unknown); None for anything else."""
        if entry_id not in self._listed:
            self.entries()
        return self._listed.get(entry_id)

    def thumbnail(self, entry: Entry) -> bytes:
        """A small JPEG of the entry (cached by file and modification time)."""
        key = (str(entry.path), entry.path.stat().st_mtime)
        if key not in self._thumbs:
            self._thumbs[key] = encode_jpeg(load_picture(entry.path, "style image", THUMB_SIZE, "cover"))
        return self._thumbs[key]

    def add(self, filename: str, data: bytes, scratch_dir: Path) -> Entry:
        """Check an uploaded picture and copy it into the styles folder; ``UploadRefused`` otherwise."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadRefused(f"the picture is too large ({len(data) // 1_000_000} MB; at most "
                                f"{MAX_UPLOAD_BYTES // 1_000_000} MB)", hint="shrink it or save it as JPEG")
        scratch = scratch_dir / f".upload-{os.getpid()}-{hashlib.sha256(data).hexdigest()[:12]}"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            try:
                info = probe(scratch, "uploaded picture")
                load_picture(scratch, "uploaded picture", (64, 64), "cover")
            except StyleImageError as exc:
                raise UploadRefused(str(exc.message).replace(str(scratch), repr(filename)), hint=exc.hint) from exc
            extension = _EXTENSION.get(info.format)
            if extension is None:
                raise UploadRefused(f"{filename!r} is a {info.format} picture; the gallery takes PNG, JPEG or WebP",
                                    hint="save it as PNG or JPEG")
            target = self._free_name(filename, extension)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
        entry = next(e for e in self.entries() if e.path == target)
        return entry

    def _free_name(self, filename: str, extension: str) -> Path:
        stem = _UNSAFE.sub("_", Path(filename).stem).strip("._-")[:60] or "picture"
        candidate = self.user_dir / f"{stem}{extension}"
        n = 2
        while candidate.exists() or (paths.bundled_styles_dir() / candidate.name).exists():
            candidate = self.user_dir / f"{stem}-{n}{extension}"
            n += 1
        return candidate
