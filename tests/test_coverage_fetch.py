"""Fetching a linked page: against a real HTTP server on loopback, and refusing what a pasted
link must not make our server reach (other schemes, credentials, private addresses)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outreach.coverage import fetch as fetch_module
from outreach.coverage.fetch import FetchError, fetch
from outreach.coverage.pages import read_page
from tests.http_server import HttpServer, running

PAGE = Path(__file__).parent / "fixtures" / "coverage" / "pages" / "koha_wordpress_yoast.html"
LEGACY = Path(__file__).parent / "fixtures" / "coverage" / "pages" / "zurnal_windows1250.html"
HTML = {"Content-Type": "text/html; charset=UTF-8"}


@pytest.fixture
def site() -> Iterator[HttpServer]:
    with running() as server:
        yield server


@pytest.fixture
def public_site(site: HttpServer, monkeypatch: pytest.MonkeyPatch) -> HttpServer:
    """The test server as if it were on the internet: only 127.0.0.1 stops being private."""
    checks = fetch_module._is_internal

    def is_internal(address: Any) -> bool:
        return str(address) != "127.0.0.1" and checks(address)

    monkeypatch.setattr(fetch_module, "_is_internal", is_internal)
    return site


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> None:
    """Resolve the given names to the given addresses (and others as usual), without DNS."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            if not names[host]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


async def test_fetches_a_page_with_its_validators(site: HttpServer) -> None:
    site.serve(
        "/arberi/412870/",
        body=PAGE.read_bytes(),
        headers={**HTML, "Last-Modified": "Thu, 14 Mar 2024 10:05:41 GMT"},
        etag='"v1"',
    )

    fetched = await fetch(site.url("/arberi/412870/"), allow_private=True)

    assert fetched.status == 200
    assert fetched.url == site.url("/arberi/412870/")
    assert fetched.body == PAGE.read_bytes()
    assert fetched.content_type == "text/html; charset=UTF-8"
    assert fetched.etag == '"v1"'
    assert fetched.last_modified == "Thu, 14 Mar 2024 10:05:41 GMT"
    [request] = site.requests
    assert request.headers["user-agent"] == "Beatbook/0.1 (+coverage)"
    assert request.headers["accept"] == "text/html,application/xhtml+xml"
    assert request.headers["host"] == f"127.0.0.1:{site.port}"
    assert "if-none-match" not in request.headers


async def test_fetched_legacy_page_is_read_with_its_charset(site: HttpServer) -> None:
    site.serve(
        "/vest.php", body=LEGACY.read_bytes(), headers={"Content-Type": "text/html; charset=cp1250"}
    )

    fetched = await fetch(site.url("/vest.php"), allow_private=True)
    page = read_page(fetched.body, url=fetched.url, content_type=fetched.content_type)

    # (The " - Kosovski žurnal" suffix stays: 127.0.0.1 is not the outlet's domain.)
    assert page.headline.startswith("Građani čekaju, sudovi ćute: šest godina za jednu žalbu")


async def test_follows_redirects_and_reports_the_final_url(site: HttpServer) -> None:
    site.redirect("/?p=412870", "/arberi/412870", status=301)
    site.redirect("/arberi/412870", site.url("/arberi/412870/"), status=308)
    site.serve("/arberi/412870/", body="<title>Raporti</title>", headers=HTML)

    fetched = await fetch(site.url("/?p=412870"), allow_private=True)

    assert fetched.url == site.url("/arberi/412870/")
    assert fetched.body == b"<title>Raporti</title>"
    assert [r.path for r in site.requests] == ["/?p=412870", "/arberi/412870", "/arberi/412870/"]


async def test_gives_up_after_five_redirects(site: HttpServer) -> None:
    site.redirect("/loop", "/loop")

    with pytest.raises(FetchError, match="redirects too many times"):
        await fetch(site.url("/loop"), allow_private=True)

    assert len(site.requests) == 6


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://192.168.1.1/admin",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",  # 127.0.0.1 written as one number
        "http://localhost/",
        "https://localhost:8443/",
    ],
)
async def test_refuses_private_and_local_addresses(url: str) -> None:
    with pytest.raises(FetchError, match="private or local network"):
        await fetch(url, timeout=2)


async def test_refuses_the_loopback_server_unless_allowed(site: HttpServer) -> None:
    site.serve("/", body="<title>x</title>", headers=HTML)

    with pytest.raises(FetchError, match="private or local network"):
        await fetch(site.url("/"))

    assert site.requests == []


async def test_refuses_a_redirect_to_a_private_address(public_site: HttpServer) -> None:
    public_site.redirect("/go", "http://169.254.169.254/latest/meta-data/")

    with pytest.raises(FetchError, match="private or local network"):
        await fetch(public_site.url("/go"))


async def test_refuses_a_redirect_to_another_scheme(public_site: HttpServer) -> None:
    public_site.redirect("/go", "file:///etc/passwd")

    with pytest.raises(FetchError, match="Only http and https"):
        await fetch(public_site.url("/go"))


