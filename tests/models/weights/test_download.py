"""Downloads against a local HTTP server on 127.0.0.1 (ephemeral port): resume, atomicity, errors,
Google Drive and Yandex Disk flows, mirror fallback, and checksum recording through ``store.fetch``."""

from __future__ import annotations

import io
import json
import random
import re
import stat
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from rich.console import Console

from vcamstyle.errors import DownloadError
from vcamstyle.models.weights import download as dl
from vcamstyle.models.weights import store
from vcamstyle.models.weights.download import (
    Source,
    download,
    download_from_source,
    parse_gdrive_confirmation,
)

PAYLOAD = random.Random(1234).randbytes(300_000)
CUT_AFTER = 100_000
RELEASE_WAIT_S = 10.0

Route = Callable[["Handler", int], None]


class Handler(BaseHTTPRequestHandler):
    server: "FakeServer"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        fake = self.server.fake
        with fake.lock:
            fake.requests.append((self.path, dict(self.headers.items())))
            count = fake.counts.get(path, 0)
            fake.counts[path] = count + 1
        route = fake.routes.get(path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        route(self, count)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature from the base class)
        return


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True


class Fake:
    """Routes by path; records every request (path with query, headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.httpd = FakeServer(("127.0.0.1", 0), Handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def headers_for(self, path: str) -> list[dict[str, str]]:
        return [headers for full, headers in self.requests if urlsplit(full).path == path]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Fake]:
    fake = Fake()
    yield fake
    fake.close()


def send_file(h: BaseHTTPRequestHandler, data: bytes = PAYLOAD, *, honour_range: bool = True,
              cut_after: int | None = None, content_type: str = "application/octet-stream",
              extra_headers: dict[str, str] | None = None) -> None:
    """Serve ``data`` (a 206 slice when asked with Range and ``honour_range``); optionally drop the
    connection after ``cut_after`` body bytes."""
    start = 0
    match = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range", ""))
    if match and honour_range:
        start = int(match.group(1))
        if start >= len(data):
            h.send_response(416)
            h.send_header("Content-Range", f"bytes */{len(data)}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(206)
        h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    else:
        h.send_response(200)
    body = data[start:]
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for name, value in (extra_headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    if cut_after is None:
        h.wfile.write(body)
    else:
        h.wfile.write(body[:cut_after])
        h.wfile.flush()
        h.close_connection = True


def send_html(h: BaseHTTPRequestHandler, page: str, extra_headers: dict[str, str] | None = None) -> None:
    body = page.encode()
    h.send_response(200)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Content-Length", str(len(body)))
    for name, value in (extra_headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)


def send_json(h: BaseHTTPRequestHandler, data: object, status: int = 200) -> None:
    body = json.dumps(data).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def fetch_http(server: Fake, dest: Path, path: str = "/file.pth", **kwargs) -> dl.DownloadResult:
    options = {"expected_size": None, "expected_sha256": None, "timeout": 5.0}
    options.update(kwargs)
    return download_from_source(Source("http", server.url(path)), dest, **options)


def assert_no_leftovers(dest: Path) -> None:
    assert not dl.part_path(dest).exists()
    assert not dl.origin_path(dest).exists()


# --- plain downloads, progress, atomicity -------------------------------------------------------


def test_download_writes_verified_file_and_reports_progress(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    seen: list[tuple[int, int | None]] = []
    dest = tmp_path / "file.pth"
    result = fetch_http(server, dest, expected_size=len(PAYLOAD), expected_sha256=sha(PAYLOAD),
                        on_progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == PAYLOAD
    assert result.sha256 == sha(PAYLOAD) and result.size == len(PAYLOAD)
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(seen) > 2
    assert_no_leftovers(dest)


def test_fetch_shows_a_rich_progress_bar(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    results = store.fetch(["demo"], tmp_path, progress=True, console=console, timeout=5.0,
                            catalog=_catalog(server, sha256=sha(PAYLOAD)))
    assert [r.state for r in results] == ["present"]
    text = out.getvalue()
    assert "demo.pth" in text
    assert "300.0/300.0 kB" in text


def test_checksum_mismatch_is_rejected_and_nothing_is_left(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError) as info:
        fetch_http(server, dest, expected_sha256="0" * 64)
    assert "sha256" in str(info.value) and "0" * 64 in str(info.value)
    assert not dest.exists()
    assert_no_leftovers(dest)


def test_mismatch_does_not_replace_an_existing_file(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    dest = tmp_path / "file.pth"
    dest.write_bytes(b"old contents")
    with pytest.raises(DownloadError):
        fetch_http(server, dest, expected_sha256="0" * 64)
    assert dest.read_bytes() == b"old contents"
    assert_no_leftovers(dest)


def test_announced_size_mismatch_is_rejected_before_saving(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError) as info:
        fetch_http(server, dest, expected_size=len(PAYLOAD) + 1)
    assert f"announces {len(PAYLOAD)} bytes, expected {len(PAYLOAD) + 1}" in str(info.value)
    assert not dest.exists()
    assert_no_leftovers(dest)


def test_a_web_page_is_not_saved_as_the_file(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_html(h, "<html><body>Sign in</body></html>")
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError) as info:
        fetch_http(server, dest)
    assert "web page" in str(info.value) and server.url("/file.pth") in str(info.value)
    assert not dest.exists()


# --- resume -------------------------------------------------------------------------------------


def test_cut_connection_is_resumed_with_range_in_the_same_call(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h, cut_after=CUT_AFTER if n == 0 else None)
    dest = tmp_path / "file.pth"
    fetch_http(server, dest, expected_sha256=sha(PAYLOAD))
    sent = server.headers_for("/file.pth")
    assert len(sent) == 2
    assert "Range" not in sent[0]
    assert sent[1]["Range"] == f"bytes={CUT_AFTER}-"
    assert dest.read_bytes() == PAYLOAD
    assert_no_leftovers(dest)


def test_partial_file_from_an_earlier_run_is_continued(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h, cut_after=CUT_AFTER if n == 0 else None)
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError) as info:
        fetch_http(server, dest, max_resumes=0)
    assert "partial file was left at" in str(info.value)
    assert dl.part_path(dest).read_bytes() == PAYLOAD[:CUT_AFTER]
    assert not dest.exists()

    fetch_http(server, dest, max_resumes=0)
    assert server.headers_for("/file.pth")[1]["Range"] == f"bytes={CUT_AFTER}-"
    assert dest.read_bytes() == PAYLOAD
    assert_no_leftovers(dest)


def test_partial_file_from_another_source_is_not_continued(server: Fake, tmp_path: Path) -> None:
    server.routes["/a.pth"] = lambda h, n: send_file(h, cut_after=CUT_AFTER)
    server.routes["/b.pth"] = lambda h, n: send_file(h)
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError):
        fetch_http(server, dest, path="/a.pth", max_resumes=0)
    assert dl.part_path(dest).exists()
    fetch_http(server, dest, path="/b.pth")
    assert "Range" not in server.headers_for("/b.pth")[0]
    assert dest.read_bytes() == PAYLOAD


def test_partial_file_survives_later_sources_that_fail_early(server: Fake, tmp_path: Path) -> None:
    server.routes["/a.pth"] = lambda h, n: send_file(h, cut_after=CUT_AFTER if n == 0 else None)
    dest = tmp_path / "file.pth"
    sources = [Source("http", server.url("/a.pth")), Source("http", server.url("/gone.pth"))]
    with pytest.raises(DownloadError):
        download(sources, dest, expected_size=None, expected_sha256=None, timeout=5.0, max_resumes=0)
    assert dl.part_path(dest).read_bytes() == PAYLOAD[:CUT_AFTER]
    download(sources, dest, expected_size=None, expected_sha256=sha(PAYLOAD), timeout=5.0, max_resumes=0)
    assert server.headers_for("/a.pth")[1]["Range"] == f"bytes={CUT_AFTER}-"
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h, honour_range=False,
                                                        cut_after=CUT_AFTER if n == 0 else None)
    dest = tmp_path / "file.pth"
    fetch_http(server, dest, expected_size=len(PAYLOAD), expected_sha256=sha(PAYLOAD))
    sent = server.headers_for("/file.pth")
    assert sent[1]["Range"] == f"bytes={CUT_AFTER}-"
    assert dest.read_bytes() == PAYLOAD
    assert_no_leftovers(dest)


def test_resume_follows_a_redirect_keeping_the_range(server: Fake, tmp_path: Path) -> None:
    def redirect(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(302)
        h.send_header("Location", server.url("/storage/file.pth"))
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/release/file.pth"] = redirect
    server.routes["/storage/file.pth"] = lambda h, n: send_file(h, cut_after=CUT_AFTER if n == 0 else None)
    dest = tmp_path / "file.pth"
    fetch_http(server, dest, path="/release/file.pth", expected_sha256=sha(PAYLOAD))
    assert server.headers_for("/storage/file.pth")[1]["Range"] == f"bytes={CUT_AFTER}-"
    assert dest.read_bytes() == PAYLOAD


def test_complete_part_answered_with_416_is_verified_and_kept(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h, cut_after=len(PAYLOAD) if n == 0 else None)
    dest = tmp_path / "file.pth"
    dl.part_path(dest).write_bytes(PAYLOAD)
    dl.origin_path(dest).write_text(Source("http", server.url("/file.pth")).key())
    fetch_http(server, dest, expected_sha256=sha(PAYLOAD))
    assert server.headers_for("/file.pth")[0]["Range"] == f"bytes={len(PAYLOAD)}-"
    assert dest.read_bytes() == PAYLOAD


def test_bad_resumed_file_is_downloaded_again_from_zero(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    dest = tmp_path / "file.pth"
    dl.part_path(dest).write_bytes(b"\x00" * CUT_AFTER)  # a damaged partial file from the same source
    dl.origin_path(dest).write_text(Source("http", server.url("/file.pth")).key())
    fetch_http(server, dest, expected_sha256=sha(PAYLOAD))
    sent = server.headers_for("/file.pth")
    assert sent[0]["Range"] == f"bytes={CUT_AFTER}-" and "Range" not in sent[1]
    assert dest.read_bytes() == PAYLOAD


# --- errors -------------------------------------------------------------------------------------


def test_404_names_the_url_and_the_status(server: Fake, tmp_path: Path) -> None:
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError) as info:
        download([Source("http", server.url("/missing.pth"))], dest, expected_size=None, expected_sha256=None,
                 timeout=5.0)
    text = str(info.value)
    assert server.url("/missing.pth") in text and "404" in text
    assert "by hand" in text and str(dest) in text
    assert not dest.exists()


def test_timeout_is_reported_clearly(server: Fake, tmp_path: Path) -> None:
    server.routes["/slow.pth"] = lambda h, n: server.release.wait(RELEASE_WAIT_S)
    dest = tmp_path / "file.pth"
    with pytest.raises(DownloadError) as info:
        fetch_http(server, dest, path="/slow.pth", timeout=0.5)
    text = str(info.value)
    assert "timed out after 0.5 s" in text and server.url("/slow.pth") in text
    assert "--timeout" in text
    assert not dest.exists()


def test_mirror_fallback_uses_the_next_source(server: Fake, tmp_path: Path) -> None:
    server.routes["/mirror.pth"] = lambda h, n: send_file(h)
    dest = tmp_path / "file.pth"
    result = download([Source("http", server.url("/gone.pth")), Source("http", server.url("/mirror.pth"))], dest,
                      expected_size=len(PAYLOAD), expected_sha256=sha(PAYLOAD), timeout=5.0)
    assert result.url == server.url("/mirror.pth")
    assert [urlsplit(p).path for p, _ in server.requests] == ["/gone.pth", "/mirror.pth"]
    assert dest.read_bytes() == PAYLOAD


def test_final_error_lists_every_url_tried(server: Fake, tmp_path: Path) -> None:
    server.routes["/bad.pth"] = lambda h, n: send_file(h, b"something else")
    sources = [Source("http", server.url("/gone.pth")), Source("http", server.url("/bad.pth"))]
    with pytest.raises(DownloadError) as info:
        download(sources, tmp_path / "file.pth", expected_size=None, expected_sha256=sha(PAYLOAD), timeout=5.0)
    text = str(info.value)
    assert "any of its 2 source(s)" in text
    lines = text.splitlines()
    assert any(server.url("/gone.pth") in line and "HTTP 404" in line for line in lines)
    assert any(server.url("/bad.pth") in line and "sha256" in line for line in lines)
    assert "vcamstyle weights verify" in (info.value.hint or "")


def test_only_http_urls_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        download_from_source(Source("http", f"file://{tmp_path}/x"), tmp_path / "x.pth", expected_size=None,
                             expected_sha256=None, timeout=1.0)
    assert "only http and https" in str(info.value)


# --- Google Drive -------------------------------------------------------------------------------

WARNING_FORM = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<p>Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="{action}" method="get">
<input type="submit" value="Download anyway"/>
<input type="hidden" name="id" value="FILEID"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="a1b2-c3">
</form></body></html>"""


