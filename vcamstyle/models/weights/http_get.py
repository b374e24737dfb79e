"""HTTP(S) GET for the weights downloader: one request, every failure a DownloadError naming the fix.

Standard library only (urllib). Only http and https URLs are followed; bodies are never decoded here.
"""

from __future__ import annotations

import http.client
import json
import logging
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import OpenerDirector, Request

from vcamstyle.errors import DownloadError

log = logging.getLogger(__name__)

USER_AGENT = "vcamstyle-weights-fetch/0.1"


def require_web_url(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(f"refusing to download from {url!r}: only http and https URLs are allowed",
                            hint="fix the URL in the weights catalog")
    return url


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    headers.update(extra or {})
    return headers


def _http_hint(code: int) -> str:
    if code in (404, 410):
        return "the file is no longer at this address; other sources are tried in turn, or download it by hand"
    if code in (401, 403, 429):
        return "access denied or rate-limited (Google Drive quotas do this); wait and try again later"
    if code >= 500:
        return "the server failed; try again later"
    return "check the URL in a browser"


def open_url(opener: OpenerDirector, url: str, timeout: float, headers: dict[str, str] | None = None,
          what: str = "") -> http.client.HTTPResponse:
    """GET ``url``; every failure becomes a DownloadError naming the URL, the cause and the fix."""
    require_web_url(url)
    label = f"{what} {url}".strip()
    try:
        return opener.open(Request(url, headers=_headers(headers)), timeout=timeout)
    except HTTPError as err:
        detail = _error_body(err)
        raise DownloadError(f"HTTP {err.code} {err.reason} from {label}{detail}", hint=_http_hint(err.code)) from err
    except TimeoutError as err:
        raise DownloadError(f"timed out after {timeout:g} s waiting for {label}",
                            hint="check the network connection, or allow more time (--timeout)") from err
    except URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise DownloadError(f"timed out after {timeout:g} s connecting to {label}",
                                hint="check the network connection, or allow more time (--timeout)") from err
        raise DownloadError(f"cannot reach {label}: {err.reason}",
                            hint="check the network connection and proxy settings") from err
    except (http.client.HTTPException, OSError) as err:
        raise DownloadError(f"connection to {label} failed: {err!r}", hint="try again later") from err


def _error_body(err: HTTPError) -> str:
    """A short reason from a JSON error body (Yandex answers ``{"description": ...}``), else ''."""
    try:
        body = err.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        log.debug("could not read the error body of %s: %r", err.url, exc)
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict):
        text = data.get("description") or data.get("message") or data.get("error")
        if isinstance(text, str) and text:
            return f" ({text})"
    return ""


def is_web_page(response: http.client.HTTPResponse) -> bool:
    return response.headers.get_content_type() in ("text/html", "application/xhtml+xml")
