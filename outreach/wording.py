"""The words Beatbook itself puts into campaign mail, in the recipient's language:
salutations, the first-contact privacy notice, and the footer.

Journalists read these, not users of the interface, so they follow the recipient's language
(en, sq, sr-Latn, sr-Cyrl) rather than the officer's. Serbian addresses people in the
vocative ("Poštovani Milane"), in the reader's script.
"""

from __future__ import annotations

from crm import i18n, serbian
from crm.models import Contact

_SALUTATIONS = {
    "en": {"m": "Dear {name}", "f": "Dear {name}", "neutral": "Dear {name}"},
    "sq": {"m": "I nderuar {name}", "f": "E nderuar {name}", "neutral": "Përshëndetje {name}"},
    "sr-Latn": {"m": "Poštovani {name}", "f": "Poštovana {name}", "neutral": "Dobar dan {name}"},
    "sr-Cyrl": {"m": "Поштовани {name}", "f": "Поштована {name}", "neutral": "Добар дан {name}"},
}
_DESK = {
    "en": "Dear editors",
    "sq": "Të nderuar redaktorë",
    "sr-Latn": "Poštovana redakcijo",
    "sr-Cyrl": "Поштована редакцијо",
}
_NOTICE = {
    "en": "You are receiving this because {org} keeps your work address as a journalist's "
    "contact{source}. You can ask what we hold about you, or for it to be erased, at any time.",
    "sq": "E merrni këtë mesazh sepse {org} e ruan adresën tuaj të punës si kontakt gazetari"
    "{source}. Mund të kërkoni në çdo kohë çfarë ruajmë për ju, ose fshirjen e tyre.",
    "sr-Latn": "Ovu poruku primate jer {org} čuva vašu poslovnu adresu kao kontakt novinara"
    "{source}. U svakom trenutku možete tražiti uvid u podatke o vama ili njihovo brisanje.",
    "sr-Cyrl": "Ову поруку примате јер {org} чува вашу пословну адресу као контакт новинара"
    "{source}. У сваком тренутку можете тражити увид у податке о вама или њихово брисање.",
}
_SOURCE = {"en": " (source: {})", "sq": " (burimi: {})", "sr-Latn": " (izvor: {})",
           "sr-Cyrl": " (извор: {})"}  # fmt: skip
_FOOTER = {
    "en": ("Unsubscribe", "Your data"),
    "sq": ("Çregjistrohu", "Të dhënat tuaja"),
    "sr-Latn": ("Odjava", "Vaši podaci"),
    "sr-Cyrl": ("Одјава", "Ваши подаци"),
}


def _lang(language: str) -> str:
    return language if language in _SALUTATIONS else "en"


def salutation(language: str, form: str, given_name: str, vocative: str = "") -> str:
    """ "E nderuar Arta", "Poštovani Milane", "Поштовани Милане": `vocative` is the contact's
    own, else the rule's suggestion."""
    lang = _lang(language)
    forms = _SALUTATIONS[lang]
    name = given_name
    if lang.startswith("sr-"):
        name = serbian.to_script(vocative or serbian.vocative(given_name, form), lang)
    return forms.get(form, forms["neutral"]).format(name=name).strip()


def vocative(language: str, form: str, given_name: str, vocative: str = "") -> str:
    """The `vocative` merge field: the Serbian vocative in Serbian mail, else the name."""
    if language.startswith("sr-"):
        return serbian.to_script(vocative or serbian.vocative(given_name, form), language)
    return given_name


def desk_salutation(language: str) -> str:
    return _DESK[_lang(language)]


def privacy_notice(language: str, org_name: str, contact: Contact) -> str:
    """Where the organisation got the address, said once, in the first message."""
    lang = _lang(language)
    # A source Beatbook wrote ("Imported from …") is said in the reader's language.
    said = serbian.to_script(i18n.translate(contact.legal_source, lang), lang)
    source = _SOURCE[lang].format(said) if contact.legal_source else ""
    return _NOTICE[lang].format(org=org_name, source=source)[:500]


def footer_labels(language: str) -> tuple[str, str]:
    """(unsubscribe, your data) link texts."""
    return _FOOTER[_lang(language)]