def test_gdrive_confirmation_form_flow(server: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "GDRIVE_DOWNLOAD_URL", server.url("/uc"))
    server.routes["/uc"] = lambda h, n: send_html(h, WARNING_FORM.format(action=server.url("/download")))

    def usercontent(h: BaseHTTPRequestHandler, n: int) -> None:
        query = parse_qs(urlsplit(h.path).query)
        if query.get("confirm") == ["t"] and query.get("uuid") == ["a1b2-c3"] and query.get("id") == ["FILEID"]:
            send_file(h)
        else:
            h.send_error(403)

    server.routes["/download"] = usercontent
    dest = tmp_path / "UNet_ResNet18.pth"
    download_from_source(Source("gdrive", "FILEID"), dest, expected_size=None, expected_sha256=sha(PAYLOAD),
                         timeout=5.0)
    assert dest.read_bytes() == PAYLOAD
    first = urlsplit(server.requests[0][0])
    assert first.path == "/uc" and parse_qs(first.query) == {"export": ["download"], "id": ["FILEID"]}


def test_gdrive_cookie_token_flow(server: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "GDRIVE_DOWNLOAD_URL", server.url("/uc"))

    def uc(h: BaseHTTPRequestHandler, n: int) -> None:
        query = parse_qs(urlsplit(h.path).query)
        if query.get("confirm") == ["Tk9_x"] and "download_warning_1=Tk9_x" in h.headers.get("Cookie", ""):
            send_file(h)
        else:
            send_html(h, "<html><body>This file is too large to scan.</body></html>",
                      {"Set-Cookie": "download_warning_1=Tk9_x; Path=/"})

    server.routes["/uc"] = uc
    dest = tmp_path / "f.pth"
    download_from_source(Source("gdrive", "FILEID"), dest, expected_size=None, expected_sha256=None, timeout=5.0)
    assert dest.read_bytes() == PAYLOAD


