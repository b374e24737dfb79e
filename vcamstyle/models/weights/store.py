"""The upstream checkpoints: catalog, weights directory, status, verification and fetching.

The catalog (``weights/catalog.json`` in a source checkout, else the packaged copy
``vcamstyle/models/weights/catalog.json``) lists every known file with its sources, size and sha256. A file with
no published sha256 is trusted on first download: its sum is recorded in ``<weights_dir>/checksums.json``
(mode 0600) and later checks compare against that record, but only for a file that is what its name
says: before a first-seen sum is recorded (``verify``, ``fetch``), the file is loaded with
``weights_only=True`` and its keys and shapes compared with the network's
(``vcamstyle.models.weights.checkpoint_layout``). A Google Drive warning page, a truncated download, a
TorchScript archive or another model's checkpoint is reported as what it is and never recorded.

States reported per file: ``present`` (matches the published or recorded sum), ``missing``, ``corrupt``
(size or sum differs, or the content is not a checkpoint: the note says what it is), ``unverified``
(no published sum and nothing recorded yet, e.g. a file copied in by hand; :func:`verify` checks and
records it).

``list_status`` unpickles nothing (sizes, sums and the first bytes only); ``verify`` and ``fetch`` load
files whose sum is not published, safely.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcamstyle import paths
from vcamstyle.errors import DownloadError, WeightsError
from vcamstyle.models.weights.download import (
    SOURCE_KINDS,
    ProgressCallback,
    Source,
    download,
    part_path,
    sha256_file,
)
from vcamstyle.models.weights.sniff import DOWNLOAD_AGAIN, sniff_checkpoint

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

log = logging.getLogger(__name__)

WEIGHTS_DIR_ENV = "VCAMSTYLE_WEIGHTS_DIR"
CATALOG_FILENAME = "catalog.json"
CHECKSUMS_FILENAME = "checksums.json"
DEFAULT_TIMEOUT_S = 30.0
STATES = ("present", "missing", "corrupt", "unverified")


@dataclass(frozen=True)
class WeightFile:
    """One catalog entry. ``size_bytes``/``sha256`` are checked when set; ``approx_size_bytes`` is display only."""

    filename: str
    models: tuple[str, ...]
    description: str
    size_bytes: int | None
    approx_size_bytes: int | None
    sha256: str | None
    licence: str
    origin_repo: str
    sources: tuple[Source, ...]

    @property
    def display_size(self) -> int | None:
        return self.size_bytes if self.size_bytes is not None else self.approx_size_bytes


@dataclass(frozen=True)
class Catalog:
    files: tuple[WeightFile, ...]

    @property
    def models(self) -> tuple[str, ...]:
        """Model names in catalog order, each once."""
        return tuple(dict.fromkeys(model for entry in self.files for model in entry.models))

    def get(self, filename: str) -> WeightFile:
        for entry in self.files:
            if entry.filename == filename:
                return entry
        raise WeightsError(f"{filename!r} is not a known weights file", hint=self._known())

    def select(self, names: Iterable[str]) -> list[WeightFile]:
        """Files for model names and/or filenames, in catalog order, without duplicates."""
        chosen: set[str] = set()
        for name in names:
            matches = [e.filename for e in self.files if name == e.filename or name in e.models]
            if not matches:
                raise WeightsError(f"unknown weights name {name!r}", hint=self._known())
            chosen.update(matches)
        return [entry for entry in self.files if entry.filename in chosen]

    def _known(self) -> str:
        return (f"known models: {', '.join(self.models)}; "
                f"known files: {', '.join(entry.filename for entry in self.files)}")


@dataclass(frozen=True)
class WeightStatus:
    """What is on disk for one catalog file. ``size`` is the size on disk (None when missing)."""

    filename: str
    models: tuple[str, ...]
    state: str
    size: int | None
    path: Path
    sha256: str | None = None
    note: str = ""

    @property
    def model(self) -> str:
        """The model name(s) using this file, comma-separated (the VGG is shared by adain and sanet)."""
        return ",".join(self.models)


# --- catalog ------------------------------------------------------------------------------------


def catalog_path() -> Path:
    """``<checkout>/weights/catalog.json`` when running from a source checkout, else the packaged copy."""
    in_checkout = paths.SOURCE_ROOT / "weights" / CATALOG_FILENAME
    return in_checkout if in_checkout.is_file() else Path(__file__).resolve().parent / CATALOG_FILENAME


def _source_from(raw: dict[str, Any], where: str) -> Source:
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        raise WeightsError(f"{where}: source kind {kind!r} is not one of {SOURCE_KINDS}")
    ref = raw.get("id") if kind == "gdrive" else raw.get("url")
    if not isinstance(ref, str) or not ref:
        raise WeightsError(f"{where}: a {kind} source needs {'an id' if kind == 'gdrive' else 'a url'}")
    return Source(kind=kind, ref=ref, note=str(raw.get("note", "")))


def _entry_from(raw: dict[str, Any], where: str) -> WeightFile:
    try:
        sha = raw["sha256"]
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise WeightsError(f"{where}: sha256 must be 64 lowercase hex digits, got {sha!r}")
        return WeightFile(
            filename=str(raw["filename"]),
            models=tuple(str(m) for m in raw["models"]),
            description=str(raw.get("description", "")),
            size_bytes=None if raw["size_bytes"] is None else int(raw["size_bytes"]),
            approx_size_bytes=None if raw.get("approx_size_bytes") is None else int(raw["approx_size_bytes"]),
            sha256=sha,
            licence=str(raw["licence"]),
            origin_repo=str(raw["origin_repo"]),
            sources=tuple(_source_from(s, f"{where} source {i}") for i, s in enumerate(raw["sources"])),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise WeightsError(f"{where}: malformed entry ({err!r})",
                           hint="reinstall vcamstyle; the catalog file is damaged") from err


def load_catalog(path: Path | None = None) -> Catalog:
    """Parse and check the catalog. Raises WeightsError when it is unreadable or malformed."""
    path = path or catalog_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WeightsError(f"cannot read the weights catalog {path}: {err}",
                           hint="reinstall vcamstyle; the catalog file is missing or damaged") from err
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("files"), list):
        raise WeightsError(f"{path} is not a schema-1 weights catalog", hint="reinstall vcamstyle")
    entries = tuple(_entry_from(raw, f"{path} entry {i}") for i, raw in enumerate(data["files"]))
    names = [entry.filename for entry in entries]
    if len(set(names)) != len(names):
        raise WeightsError(f"{path} lists a filename twice", hint="reinstall vcamstyle")
    return Catalog(files=entries)


# --- weights directory --------------------------------------------------------------------------


def resolve_weights_dir(config_value: str | None) -> Path:
    """Where weights live, first that applies:

    1. ``$VCAMSTYLE_WEIGHTS_DIR`` (non-empty);
    2. ``config_value`` (the config's ``weights_dir``; ``~`` is expanded);
    3. ``<checkout>/weights`` when running from a source checkout (it holds ``catalog.json``);
    4. ``$XDG_DATA_HOME/vcamstyle/weights``.

    Nothing is created here.
    """
    from_env = os.environ.get(WEIGHTS_DIR_ENV, "")
    if from_env:
        return Path(from_env).expanduser()
    if config_value:
        return Path(config_value).expanduser()
    in_checkout = paths.SOURCE_ROOT / "weights"
    if (in_checkout / CATALOG_FILENAME).is_file():
        return in_checkout
    return paths.data_dir() / "weights"


# --- recorded checksums (trust on first download) -----------------------------------------------


def checksums_path(weights_dir: Path) -> Path:
    return weights_dir / CHECKSUMS_FILENAME


def read_recorded(weights_dir: Path) -> dict[str, dict[str, Any]]:
    """``{filename: {"sha256", "size", "origin", "recorded_at"}}`` from ``checksums.json`` ({} if absent)."""
    path = checksums_path(weights_dir)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WeightsError(f"cannot read {path}: {err}",
                           hint=f"delete {path}; `vcamstyle weights verify` then records the present files again") from err
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise WeightsError(f"{path} has no 'files' table",
                           hint=f"delete {path}; `vcamstyle weights verify` then records the present files again")
    return files


def record_checksum(weights_dir: Path, filename: str, sha256: str, size: int, origin: str) -> None:
    """Add or replace one record; the file is rewritten atomically with mode 0600."""
    records = read_recorded(weights_dir)
    records[filename] = {"sha256": sha256, "size": size, "origin": origin,
                         "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = checksums_path(weights_dir)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"schema": 1, "files": records}, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    log.info("recorded sha256 %s for %s in %s", sha256, filename, path)


# --- status and verification --------------------------------------------------------------------


def _status(entry: WeightFile, weights_dir: Path, records: dict[str, dict[str, Any]]) -> WeightStatus:
    """The file's state from size, sums and its first bytes (a file that is not a checkpoint, e.g. an
    HTML page, is ``corrupt`` with a note saying what it is)."""
    status = _status_by_sum(entry, weights_dir, records)
    if status.state in ("missing",) or (status.state == "present" and entry.sha256 is not None):
        return status
    what = sniff_checkpoint(status.path)
    if what is None:
        return status
    note = f"{status.note}: the file is {what}" if status.state == "corrupt" else what
    return replace(status, state="corrupt", note=f"{note}; {DOWNLOAD_AGAIN}")


def inspect_file(path: Path, filename: str) -> str | None:
    """``None`` when ``path`` loads (``weights_only=True``) as ``filename``'s network, else what it is."""
    from vcamstyle.models.weights.checkpoint_layout import inspect_weight_file  # torch and the networks: only here

    return inspect_weight_file(path, filename)


