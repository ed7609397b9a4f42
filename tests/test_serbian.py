"""Serbian in mail merges: the vocative of given names, and Latin ↔ Cyrillic."""

from __future__ import annotations

import pytest

from crm import serbian
from outreach import wording

VOCATIVES = [
    # given name, salutation form, vocative
    ("Marko", "m", "Marko"),
    ("Milan", "m", "Milane"),
    ("Jelena", "f", "Jelena"),
    ("Nikola", "m", "Nikola"),
    ("Dragan", "m", "Dragane"),
    ("Ivan", "neutral", "Ivan"),  # unknown gender: no ending rather than a wrong one
    ("Karmen", "neutral", "Karmen"),
    ("Stefan", "m", "Stefane"),
    ("Nenad", "m", "Nenade"),
    ("Miloš", "m", "Miloše"),
    ("Petar", "m", "Petre"),
    ("Aleksandar", "m", "Aleksandre"),
    ("Vuk", "m", "Vuče"),
    ("Andrej", "m", "Andreju"),
    ("Đorđe", "m", "Đorđe"),
    ("Luka", "m", "Luka"),
    ("Darko", "m", "Darko"),
    ("Milica", "f", "Milica"),
    ("Ines", "f", "Ines"),  # a woman's name ending in a consonant stays
    ("Милан", "m", "Милане"),  # Cyrillic in, Cyrillic out
    ("Петар", "m", "Петре"),
    ("MILAN", "m", "MILANE"),
    ("Ana Marija", "f", "Ana Marija"),  # compound names are left to the officer
    ("", "m", ""),
]


@pytest.mark.parametrize(("name", "form", "expected"), VOCATIVES)
def test_vocative_of_given_names(name: str, form: str, expected: str) -> None:
    assert serbian.vocative(name, form) == expected


def test_serbian_salutation_uses_the_vocative_and_the_contacts_own_overrides_it() -> None:
    assert wording.salutation("sr-Latn", "m", "Milan") == "Poštovani Milane"
    assert wording.salutation("sr-Latn", "f", "Jelena") == "Poštovana Jelena"
    assert wording.salutation("sr-Cyrl", "m", "Milan") == "Поштовани Милане"
    assert wording.salutation("sr-Latn", "m", "Goran", "Gorane moj") == "Poštovani Gorane moj"
    # Albanian and English keep the name as it is.
    assert wording.salutation("sq", "m", "Milan") == "I nderuar Milan"
    assert wording.salutation("sq", "f", "Arta") == "E nderuar Arta"
    assert wording.salutation("en", "m", "Milan") == "Dear Milan"


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("Ljubljana, Njegoš, džep", "Љубљана, Његош, џеп"),
        ("LJUDSKA PRAVA I NJIHOVA ZAŠTITA", "ЉУДСКА ПРАВА И ЊИХОВА ЗАШТИТА"),
        ("Đorđe Ćosić, Čačak, Šabac, Žabalj", "Ђорђе Ћосић, Чачак, Шабац, Жабаљ"),
        ("KRALJ", "КРАЉ"),
    ],
)
def test_latin_and_cyrillic_turn_into_each_other(latin: str, cyrillic: str) -> None:
    assert serbian.to_cyrillic(latin) == cyrillic
    assert serbian.to_latin(cyrillic) == latin


def test_tags_links_addresses_and_foreign_words_keep_their_letters() -> None:
    text = (
        "{{ salutation }}, pozivamo vas: https://example.org/poziv-lj?x=nj i "
        "[prijava](https://example.org/prijava). Pišite na info@ngo-lj.org. "
        "Kosovo, YouTube, %(num)s, {org}, <b>jasno</b> &amp;"
    )
    assert serbian.to_cyrillic(text) == (
        "{{ salutation }}, позивамо вас: https://example.org/poziv-lj?x=nj и "
        "[пријава](https://example.org/prijava). Пишите на info@ngo-lj.org. "
        "Косово, YouTube, %(num)s, {org}, <b>јасно</b> &amp;"
    )


def test_domains_handles_brands_and_stray_angle_brackets_are_left_alone() -> None:
    text = "Pišite na kossev.info ili @BIRN_Kosovo; Kosovo Online, Facebook. Cena <5 EUR."
    assert serbian.to_cyrillic(text) == (
        "Пишите на kossev.info или @BIRN_Kosovo; Косово Online, Facebook. Цена <5 ЕУР."
    )
    assert serbian.to_cyrillic("d.o.o. Priština. Kraj.") == "д.о.о. Приштина. Крај."


def test_other_languages_are_not_transliterated() -> None:
    assert serbian.to_script("Lëvizja për liri", "sq") == "Lëvizja për liri"
    assert serbian.to_script("Миран", "en") == "Миран"
    assert serbian.to_script("Миран", "sr-Latn") == "Miran"