def test_gdrive_small_file_served_directly(server: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "GDRIVE_DOWNLOAD_URL", server.url("/uc"))
    server.routes["/uc"] = lambda h, n: send_file(h)
    dest = tmp_path / "f.pth"
    download_from_source(Source("gdrive", "FILEID"), dest, expected_size=None, expected_sha256=sha(PAYLOAD),
                         timeout=5.0)
    assert dest.read_bytes() == PAYLOAD


def test_gdrive_quota_page_is_reported(server: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "GDRIVE_DOWNLOAD_URL", server.url("/uc"))
    server.routes["/uc"] = lambda h, n: send_html(
        h, "<html><body>Too many users have viewed or downloaded this file recently.</body></html>")
    with pytest.raises(DownloadError) as info:
        download_from_source(Source("gdrive", "FILEID"), tmp_path / "f.pth", expected_size=None,
                             expected_sha256=None, timeout=5.0)
    assert "quota" in str(info.value) and server.url("/uc") in str(info.value)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ('<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbC1&amp;id=FILEID">Download anyway</a>',
         "https://drive.google.com/uc?export=download&confirm=AbC1&id=FILEID"),
        ("<script>var u = '/x?confirm=Zz_9-';</script>",
         "https://drive.google.com/uc?export=download&id=FILEID&confirm=Zz_9-"),
        (WARNING_FORM.format(action="https://drive.usercontent.google.com/download"),
         "https://drive.usercontent.google.com/download?id=FILEID&export=download&confirm=t&uuid=a1b2-c3"),
        ("<html><body>Sign in to continue</body></html>", None),
    ],
)
def test_parse_gdrive_confirmation(page: str, expected: str | None) -> None:
    assert parse_gdrive_confirmation(page, "https://drive.google.com/uc?export=download&id=FILEID", "FILEID") \
        == expected