def _status_by_sum(entry: WeightFile, weights_dir: Path, records: dict[str, dict[str, Any]]) -> WeightStatus:
    path = weights_dir / entry.filename
    base = {"filename": entry.filename, "models": entry.models, "path": path}
    if not path.is_file():
        partial = part_path(path)
        note = f"partial download of {partial.stat().st_size} bytes will be resumed" if partial.exists() else ""
        return WeightStatus(state="missing", size=None, note=note, **base)
    size = path.stat().st_size
    if entry.size_bytes is not None and size != entry.size_bytes:
        return WeightStatus(state="corrupt", size=size, note=f"size {size} bytes, expected {entry.size_bytes}", **base)
    digest = sha256_file(path)
    if entry.sha256 is not None:
        if digest == entry.sha256:
            return WeightStatus(state="present", size=size, sha256=digest, note="matches the published sha256", **base)
        return WeightStatus(state="corrupt", size=size, sha256=digest,
                            note=f"sha256 differs from the published {entry.sha256}", **base)
    record = records.get(entry.filename)
    if record is None:
        return WeightStatus(state="unverified", size=size, sha256=digest,
                            note="no published sha256 and none recorded yet", **base)
    if record.get("sha256") == digest:
        return WeightStatus(state="present", size=size, sha256=digest, note="matches the recorded sha256", **base)
    return WeightStatus(state="corrupt", size=size, sha256=digest,
                        note=f"sha256 differs from the one recorded in {CHECKSUMS_FILENAME} ({record.get('sha256')})",
                        **base)