async def test_refuses_a_name_with_any_private_address(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)

    with pytest.raises(FetchError, match="private or local network"):
        await fetch("https://news.example/article")


async def test_connects_to_the_checked_address_and_names_the_host(
    site: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"news.example": "127.0.0.1"})
    site.serve("/lajm", body="<title>x</title>", headers=HTML)

    fetched = await fetch(f"http://news.example:{site.port}/lajm", allow_private=True)

    assert fetched.url == f"http://news.example:{site.port}/lajm"
    assert site.requests[0].headers["host"] == f"news.example:{site.port}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://ftp.koha.net/raporti.pdf", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("javascript:alert(1)", "Only http and https"),
        ("www.koha.net/arberi/412870/", "Only http and https"),
        ("http://redaksia:sekret@www.koha.net/", "user name or password"),
        ("http:///arberi", "not a valid link"),
        ("http://[::1/", "not a valid link"),
    ],
)
async def test_refuses_links_that_are_not_web_pages(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        await fetch(url)


async def test_unknown_host_is_reported_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"lajme.example": ""})

    with pytest.raises(FetchError, match="The site lajme.example could not be found."):
        await fetch("https://lajme.example/")


async def test_stops_reading_past_max_bytes(site: HttpServer) -> None:
    site.serve("/huge", stream=10_000_000, headers=HTML)
    site.serve("/declared", body=b"x" * 200_000, headers=HTML)

    with pytest.raises(FetchError, match="larger than 100 kB"):
        await fetch(site.url("/huge"), max_bytes=100_000, allow_private=True)
    with pytest.raises(FetchError, match="larger than 100 kB"):
        await fetch(site.url("/declared"), max_bytes=100_000, allow_private=True)


async def test_times_out_on_a_slow_page(site: HttpServer) -> None:
    site.serve("/slow", body="<title>x</title>", headers=HTML, delay=5)
    started = time.monotonic()

    with pytest.raises(FetchError, match="took too long"):
        await fetch(site.url("/slow"), timeout=0.5, allow_private=True)

    assert time.monotonic() - started < 2


@pytest.mark.parametrize("status", [404, 500])
async def test_http_errors_name_the_status(site: HttpServer, status: int) -> None:
    site.serve("/lajm", status=status, body="<h1>Gabim</h1>", headers=HTML)

    with pytest.raises(FetchError, match=f"^The page answered {status}.$"):
        await fetch(site.url("/lajm"), allow_private=True)


async def test_nothing_listening_is_reported_plainly(site: HttpServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    with pytest.raises(FetchError, match="could not be reached"):
        await fetch(f"http://127.0.0.1:{port}/", allow_private=True)


async def test_not_modified_with_etag_returns_304_and_no_body(site: HttpServer) -> None:
    site.serve("/feed", body="<rss/>", headers={"Content-Type": "application/rss+xml"}, etag='"v7"')

    fetched = await fetch(
        site.url("/feed"),
        accept="application/rss+xml, application/atom+xml",
        etag='"v7"',
        last_modified="Thu, 14 Mar 2024 10:05:41 GMT",
        allow_private=True,
    )

    assert fetched.status == 304
    assert fetched.body == b""
    assert fetched.etag == '"v7"'
    assert fetched.last_modified == "Thu, 14 Mar 2024 10:05:41 GMT"
    [request] = site.requests
    assert request.headers["if-none-match"] == '"v7"'
    assert request.headers["if-modified-since"] == "Thu, 14 Mar 2024 10:05:41 GMT"
    assert request.headers["accept"] == "application/rss+xml, application/atom+xml"


async def test_changed_page_comes_back_whole_despite_an_old_etag(site: HttpServer) -> None:
    site.serve("/feed", body="<rss/>", headers={"Content-Type": "application/rss+xml"}, etag='"v8"')

    fetched = await fetch(site.url("/feed"), etag='"v7"', allow_private=True)

    assert fetched.status == 200
    assert fetched.body == b"<rss/>"
    assert fetched.etag == '"v8"'


async def test_a_compressed_page_is_unpacked_only_up_to_the_limit(site: HttpServer) -> None:
    # Asked for no compression, a server may compress anyway: a page is still read, and a
    # few kilobytes that unpack to 50 MB are refused before they are unpacked.
    html = PAGE.read_bytes()
    site.serve("/gz", body=gzip.compress(html), headers={"Content-Encoding": "gzip"})
    got = await fetch(site.url("/gz"), allow_private=True)
    assert got.body == html
    assert site.requests_to("/gz")[0].headers["accept-encoding"] == "identity"
    bomb = gzip.compress(b"<div>" * 10_000_000)
    assert len(bomb) < 200_000
    site.serve("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="too large"):
        await fetch(site.url("/bomb"), allow_private=True, max_bytes=1_000_000)
    site.serve("/br", body=b"\x1b\x00", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="compressed"):
        await fetch(site.url("/br"), allow_private=True)