def test_parse_gdrive_confirmation_falls_back_to_the_cookie() -> None:
    url = parse_gdrive_confirmation("<p>too large</p>", "https://drive.google.com/uc", "FILEID", "TOK")
    assert url == "https://drive.google.com/uc?export=download&id=FILEID&confirm=TOK"


# --- Yandex Disk --------------------------------------------------------------------------------


def test_yandex_public_link_flow(server: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "YANDEX_PUBLIC_DOWNLOAD_API", server.url("/v1/disk/public/resources/download"))
    server.routes["/v1/disk/public/resources/download"] = lambda h, n: send_json(
        h, {"href": server.url("/disk/decoder?sig=1"), "method": "GET", "templated": False})
    server.routes["/disk/decoder"] = lambda h, n: send_file(h, cut_after=CUT_AFTER if n == 0 else None)
    dest = tmp_path / "decoder_iter_500000.pth"
    download_from_source(Source("yandex", "https://yadi.sk/d/xsZ7j6FhK1dmfQ"), dest, expected_size=None,
                         expected_sha256=sha(PAYLOAD), timeout=5.0)
    api_query = parse_qs(urlsplit(server.requests[0][0]).query)
    assert api_query == {"public_key": ["https://yadi.sk/d/xsZ7j6FhK1dmfQ"]}
    assert server.headers_for("/disk/decoder")[1]["Range"] == f"bytes={CUT_AFTER}-"
    assert dest.read_bytes() == PAYLOAD