def list_status(weights_dir: Path, catalog: Catalog | None = None) -> list[WeightStatus]:
    """One status per catalog file, in catalog order. Hashes every present file; writes nothing."""
    catalog = catalog or load_catalog()
    records = read_recorded(weights_dir)
    return [_status(entry, weights_dir, records) for entry in catalog.files]


def verify(weights_dir: Path, catalog: Catalog | None = None) -> list[WeightStatus]:
    """Like :func:`list_status`, and every file without a published sum is loaded (``weights_only=True``)
    and compared with its network's layout. An ``unverified`` file that passes gets its sha256 recorded
    and is reported ``present`` (its layout checked, its sum recorded now); one that fails is ``corrupt``
    with a note saying what it is, and nothing is recorded. A file whose recorded sum matches but whose
    content fails (recorded by an older version) is ``corrupt`` too."""
    catalog = catalog or load_catalog()
    result = []
    for status in list_status(weights_dir, catalog):
        entry = catalog.get(status.filename)
        if status.state in ("unverified", "present") and entry.sha256 is None:
            problem = inspect_file(status.path, status.filename)
            if problem is not None:
                hint = f"remove it and its entry in {CHECKSUMS_FILENAME}, then " if status.state == "present" else ""
                result.append(replace(status, state="corrupt", note=f"{problem}; {hint}{DOWNLOAD_AGAIN}"))
                continue
        if status.state == "unverified" and status.sha256 is not None and status.size is not None:
            record_checksum(weights_dir, status.filename, status.sha256, status.size, origin="found in weights dir")
            status = replace(status, state="present",
                             note=f"loads as the expected network; sha256 recorded now in {CHECKSUMS_FILENAME} "
                                  "(no published sum to check against)")
        result.append(status)
    return result


def require_files(model: str, weights_dir: Path, catalog: Catalog | None = None) -> dict[str, Path]:
    """``{filename: path}`` of a model's files; raises WeightsError naming the missing ones and the fix.
    Checks existence only (no hashing), so it is cheap enough for model loading."""
    catalog = catalog or load_catalog()
    if model not in catalog.models:
        raise WeightsError(f"unknown model {model!r}", hint=catalog._known())
    files = {entry.filename: weights_dir / entry.filename for entry in catalog.select([model])}
    if weights_dir.exists() and not weights_dir.is_dir():
        raise WeightsError(f"the weights directory {weights_dir} is a file", hint="point weights_dir at a directory")
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise WeightsError(f"model {model!r} needs {', '.join(missing)}, not found in {weights_dir}",
                           hint=f"run `vcamstyle weights fetch {model}`")
    return files


