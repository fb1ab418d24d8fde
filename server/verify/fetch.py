"""Plain HTTP for revocation data and CA certificates: http(s) only, timeouts, size caps."""

from __future__ import annotations

import requests


class FetchError(Exception):
    """The URL gave no usable answer (unreachable, timed out, HTTP error, too large)."""


def _read(response: requests.Response, max_bytes: int) -> bytes:
    with response:
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        body = bytearray()
        for chunk in response.iter_content(65536):
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"answer larger than {max_bytes} bytes")
        return bytes(body)


def _check_url(url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"not an http(s) URL: {url!r}")


def http_get(url: str, timeout: float, max_bytes: int) -> bytes:
    _check_url(url)
    try:
        return _read(requests.get(url, timeout=timeout, stream=True, allow_redirects=False),
                     max_bytes)
    except requests.RequestException as e:
        raise FetchError(f"no answer ({e.__class__.__name__})") from None


def http_post(url: str, body: bytes, content_type: str, timeout: float, max_bytes: int) -> bytes:
    _check_url(url)
    try:
        return _read(requests.post(url, data=body, headers={"Content-Type": content_type},
                                   timeout=timeout, stream=True, allow_redirects=False),
                     max_bytes)
    except requests.RequestException as e:
        raise FetchError(f"no answer ({e.__class__.__name__})") from None