def test_yandex_api_error_is_explained(server: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "YANDEX_PUBLIC_DOWNLOAD_API", server.url("/api"))
    server.routes["/api"] = lambda h, n: send_json(h, {"error": "DiskNotFoundError",
                                                       "description": "Resource not found."}, status=404)
    with pytest.raises(DownloadError) as info:
        download_from_source(Source("yandex", "https://yadi.sk/d/gone"), tmp_path / "f.pth", expected_size=None,
                             expected_sha256=None, timeout=5.0)
    text = str(info.value)
    assert "HTTP 404" in text and "Resource not found." in text and "Yandex Disk API" in text


# --- store.fetch: trust on first download -----------------------------------------------------


def _catalog(server: Fake, sha256: str | None = None, path: str = "/file.pth") -> store.Catalog:
    entry = store.WeightFile(filename="demo.pth", models=("demo",), description="test file", size_bytes=None,
                               approx_size_bytes=None, sha256=sha256, licence="test", origin_repo="test",
                               sources=(Source("http", server.url(path)),))
    return store.Catalog(files=(entry,))


def _checkpoint_bytes() -> bytes:
    """A real (small) PyTorch checkpoint: a state_dict of tensors in the zip format."""
    import torch

    buffer = io.BytesIO()
    torch.save({"layer.weight": torch.randn(300, 250, generator=torch.Generator().manual_seed(0))}, buffer)
    return buffer.getvalue()


