"""Search ignores case, diacritics and script."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm.contacts import ContactFilter, ContactIn, create_contact, search_contacts
from crm.search import fold, query_terms, search_key
from tests.conftest import World


def matches(stored: str, query: str) -> bool:
    key = search_key(stored)
    return all(term in key for term in query_terms(query))


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("Ćosić", "cosic"),
        ("Këlmendi", "kelmendi"),
        ("Đorđević", "djordjevic"),
        ("Đorđević", "dordevic"),
        ("Јовановић", "jovanovic"),
        ("Jovanović", "Јовановић"),
        ("Ђорђевић", "dordevic"),
        ("Bytyçi", "BYTYCI"),
        ("Ljubiša Džunić", "Љубиша"),
    ],
)
def test_search_key_ignores_case_diacritics_and_script(stored: str, query: str) -> None:
    assert matches(stored, query)


def test_search_key_does_not_match_other_names() -> None:
    assert not matches("Ćosić", "kosic")
    assert not matches("Krasniqi", "berisha")


def test_fold_is_plain_ascii() -> None:
    assert fold("Arbër Bytyçi — Đakovica") == "arber bytyci djakovica"


async def test_contact_search_finds_names_in_either_script(
    session: AsyncSession, world: World
) -> None:
    names = [
        ("Dragan", "Ćosić"),
        ("Arta", "Këlmendi"),
        ("Đorđe", "Đorđević"),
        ("Јован", "Јовановић"),
        ("Milica", "Jovanović"),
    ]
    for given, family in names:
        await create_contact(session, world.editor, ContactIn(given_name=given, family_name=family))

    async def found(q: str) -> set[str]:
        rows, total = await search_contacts(session, world.editor, ContactFilter(q=q))
        assert total == len(rows)
        return {r.contact.family_name for r in rows}

    assert await found("cosic") == {"Ćosić"}
    assert await found("kelmendi") == {"Këlmendi"}
    assert await found("djordjevic") == {"Đorđević"}
    assert await found("dordevic") == {"Đorđević"}
    assert await found("jovanovic") == {"Јовановић", "Jovanović"}
    assert await found("Јовановић") == {"Јовановић", "Jovanović"}
    assert await found("milica jovanovic") == {"Jovanović"}
    assert await found("100%") == set()


async def test_search_never_shows_another_organisations_contacts(
    session: AsyncSession, world: World
) -> None:
    await create_contact(session, world.outsider, ContactIn(given_name="Besa", family_name="Gashi"))
    rows, total = await search_contacts(session, world.editor, ContactFilter(q="gashi"))
    assert (rows, total) == ([], 0)


def test_the_fast_fold_agrees_with_the_full_unicode_fold() -> None:
    """fold() takes a shortcut for Latin letters; it must give what NFKD gives, everywhere."""
    import random
    import unicodedata

    from crm import search

    def reference(text: str, dj: str) -> str:
        text = text.lower().translate(search._CYRILLIC_TABLE).replace("đ", dj)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return search._NON_WORD.sub(" ", text).strip()

    rng = random.Random(7)
    alphabet = [chr(c) for c in (*range(0x20, 0x250), *range(0x300, 0x370), *range(0x400, 0x460))]
    alphabet += [chr(c) for c in range(0x1E00, 0x1F00)] + list("ﬁ²½Ⅻ①İßæøœ")
    samples = ["Arbën Këlmendi", "Đorđe Ćosić", "Јовановић", "e\u0308", "İstanbul", "ﬁnal ²"]
    samples += ["".join(rng.choices(alphabet, k=rng.randrange(1, 30))) for _ in range(3000)]
    for text in samples:
        for dj in ("dj", "d"):
            assert search._fold(text, dj) == reference(text, dj), repr(text)
        primary, variant = reference(text, "dj"), reference(text, "d")
        expected = primary if primary == variant else f"{primary} | {variant}"
        assert search.search_key(text) == expected, repr(text)
    # Several parts give what the parts joined by spaces give.
    for _ in range(3000):
        parts = [rng.choice(samples) if rng.random() < 0.8 else "" for _ in range(rng.randrange(5))]
        joined = " ".join(p for p in parts if p)
        primary, variant = reference(joined, "dj"), reference(joined, "d")
        expected = primary if primary == variant else f"{primary} | {variant}"
        assert search.search_key(*parts) == expected, repr(parts)


def test_part_folds_give_what_search_key_and_fold_give() -> None:
    """The import folds each repeated part once (PartFolds); its keys must be search_key's."""
    import random

    from crm.search import PartFolds

    rng = random.Random(11)
    alphabet = [chr(c) for c in (*range(0x20, 0x250), *range(0x300, 0x370), *range(0x400, 0x460))]
    alphabet += list("ﬁ²½Ⅻ①İßæøœΣσς") + ["đ", "Đ", "ђ", "Ђ", " ", "-", "@"]
    words = ["Arbën", "Këlmendi", "Đorđe", "Ćosić", "Јовановић", "Ђорђевић", "e\u0308", "İ", ""]
    words += ["".join(rng.choices(alphabet, k=rng.randrange(0, 12))) for _ in range(400)]
    folds = PartFolds(limit=100)  # small, so that parts are both kept and not kept
    for _ in range(5000):
        parts = [rng.choice(words) for _ in range(rng.randrange(6))]
        assert folds.search_key(*parts) == search_key(*parts), repr(parts)
        assert folds.fold(*parts) == fold(" ".join(p for p in parts if p)), repr(parts)
