"""Download one file over HTTP(S): resumable, atomic and verified. Standard library only (urllib).

A file is written to ``<name>.part`` beside its final path. A ``<name>.part`` left by an earlier try is
continued with a ``Range`` request when it came from the same source (recorded in the sidecar
``<name>.part-origin.tmp``); a server that ignores ``Range`` restarts it from zero. Only a file whose size
and sha256 match what is expected is moved (``os.replace``) to the final name; a mismatching ``.part`` is
removed. Several sources are tried in order; the final error lists every URL tried.

Source kinds: ``http`` (a direct URL), ``gdrive`` (a Google Drive file id: ``uc?export=download`` plus the
large-file confirmation page) and ``yandex`` (a Yandex Disk public link, resolved through the public API).
The base URLs are module constants so that tests can point them at a local server.

Nothing here unpickles anything: verification is by size and sha256 only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode, urljoin
from urllib.request import HTTPCookieProcessor, OpenerDirector, build_opener

from vcamstyle.errors import DownloadError
from vcamstyle.models.weights.http_get import is_web_page, open_url, require_web_url

log = logging.getLogger(__name__)

#: Google Drive's direct-download endpoint (``?export=download&id=<id>``).
GDRIVE_DOWNLOAD_URL = "https://drive.google.com/uc"
#: Yandex Disk public API: ``?public_key=<link>`` answers JSON with an ``href`` to download.
YANDEX_PUBLIC_DOWNLOAD_API = "https://cloud-api.yandex.net/v1/disk/public/resources/download"
CHUNK_SIZE = 1 << 16
MAX_PAGE_BYTES = 2 << 20
SOURCE_KINDS = ("http", "gdrive", "yandex")

#: Called with (bytes written so far, total bytes or None) as a download proceeds.
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Source:
    """Where a file can be downloaded: ``ref`` is a URL (http, yandex) or a Google Drive file id."""

    kind: str
    ref: str
    note: str = ""

    def key(self) -> str:
        """Stable identity, stored beside a ``.part`` so that only the same source resumes it."""
        return f"{self.kind}:{self.ref}"

    def display_url(self) -> str:
        """The address a person can open by hand."""
        if self.kind == "gdrive":
            return f"https://drive.google.com/file/d/{self.ref}/view"
        return self.ref


@dataclass(frozen=True)
class DownloadResult:
    """A verified file now under its final name."""

    path: Path
    size: int
    sha256: str
    source: Source
    url: str


class _ConnectionCut(Exception):
    """The body stopped early after some bytes arrived; the ``.part`` can be resumed."""


class _SizeMismatch(Exception):
    """The server announced a size other than the expected one."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def origin_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part-origin.tmp")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


# --- Google Drive -------------------------------------------------------------------------------


class _ConfirmPageParser(HTMLParser):
    """Collects forms (action, method, inputs) and link targets of Drive's "can't scan for viruses" page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, str, dict[str, str]]] = []  # (id, action, method, inputs)
        self.links: list[str] = []
        self._form: tuple[str, str, str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = (attr.get("id", ""), attr.get("action", ""), attr.get("method", "get").lower(), {})
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and attr.get("name"):
            self._form[3][attr["name"]] = attr.get("value", "")
        elif tag == "a" and attr.get("href"):
            self.links.append(attr["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def gdrive_uc_url(file_id: str, confirm: str | None = None) -> str:
    params = {"export": "download", "id": file_id}
    if confirm:
        params["confirm"] = confirm
    return f"{GDRIVE_DOWNLOAD_URL}?{urlencode(params)}"


def parse_gdrive_confirmation(page: str, page_url: str, file_id: str, cookie_token: str | None = None) -> str | None:
    """The URL that downloads a large Drive file past its warning page, or None if the page has none.

    Tried in order: a GET form whose action downloads (new pages: hidden ``id``, ``confirm``, ``uuid``); a
    link carrying ``confirm=``; a bare ``confirm=<token>`` in the text; the ``download_warning`` cookie.
    """
    parser = _ConfirmPageParser()
    parser.feed(page)
    parser.close()
    forms = sorted(parser.forms, key=lambda form: form[0] != "download-form")
    for _form_id, action, method, inputs in forms:
        if method == "get" and action and ("download" in action or "confirm" in inputs):
            return f"{urljoin(page_url, action)}?{urlencode(inputs)}"
    for href in parser.links:
        if "confirm=" in href:
            return urljoin(page_url, unescape(href))
    match = re.search(r"confirm=([0-9A-Za-z_-]+)", page)
    if match:
        return gdrive_uc_url(file_id, match.group(1))
    if cookie_token:
        return gdrive_uc_url(file_id, cookie_token)
    return None


def _gdrive_page_problem(page: str) -> str:
    lowered = page.lower()
    if "too many users have viewed or downloaded" in lowered or "quota" in lowered:
        return "Google Drive refuses: the file's download quota is exceeded"
    if "accounts.google.com" in lowered or "sign in" in lowered:
        return "Google Drive asks to sign in: the file is not public (or was removed)"
    return "Google Drive answered with a web page that has no download link"


def resolve_gdrive(file_id: str, opener: OpenerDirector, jar: CookieJar, timeout: float) -> str:
    """A URL that serves the Drive file itself, following the large-file confirmation page if any."""
    first = gdrive_uc_url(file_id)
    with open_url(opener, first, timeout, what="Google Drive") as response:
        final_url = response.geturl()
        if not is_web_page(response):
            return final_url
        page = response.read(MAX_PAGE_BYTES).decode("utf-8", "replace")
    token = next((c.value for c in jar if c.name.startswith("download_warning") and c.value), None)
    confirmed = parse_gdrive_confirmation(page, final_url, file_id, token)
    if confirmed is None:
        raise DownloadError(f"{_gdrive_page_problem(page)} ({first})",
                            hint="open the link in a browser; if it works there, save the file by hand")
    log.info("Google Drive confirmation page passed for %s", file_id)
    return confirmed


# --- Yandex Disk --------------------------------------------------------------------------------


def resolve_yandex(public_link: str, opener: OpenerDirector, timeout: float) -> str:
    """The direct download ``href`` for a Yandex Disk public link, from the public API's JSON answer."""
    api = f"{YANDEX_PUBLIC_DOWNLOAD_API}?{urlencode({'public_key': public_link})}"
    with open_url(opener, api, timeout, what="Yandex Disk API") as response:
        body = response.read(MAX_PAGE_BYTES)
    try:
        href = json.loads(body).get("href")
    except (ValueError, AttributeError) as err:
        raise DownloadError(f"the Yandex Disk API answered {api} with something that is not the expected JSON",
                            hint="try again later, or open the public link in a browser") from err
    if not isinstance(href, str) or not href:
        raise DownloadError(f"the Yandex Disk API gave no download link for {public_link} ({api})",
                            hint="the public link may be removed; open it in a browser")
    return require_web_url(href)


