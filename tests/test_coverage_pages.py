"""Reading published articles for the coverage form, from pages shaped like the outlets' own.

The fixtures in tests/fixtures/coverage/pages are written by hand after real pages: a
WordPress + Yoast Albanian portal, a Serbian Latin and a Serbian Cyrillic news site, a TV
site with almost no metadata, a legacy windows-1250 page, an English regional outlet and a
page with broken markup and broken JSON-LD.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from outreach.coverage.pages import PageMeta, read_page

PAGES = Path(__file__).parent / "fixtures" / "coverage" / "pages"


@dataclass(frozen=True)
class Expected:
    url: str
    headline: str
    site_name: str
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str


KOHA = "https://www.koha.net/arberi/412870/qendra-per-drejtesi-gjykatat-vonojne-mbi-40-mije-lende/"
N1 = "https://n1info.rs/vesti/centar-za-pravdu-na-kosovu-vise-od-40000-predmeta-ceka-prvo-rociste/"
GLASNIK = "https://www.glasnik-kim.rs/drustvo/centar-za-pravdu-gradjani-na-kosovu-godinama-cekaju-na-sudjenje"
RTK = "https://www.rtklive.com/sq/lajme/123456"
ZURNAL = "http://www.kosovskizurnal.net/index.php?kat=2&id=18342"
BIRN = "https://balkaninsight.com/2024/03/14/kosovo-courts-sit-on-40000-cases-for-years-justice-ngo-warns/"
LAJMI = "https://lajmiyne.info/lajme/2024/03/qendra-per-drejtesi"

FIXTURES = {
    "koha_wordpress_yoast.html": Expected(
        url=KOHA,
        headline=(
            "Qendra për Drejtësi: Gjykatat vonojnë mbi 40 mijë lëndë, qytetarët presin me vite"
        ),
        site_name="Koha.net",
        authors=("Arbëresha Gashi",),
        published_at=datetime(2024, 3, 14, 9, 32, 5, tzinfo=UTC),
        language="sq",
    ),
    "n1_serbian_latin.html": Expected(
        url=N1,
        headline=(
            "Centar za pravdu: Na Kosovu više od 40.000 predmeta čeka prvo ročište "
            "duže od dve godine"
        ),
        site_name="N1 Info",
        authors=("Milica Jovanović", "Stefan Petrović"),
        published_at=datetime(2024, 3, 14, 11, 15, tzinfo=UTC),
        language="sr-Latn",
    ),
    "glasnik_serbian_cyrillic.html": Expected(
        url=GLASNIK,
        headline="Центар за правду: Грађани на Косову годинама чекају на суђење",
        site_name="Гласник",
        authors=("Јована Стојановић", "Марко Петровић"),
        published_at=datetime(2024, 3, 15, 7, 0, tzinfo=UTC),
        language="sr-Cyrl",
    ),
    "rtk_minimal.html": Expected(
        url=RTK,
        headline="Qendra për Drejtësi: Mbi 40 mijë lëndë presin seancën e parë",
        site_name="",
        authors=(),
        published_at=datetime(2024, 3, 14, 13, 20, tzinfo=UTC),
        language="sq",
    ),
    "zurnal_windows1250.html": Expected(
        url=ZURNAL,
        headline="Građani čekaju, sudovi ćute: šest godina za jednu žalbu",
        site_name="",
        authors=("Dragan Nikolić",),
        published_at=datetime(2024, 3, 14, 9, 45, tzinfo=UTC),
        language="sr-Latn",
    ),
    "balkan_insight_english.html": Expected(
        url=BIRN,
        headline="Kosovo Courts Sit on 40,000 Cases for Years, Justice NGO Warns",
        site_name="Balkan Insight",
        authors=("Jeta Morina", "Milan Radić"),
        published_at=datetime(2024, 3, 14, 15, 45, tzinfo=UTC),
        language="en",
    ),
    "broken_markup.html": Expected(
        url=LAJMI,
        headline="Qendra për Drejtësi kërkon më shumë gjyqtarë",
        site_name="Lajmi Ynë",
        authors=("Liridon Hoxha",),
        published_at=datetime(2024, 3, 16, 0, 0, tzinfo=UTC),
        language="sq",
    ),
}


def read_fixture(name: str, *, url: str = "", content_type: str = "text/html") -> PageMeta:
    body = (PAGES / name).read_bytes()
    return read_page(body, url=url or FIXTURES[name].url, content_type=content_type)


def html_page(head: str, body: str = "", *, lang: str = "") -> bytes:
    lang_attribute = f' lang="{lang}"' if lang else ""
    return (
        f"<!DOCTYPE html><html{lang_attribute}><head><meta charset='utf-8'>{head}</head>"
        f"<body>{body}</body></html>"
    ).encode()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_reads_headline_outlet_byline_time_and_language(name: str) -> None:
    page = read_fixture(name)

    expected = FIXTURES[name]
    assert page.url == expected.url
    assert page.headline == expected.headline
    assert page.site_name == expected.site_name
    assert page.authors == expected.authors
    assert page.published_at == expected.published_at
    assert page.language == expected.language


@pytest.mark.parametrize(
    "content_type",
    ["", "text/html", "text/html; charset=windows-1250", "text/html; charset=UTF-8"],
)
def test_windows_1250_page_reads_right_whatever_the_server_says(content_type: str) -> None:
    # The last one is a legacy page behind a server that claims UTF-8 for everything.
    page = read_fixture("zurnal_windows1250.html", content_type=content_type)

    assert page.headline == "Građani čekaju, sudovi ćute: šest godina za jednu žalbu"
    assert page.authors == ("Dragan Nikolić",)
    assert "žalbi" in page.description
    assert "\ufffd" not in page.description


def test_undeclared_windows_1250_is_guessed() -> None:
    body = (
        "<html><head><title>Građani čekaju, sudovi ćute: šest godina za jednu žalbu</title>"
        '<meta name="description" content="Centar za pravdu upozorava da se na odluku po '
        "žalbi u pojedinim predmetima čeka i po šest godina. Đorđe Ilić iz Udruženja advokata "
        'ocenio je da su preporuke dobar početak."></head><body></body></html>'
    ).encode("cp1250")

    page = read_page(body, url="http://www.kosovskizurnal.net/", content_type="text/html")

    assert page.headline == "Građani čekaju, sudovi ćute: šest godina za jednu žalbu"
    assert page.language == "sr-Latn"


def test_canonical_url_replaces_tracking_parameters() -> None:
    page = read_fixture("koha_wordpress_yoast.html", url=KOHA + "?utm_source=facebook&fbclid=x")

    assert page.url == KOHA


def test_canonical_pointing_at_the_home_page_is_ignored() -> None:
    body = html_page('<link rel="canonical" href="https://www.koha.net/">')

    assert read_page(body, url=KOHA).url == KOHA


def test_relative_image_is_made_absolute_and_description_is_kept() -> None:
    page = read_fixture("n1_serbian_latin.html")

    assert page.image == "https://n1info.rs/wp-content/uploads/2024/03/sud-pristina-1200x675.jpg"
    assert page.description.startswith("Nevladina organizacija Centar za pravdu predstavila")


def test_author_links_in_a_sidebar_are_not_bylines() -> None:
    koha = read_fixture("koha_wordpress_yoast.html")
    birn = read_fixture("balkan_insight_english.html")

    assert "Besnik Hoxha" not in koha.authors
    assert "Besa Gashi" not in birn.authors


def test_author_link_outside_the_article_counts_when_nothing_else_names_anyone() -> None:
    body = html_page(
        "<title>Raporti i Qendrës</title>",
        '<div class="byline"><a rel="author" href="/autori/besa">Besa Gashi</a></div>',
    )

    assert read_page(body, url=KOHA).authors == ("Besa Gashi",)


def test_malformed_json_ld_is_ignored() -> None:
    page = read_fixture("broken_markup.html")

    assert "Autor i Gabuar" not in page.authors
    assert page.headline != "Titull i gabuar"


@pytest.mark.parametrize(
    ("byline", "authors"),
    [
        ("Nga Arbëresha Gashi", ("Arbëresha Gashi",)),
        ("Shkruan: Arbëresha Gashi", ("Arbëresha Gashi",)),
        ("Piše: Dragan Nikolić", ("Dragan Nikolić",)),
        ("Od Dragan Nikolić", ("Dragan Nikolić",)),
        ("Odeta Krasniqi", ("Odeta Krasniqi",)),
        ("By Jeta Morina and Milan Radić", ("Jeta Morina", "Milan Radić")),
        ("Arbëresha Gashi dhe Besnik Hoxha", ("Arbëresha Gashi", "Besnik Hoxha")),
        ("Jovana Stojanović, Marko Petrović", ("Jovana Stojanović", "Marko Petrović")),
        ("Arbëresha Gashi, Prishtinë", ("Arbëresha Gashi, Prishtinë",)),
        ("Arbëresha Gashi i KALLXO", ("Arbëresha Gashi i KALLXO",)),
        ("redaksia@koha.net", ()),
        ("https://www.facebook.com/koha.net", ()),
        ("Koha.net", ()),  # the outlet's own name, which is the site name
    ],
)
def test_bylines_are_cleaned_and_split_only_when_clearly_two_names(
    byline: str, authors: tuple[str, ...]
) -> None:
    body = html_page(
        f'<meta property="og:site_name" content="Koha.net"><meta name="author" content="{byline}">'
    )

    assert read_page(body, url=KOHA).authors == authors


def test_article_author_given_as_a_profile_url_is_not_a_name() -> None:
    body = html_page(
        '<meta property="article:author" content="https://www.facebook.com/arberesha.gashi">'
        '<meta property="article:author" content="Arbëresha Gashi">'
    )

    assert read_page(body, url=KOHA).authors == ("Arbëresha Gashi",)


@pytest.mark.parametrize(
    ("head", "published_at"),
    [
        (
            '<meta property="article:published_time" content="2024-03-14T10:32:05.000Z">',
            datetime(2024, 3, 14, 10, 32, 5, tzinfo=UTC),
        ),
        ('<meta name="pubdate" content="2024-03-14">', datetime(2024, 3, 14, tzinfo=UTC)),
        (
            '<meta name="date" content="Thu, 14 Mar 2024 10:30:00 +0100">',
            datetime(2024, 3, 14, 9, 30, tzinfo=UTC),
        ),
        ('<meta name="publish-date" content="14.03.2024.">', datetime(2024, 3, 14, tzinfo=UTC)),
        ('<meta name="date" content="yesterday">', None),
        ('<meta property="article:published_time" content="0001-01-01T00:00:00+01:00">', None),
    ],
)
def test_publication_time_is_utc(head: str, published_at: datetime | None) -> None:
    assert read_page(html_page(head), url=KOHA).published_at == published_at


def test_unparsable_time_falls_back_to_the_next_source() -> None:
    body = html_page(
        '<meta property="article:published_time" content="14 mars">',
        '<article><time datetime="2024-03-14T10:32:05+01:00">14 mars</time></article>',
    )

    assert read_page(body, url=KOHA).published_at == datetime(2024, 3, 14, 9, 32, 5, tzinfo=UTC)


def test_several_time_elements_outside_an_article_say_nothing() -> None:
    body = html_page(
        "<title>Lajmet</title>",
        '<time datetime="2024-03-14T08:00:00Z">08:00</time>'
        '<time datetime="2024-03-13T08:00:00Z">13/03</time>',
    )

    assert read_page(body, url=KOHA).published_at is None


@pytest.mark.parametrize(
    ("lang", "title", "language"),
    [
        ("sq-AL", "Qendra për Drejtësi publikon raportin", "sq"),
        ("sr", "Centar za pravdu objavio izveštaj o radu sudova", "sr-Latn"),
        ("sr-RS", "Центар за правду објавио извештај о раду судова", "sr-Cyrl"),
        ("bs", "Centar za pravdu objavio izvještaj o radu sudova", "sr-Latn"),
        ("en-GB", "Justice NGO publishes report on the courts", "en"),
        ("de", "Gerichte in Kosovo arbeiten langsam", ""),
        # WordPress says en-US until someone changes it.
        ("en-US", "Qendra për Drejtësi: gjykatat vonojnë lëndët, qytetarët presin për vite", "sq"),
        ("", "Raporti i Qendrës për Drejtësi për vonesat në gjykata", "sq"),
        ("", "Građani čekaju, sudovi ćute: šest godina za žalbu", "sr-Latn"),
        ("", "Грађани чекају, судови ћуте", "sr-Cyrl"),
        ("", "12345", ""),
    ],
)
def test_language_from_declaration_and_text(lang: str, title: str, language: str) -> None:
    body = html_page(f"<title>{title}</title>", lang=lang)

    assert read_page(body, url=KOHA).language == language


def test_og_locale_declares_the_language() -> None:
    body = html_page('<meta property="og:locale" content="sq_AL"><title>Raport</title>')

    assert read_page(body, url=KOHA).language == "sq"


def test_title_suffix_is_kept_when_it_is_not_the_site() -> None:
    body = html_page("<title>Kurti - Vučić: takimi në Bruksel shtyhet</title>")

    assert read_page(body, url=KOHA).headline == "Kurti - Vučić: takimi në Bruksel shtyhet"


def test_long_headline_and_description_are_cut() -> None:
    body = html_page(
        f"<title>{'Raport ' * 200}</title>"
        f'<meta name="description" content="{"Gjykatat vonojnë. " * 200}">'
    )

    page = read_page(body, url=KOHA)

    assert 0 < len(page.headline) <= 500
    assert 0 < len(page.description) <= 1000


def test_json_ld_over_200_kb_is_skipped() -> None:
    padding = "x" * 210_000
    body = html_page(
        '<script type="application/ld+json">'
        f'{{"@type": "NewsArticle", "headline": "Nga JSON-LD", "description": "{padding}"}}'
        "</script><title>Nga titulli</title>"
    )

    assert read_page(body, url=KOHA).headline == "Nga titulli"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<",
        b"http://koha.net/lajm",
        b"\x00\xff\xfe\xfd" * 100,
        random.Random(7).randbytes(200_000),
        b"<?xml version='1.0'?><rss><channel><title>Feed</title></channel></rss>",
        b'<script type="application/ld+json">' + b"[" * 100_000 + b"</script>",
        b'<meta charset="base64"><title>x</title>',
    ],
    ids=["empty", "lone-bracket", "url", "binary", "random", "xml", "deep-json", "bad-charset"],
)
def test_garbage_gives_empty_fields_without_error(body: bytes) -> None:
    page = read_page(body, url=KOHA, content_type="text/html")

    assert page.url == KOHA
    assert page.authors == ()
    assert page.published_at is None


def test_five_megabytes_of_divs_return_quickly() -> None:
    started = time.perf_counter()

    page = read_page(b"<div>" * 1_000_000, url=KOHA)

    assert time.perf_counter() - started < 5
    assert page.headline == ""


def test_images_are_not_read() -> None:
    page = read_page(b"\x89PNG\r\n\x1a\n<title>x</title>", url=KOHA, content_type="image/png")

    assert page.headline == ""
