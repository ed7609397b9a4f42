"""Fetching a page that a user linked to, without letting the link reach inside our network.

A pasted URL is untrusted input that makes our server open a connection, so every hop is
checked before it is made: the scheme (http or https), no credentials in the URL, and every
address the host resolves to (no loopback, private, link-local, multicast, reserved or
unspecified address, also not when wrapped in IPv6). The connection then goes to an address
that was checked rather than to the name, so that a DNS answer that changes between the
check and the connection (DNS rebinding) cannot slip a private address in; the Host header
and TLS (SNI and certificate check) still use the name.

Redirects are followed here, not by httpx, so that each one is checked the same way. The body
is streamed and cut off at `max_bytes`, and one deadline covers the whole fetch. Proxy
settings from the environment are ignored: a proxy would resolve the name itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from dataclasses import dataclass

import httpx

from crm.i18n import N_

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
# Addresses of one host tried in turn when a connection is refused (an IPv6 address first,
# with no IPv6 route, is common).
_MAX_ADDRESSES = 4
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Special-purpose blocks that some Python versions still call global.
_ALSO_INTERNAL = [
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("64:ff9b:1::/48"),
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class FetchError(Exception):
    """`exc.args[0]` is a message fit to show the user (`N_`, translated where shown; `str(exc)`
    is its English), short and without stack details."""


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL after redirects
    status: int  # 200, or 304 when not modified
    content_type: str  # e.g. "text/html; charset=windows-1250"
    etag: str
    last_modified: str
    body: bytes  # b"" for 304


async def fetch(
    url: str,
    *,
    accept: str = "text/html,application/xhtml+xml",
    max_bytes: int = 3_000_000,
    # The callers (a web request, the feed poller) want one number, not a context manager.
    timeout: float = 10.0,  # noqa: ASYNC109
    allow_private: bool = False,
    etag: str = "",
    last_modified: str = "",
    user_agent: str = "Beatbook/0.1 (+coverage)",
) -> Fetched:
    """GET `url`, following up to five checked redirects; raises only `FetchError`."""
    # No compression: a few hundred compressed bytes can unpack to gigabytes before the size
    # limit sees them.
    headers = {
        "User-Agent": _header_value(user_agent),
        "Accept": _header_value(accept),
        "Accept-Encoding": "identity",
    }
    # Validators come back from earlier answers; one that cannot be sent is left out.
    if _header_value(etag):
        headers["If-None-Match"] = etag
    if _header_value(last_modified):
        headers["If-Modified-Since"] = last_modified
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
            ) as client,
        ):
            fetched = await _follow(
                client, url, headers=headers, max_bytes=max_bytes, allow_private=allow_private
            )
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError(N_("The page took too long to answer.")) from None
    except httpx.ConnectError:
        raise FetchError(N_("The site could not be reached.")) from None
    except (httpx.HTTPError, httpx.InvalidURL):
        raise FetchError(N_("The site's answer could not be read.")) from None
    if fetched.status == 304:
        # Validators the server left out of a 304 are still the ones the caller holds.
        return Fetched(
            url=fetched.url,
            status=304,
            content_type=fetched.content_type,
            etag=fetched.etag or etag,
            last_modified=fetched.last_modified or last_modified,
            body=b"",
        )
    return fetched


async def _follow(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str],
    max_bytes: int,
    allow_private: bool,
) -> Fetched:
    current = _checked_url(url)
    for _hop in range(MAX_REDIRECTS + 1):
        addresses = await _resolve(current, allow_private=allow_private)
        response = await _open(client, current, addresses, headers)
        try:
            status = response.status_code
            if status in _REDIRECTS:
                location = response.headers.get("Location", "").strip()
                if not location:
                    raise FetchError(
                        N_(
                            "The page answered %(status)s without saying where to go.",
                            status=status,
                        )
                    )
                current = _checked_url(location, base=current)
                continue
            if status == 304:
                return _fetched(current, response, b"")
            if not 200 <= status < 300:
                raise FetchError(N_("The page answered %(status)s.", status=status))
            return _fetched(current, response, await _read(response, max_bytes))
        finally:
            await response.aclose()
    raise FetchError(N_("The link redirects too many times."))


def _checked_url(url: str, *, base: httpx.URL | None = None) -> httpx.URL:
    """The URL, if it is one we may fetch; relative to `base` for a redirect."""
    try:
        parsed = base.join(url.strip()) if base is not None else httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise FetchError(N_("That is not a valid link.")) from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError(N_("Only http and https links can be fetched."))
    if parsed.userinfo:
        raise FetchError(N_("Links with a user name or password cannot be fetched."))
    if not parsed.raw_host:
        raise FetchError(N_("That is not a valid link."))
    return parsed


async def _resolve(url: httpx.URL, *, allow_private: bool) -> list[str]:
    """The host's addresses, all of them checked: one bad address refuses the link."""
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(N_("The site %(host)s could not be found.", host=url.host))
    if not allow_private and any(_is_internal(ipaddress.ip_address(a)) for a in addresses):
        raise FetchError(N_("Links to private or local network addresses cannot be fetched."))
    return addresses


def _is_internal(address: _IPAddress) -> bool:
    """Whether the address is anything but a public unicast one, seen through IPv6 wrappers."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: _IPAddress | None = address.ipv4_mapped or address.sixtofour
        if address.teredo:
            embedded = address.teredo[1]
        if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and _is_internal(embedded):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or any(address in network for network in _ALSO_INTERNAL)
    )


async def _open(
    client: httpx.AsyncClient, url: httpx.URL, addresses: list[str], headers: dict[str, str]
) -> httpx.Response:
    """Send the GET to the first checked address that takes the connection."""
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    request_headers = {**headers, "Host": url.netloc.decode("ascii")}
    refused: httpx.ConnectError | None = None
    for address in addresses[:_MAX_ADDRESSES]:
        request = client.build_request(
            "GET",
            url.copy_with(host=address.partition("%")[0]),
            headers=request_headers,
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as error:
            refused = error
    assert refused is not None
    raise refused


async def _read(response: httpx.Response, max_bytes: int) -> bytes:
    too_large = FetchError(
        N_("The page is larger than %(size)s, too large to read.", size=_size(max_bytes))
    )
    try:
        declared = int(response.headers.get("Content-Length", ""))
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise too_large
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise FetchError(N_("The site sent the page compressed in a way Beatbook cannot read."))
    # Read raw and unpack here, at most max_bytes: a few compressed bytes can unpack to
    # gigabytes (a server may compress though it was asked not to).
    unpack = None
    if encoding in ("gzip", "x-gzip"):
        unpack = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        unpack = zlib.decompressobj()
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            if unpack is not None:
                chunk = unpack.decompress(chunk, max_bytes + 1 - len(body))
            body += chunk
            if len(body) > max_bytes or (unpack is not None and unpack.unconsumed_tail):
                raise too_large
    except zlib.error:
        raise FetchError(N_("The site's answer could not be read.")) from None
    return bytes(body)


def _fetched(url: httpx.URL, response: httpx.Response, body: bytes) -> Fetched:
    return Fetched(
        url=str(url),
        status=response.status_code,
        content_type=response.headers.get("Content-Type", ""),
        etag=response.headers.get("ETag", ""),
        last_modified=response.headers.get("Last-Modified", ""),
        body=body,
    )


def _header_value(value: str) -> str:
    """The value if it can go in a header as it is (printable ASCII), else ""."""
    return value if value.isascii() and value.isprintable() else ""


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"