def resolve(source: Source, opener: OpenerDirector, jar: CookieJar, timeout: float) -> str:
    """The URL whose body is the file itself."""
    if source.kind == "http":
        return require_web_url(source.ref)
    if source.kind == "gdrive":
        return resolve_gdrive(source.ref, opener, jar, timeout)
    if source.kind == "yandex":
        return resolve_yandex(source.ref, opener, timeout)
    raise DownloadError(f"unknown source kind {source.kind!r}", hint=f"use one of {', '.join(SOURCE_KINDS)}")


# --- transfer -----------------------------------------------------------------------------------


def _content_range_start(value: str | None) -> int | None:
    match = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    return int(match.group(1)) if match else None


def _total_from_416(err: HTTPError) -> int | None:
    match = re.match(r"bytes\s+\*/(\d+)", err.headers.get("Content-Range", "") if err.headers else "")
    return int(match.group(1)) if match else None


def _same_origin(dest: Path, source: Source) -> bool:
    origin = origin_path(dest)
    return origin.exists() and origin.read_text(encoding="utf-8").strip() == source.key()


def _transfer(opener: OpenerDirector, url: str, dest: Path, source: Source, expected_size: int | None,
              timeout: float, on_progress: ProgressCallback | None) -> bool:
    """Fetch ``url`` into the ``.part``, continuing it with Range when present.

    Returns True when the bytes were appended to an earlier ``.part`` (a 206 answer to our Range).
    """
    part = part_path(dest)
    offset = part.stat().st_size if part.exists() else 0
    if offset and not _same_origin(dest, source):
        log.info("not continuing %s: it came from another source; starting from zero", part)
        offset = 0
    if expected_size is not None and offset > expected_size:
        log.info("%s is longer than expected; starting again", part)
        _discard(part)
        offset = 0
    try:
        response = open_url(opener, url, timeout, {"Range": f"bytes={offset}-"} if offset else None)
    except DownloadError as err:
        cause = err.__cause__
        if not (offset and isinstance(cause, HTTPError) and cause.code == 416):
            raise
        if _total_from_416(cause) == offset:
            return True  # the .part already holds the whole file; verification decides
        log.info("%s refused the range for %s; starting again from zero", url, dest.name)
        _discard(part)
        return _transfer(opener, url, dest, source, expected_size, timeout, on_progress)
    with response:
        if is_web_page(response):
            raise DownloadError(f"{url} answered with a web page instead of the file",
                                hint="the link may need a login or have moved; open it in a browser")
        resumed = response.status == 206 and _content_range_start(response.headers.get("Content-Range")) == offset
        if response.status == 206 and not resumed:
            if not offset:
                raise DownloadError(f"{url} sent part of the file although the whole file was asked for",
                                    hint="this source is not usable; download the file by hand")
            log.info("%s answered another range than asked; restarting %s from zero", url, dest.name)
        else:
            if offset and not resumed:
                log.info("%s ignored the Range request; restarting %s from zero", url, dest.name)
            return _write_body(response, url, dest, source, offset if resumed else 0, expected_size, timeout,
                               on_progress)
    _discard(part)
    return _transfer(opener, url, dest, source, expected_size, timeout, on_progress)