# --- fetching -----------------------------------------------------------------------------------


def _rich_progress(console: Console | None) -> Progress:
    """A download progress bar (name, bar, bytes, speed, time left) on ``console`` or stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=console or Console(stderr=True))


def _fan_out(callbacks: list[ProgressCallback]) -> ProgressCallback:
    def call_all(done: int, total: int | None) -> None:
        for callback in callbacks:
            callback(done, total)

    return call_all


def _fetch_one(entry: WeightFile, weights_dir: Path, records: dict[str, dict[str, Any]], timeout: float,
               on_progress: ProgressCallback | None, max_resumes: int) -> WeightStatus:
    dest = weights_dir / entry.filename
    recorded = records.get(entry.filename, {}).get("sha256") if entry.sha256 is None else None
    try:
        result = download(entry.sources, dest, expected_size=entry.size_bytes,
                          expected_sha256=entry.sha256 or recorded, timeout=timeout, on_progress=on_progress,
                          max_resumes=max_resumes)
    except DownloadError as err:
        if recorded is None:
            raise
        raise DownloadError(f"{err.message}\n(expected the sha256 recorded on the first download: {recorded})",
                            hint=f"{err.hint}; if the file legitimately changed upstream, remove its entry from "
                                 f"{checksums_path(weights_dir)} and fetch again") from err
    if entry.sha256 is not None:
        note = "downloaded; matches the published sha256"
    elif recorded is not None:
        note = "downloaded; matches the recorded sha256"
    else:
        problem = inspect_file(result.path, entry.filename)
        if problem is not None:
            result.path.unlink(missing_ok=True)  # never keep (or record) a wrong file under the right name
            raise DownloadError(f"{entry.filename}: the download is {problem}; it was deleted and nothing recorded",
                                hint=f"try again later, or download it by hand in a browser (see weights/README.md) into {weights_dir} "
                                     "and run `vcamstyle weights verify`")
        record_checksum(weights_dir, entry.filename, result.sha256, result.size, origin=result.url)
        note = f"downloaded; no published sha256, so this one was recorded in {CHECKSUMS_FILENAME}"
    return WeightStatus(filename=entry.filename, models=entry.models, state="present", size=result.size,
                        path=result.path, sha256=result.sha256, note=note)


def fetch(names: Sequence[str], weights_dir: Path, *, progress: bool = True, timeout: float = DEFAULT_TIMEOUT_S,
          force: bool = False, console: Console | None = None, progress_callback: ProgressCallback | None = None,
          max_resumes: int = 3, catalog: Catalog | None = None) -> list[WeightStatus]:
    """Download the files of the given model names and/or filenames into ``weights_dir`` (created).

    Files already ``present`` are skipped unless ``force``. ``progress`` shows a rich progress bar on
    ``console`` (default: a stderr console); ``progress_callback(done, total)`` is called as bytes arrive.
    Returns the status of every selected file. Raises WeightsError for an unknown name, and DownloadError
    (after trying all the other files) naming each file that could not be fetched, every URL tried, and
    the by-hand fix.
    """
    catalog = catalog or load_catalog()
    entries = catalog.select(names)
    weights_dir.mkdir(parents=True, exist_ok=True)
    records = read_recorded(weights_dir)
    results: list[WeightStatus] = []
    failures: list[DownloadError] = []
    bar = _rich_progress(console) if progress else None
    try:
        if bar is not None:
            bar.start()
        for entry in entries:
            current = _status(entry, weights_dir, records)
            if current.state == "present" and not force:
                results.append(replace(current, note="already present; " + current.note))
                continue
            if current.state == "corrupt":
                log.warning("%s is corrupt (%s); downloading it again", current.path, current.note)
            callbacks = [cb for cb in (progress_callback,) if cb is not None]
            if bar is not None:
                task = bar.add_task(entry.filename, total=entry.display_size)
                callbacks.append(lambda done, total, task=task: bar.update(task, completed=done, total=total))
            on_progress = _fan_out(callbacks) if callbacks else None
            try:
                results.append(_fetch_one(entry, weights_dir, records, timeout, on_progress, max_resumes))
            except DownloadError as err:
                failures.append(err)
            records = read_recorded(weights_dir)
    finally:
        if bar is not None:
            bar.stop()
    if len(failures) == 1:
        raise failures[0]
    if failures:
        done = ", ".join(r.filename for r in results) or "none"
        raise DownloadError("\n".join(str(err) for err in failures) + f"\n(fetched or already present: {done})",
                            hint=f"download the missing files by hand into {weights_dir}, "
                                 "then run `vcamstyle weights verify`")
    return results