def test_first_download_records_checksum_and_later_corruption_is_detected(server: Fake, tmp_path: Path) -> None:
    checkpoint = _checkpoint_bytes()
    server.routes["/file.pth"] = lambda h, n: send_file(h, checkpoint)
    catalog = _catalog(server)
    [fetched] = store.fetch(["demo"], tmp_path, progress=False, timeout=5.0, catalog=catalog)
    assert fetched.state == "present" and "recorded" in fetched.note
    record_file = tmp_path / store.CHECKSUMS_FILENAME
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    assert store.read_recorded(tmp_path)["demo.pth"]["sha256"] == sha(checkpoint)
    assert [s.state for s in store.list_status(tmp_path, catalog)] == ["present"]

    damaged = bytearray(checkpoint)
    damaged[len(checkpoint) // 2] ^= 0xFF
    (tmp_path / "demo.pth").write_bytes(bytes(damaged))
    [status] = store.list_status(tmp_path, catalog)
    assert status.state == "corrupt" and "recorded" in status.note
    assert [s.state for s in store.verify(tmp_path, catalog)] == ["corrupt"]

    [again] = store.fetch(["demo.pth"], tmp_path, progress=False, timeout=5.0, catalog=catalog)
    assert again.state == "present" and "recorded" in again.note
    assert (tmp_path / "demo.pth").read_bytes() == checkpoint


GDRIVE_WARNING = (b"<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>"
                  b"<p>Google Drive can't scan this file for viruses.</p><form id=\"download-form\" "
                  b"action=\"https://drive.usercontent.google.com/download\"></form></body></html>")


@pytest.mark.parametrize("served, words", [
    (GDRIVE_WARNING, "an HTML page, not a checkpoint (Google Drive"),
    (b'{"error": {"code": 403, "message": "rate limit"}}', "a text file, not a checkpoint"),
])
def test_a_first_download_that_is_not_a_checkpoint_is_never_recorded(server: Fake, tmp_path: Path,
                                                                       served: bytes, words: str) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h, served, content_type="application/octet-stream")
    with pytest.raises(DownloadError) as info:
        store.fetch(["demo"], tmp_path, progress=False, timeout=5.0, catalog=_catalog(server))
    assert words in str(info.value) and "nothing recorded" in str(info.value)
    assert not (tmp_path / "demo.pth").exists()
    assert store.read_recorded(tmp_path) == {}


def test_redownload_that_differs_from_the_record_is_rejected(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    catalog = _catalog(server)
    store.record_checksum(tmp_path, "demo.pth", "1" * 64, len(PAYLOAD), origin="test")
    with pytest.raises(DownloadError) as info:
        store.fetch(["demo"], tmp_path, progress=False, timeout=5.0, catalog=catalog)
    assert "recorded on the first download" in str(info.value)
    assert store.CHECKSUMS_FILENAME in (info.value.hint or "")
    assert not (tmp_path / "demo.pth").exists()


def test_present_file_is_not_downloaded_again(server: Fake, tmp_path: Path) -> None:
    server.routes["/file.pth"] = lambda h, n: send_file(h)
    catalog = _catalog(server, sha256=sha(PAYLOAD))
    (tmp_path / "demo.pth").write_bytes(PAYLOAD)
    [status] = store.fetch(["demo"], tmp_path, progress=False, timeout=5.0, catalog=catalog)
    assert status.state == "present" and status.note.startswith("already present")
    assert server.requests == []