def _write_body(response: http.client.HTTPResponse, url: str, dest: Path, source: Source, offset: int,
                expected_size: int | None, timeout: float, on_progress: ProgressCallback | None) -> bool:
    """Stream the body into the ``.part``: appended after ``offset`` bytes, or from zero when offset is 0."""
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else expected_size
    if expected_size is not None and total is not None and total != expected_size:
        raise _SizeMismatch(f"{url} announces {total} bytes, expected {expected_size}")
    origin_path(dest).write_text(source.key(), encoding="utf-8")
    done = offset
    if on_progress:
        on_progress(done, total)
    with open(part_path(dest), "ab" if offset else "wb") as fh:
        while True:
            try:
                chunk = response.read(CHUNK_SIZE)
            except (http.client.HTTPException, OSError) as err:
                if done > offset:
                    raise _ConnectionCut(f"connection to {url} dropped after {done} bytes: {err!r}") from err
                raise DownloadError(f"no data from {url} within {timeout:g} s ({err!r})",
                                    hint="check the network connection, or allow more time (--timeout)") from err
            if not chunk:
                break
            fh.write(chunk)
            done += len(chunk)
            if on_progress:
                on_progress(done, total)
    if total is not None and done < total:
        if done > offset:
            raise _ConnectionCut(f"{url} ended after {done} of {total} bytes")
        raise DownloadError(f"{url} ended after {done} of {total} bytes", hint="try again later")
    return offset > 0


def _mismatch(size: int, digest: str, expected_size: int | None, expected_sha256: str | None) -> str | None:
    if expected_size is not None and size != expected_size:
        return f"size {size} bytes, expected {expected_size}"
    if expected_sha256 is not None and digest != expected_sha256.lower():
        return f"sha256 {digest}, expected {expected_sha256}"
    return None


def download_from_source(source: Source, dest: Path, *, expected_size: int | None, expected_sha256: str | None,
                         timeout: float, on_progress: ProgressCallback | None = None,
                         max_resumes: int = 3) -> DownloadResult:
    """Download ``source`` to ``dest`` atomically; resumes up to ``max_resumes`` times after a cut."""
    part, origin = part_path(dest), origin_path(dest)
    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    url = resolve(source, opener, jar, timeout)
    resumes = 0
    restarted_clean = False
    used_range = False
    while True:
        try:
            used_range = _transfer(opener, url, dest, source, expected_size, timeout, on_progress) or used_range
        except _ConnectionCut as cut:
            if resumes >= max_resumes:
                raise DownloadError(f"{cut}; gave up after {resumes} resumed tries; the partial file was left at {part}",
                                    hint="run the same fetch again to continue where it stopped") from cut
            resumes += 1
            log.warning("%s; resuming (try %d of %d)", cut, resumes, max_resumes)
            continue
        except _SizeMismatch as err:
            _discard(part, origin)
            raise DownloadError(f"{err}; nothing was saved", hint="this source serves another file") from err
        size = part.stat().st_size
        digest = sha256_file(part)
        problem = _mismatch(size, digest, expected_size, expected_sha256)
        if problem is None:
            os.replace(part, dest)
            _discard(origin)
            log.info("saved %s (%d bytes, sha256 %s) from %s", dest, size, digest, url)
            return DownloadResult(path=dest, size=size, sha256=digest, source=source, url=url)
        _discard(part, origin)
        if used_range and not restarted_clean:
            log.warning("%s from %s does not match after resuming (%s); downloading it again from zero",
                        dest.name, url, problem)
            restarted_clean, used_range = True, False
            continue
        raise DownloadError(f"{url} sent a file that does not match: {problem}; the partial download was removed",
                            hint="this source serves another or a damaged file")


def download(sources: Sequence[Source], dest: Path, *, expected_size: int | None, expected_sha256: str | None,
             timeout: float, on_progress: ProgressCallback | None = None, max_resumes: int = 3) -> DownloadResult:
    """Try each source in order until one yields a verified file at ``dest``.

    Raises DownloadError listing every URL tried and why it failed, with the by-hand fix.
    """
    if not sources:
        raise DownloadError(f"no download source is known for {dest.name}",
                            hint=f"download it by hand and save it as {dest}")
    failures: list[str] = []
    for source in sources:
        try:
            return download_from_source(source, dest, expected_size=expected_size, expected_sha256=expected_sha256,
                                        timeout=timeout, on_progress=on_progress, max_resumes=max_resumes)
        except DownloadError as err:
            log.info("source %s failed, trying the next one if any: %s", source.display_url(), err)
            where = source.display_url()
            failures.append(str(err) if where in err.message else f"{where}: {err}")
    listing = "\n".join(f"  - {line}" for line in failures)
    raise DownloadError(
        f"could not download {dest.name} from any of its {len(sources)} source(s):\n{listing}",
        hint=f"download it by hand from one of those URLs, save it as {dest}, then run `vcamstyle weights verify`",
    )
