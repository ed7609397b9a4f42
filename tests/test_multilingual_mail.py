"""Campaign mail in the reader's language and script, through the outbox to a real SMTP
server: Serbian written once reaches Latin and Cyrillic readers, names included, and the
salutation speaks the message's language."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from crm.accounts import Actor
from crm.contacts import ContactIn, create_contact
from crm.models import Contact
from crm.settings import Settings
from outreach import outbox
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign
from tests.conftest import World
from tests.smtp_server import SmtpServer
from tests.test_outbox import _drain

LATIN_SUBJECT = "Poziv: ljudska prava, {{ first_name }}"
LATIN_BODY = (
    "{{ salutation }},\n\nPozivamo vas, {{ first_name }} {{ last_name }}, na konferenciju "
    "o **ljudskim pravima**. Detalji: https://example.org/ljudska-prava\n"
)
CYRILLIC_SUBJECT = "Позив: људска права, {{ first_name }}"
CYRILLIC_BODY = (
    "{{ salutation }},\n\nПозивамо вас, {{ first_name }} {{ last_name }}, на конференцију "
    "о **људским правима**. Детаљи: https://example.org/ljudska-prava\n"
)


async def _contact(
    session: AsyncSession, actor: Actor, given: str, family: str, email: str, language: str,
    **extra: str,
) -> int:  # fmt: skip
    data = ContactIn(
        given_name=given, family_name=family, emails=[email], preferred_language=language,
        salutation=extra.pop("salutation", "m"), **extra,
    )  # fmt: skip
    return (await create_contact(session, actor, data)).id or 0


async def _send(
    session: AsyncSession, maker, world: World, settings: Settings, ids: list[int],
    variants: dict[str, VariantIn], default: str,
) -> None:  # fmt: skip
    campaign = await create_campaign(
        session,
        world.editor,
        CampaignIn(
            name="Konferencija",
            default_language=default,
            variants=variants,
            audience=AudienceIn(contacts=ids),
        ),  # fmt: skip
    )
    await outbox.launch(session, world.editor, settings, campaign.id, expected=len(ids))
    await _drain(maker, settings)


def _one(smtp: SmtpServer, address: str) -> tuple[str, str, str]:
    received = smtp.sink.to(address)
    assert len(received) == 1
    m: EmailMessage = received[0].message
    return (
        str(m["Subject"]),
        m.get_body(("plain",)).get_content(),
        m.get_body(("html",)).get_content(),
    )


async def test_serbian_written_in_latin_reaches_cyrillic_readers_in_cyrillic_names_included(
    session: AsyncSession,
    maker,
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    milan = await _contact(session, world.editor, "Milan", "Petrović", "milan@kim.rs", "sr-Cyrl")
    # Stored in Cyrillic, reads Latin.
    dragan = await _contact(session, world.editor, "Драган", "Јовановић", "dj@kim.rs", "sr-Latn")
    await _send(
        session, maker, world, sending, [milan, dragan],
        {"sr-Latn": VariantIn(subject=LATIN_SUBJECT, body=LATIN_BODY)}, "sr-Latn",
    )  # fmt: skip

    subject, text, html = _one(smtp, "milan@kim.rs")
    assert subject == "Позив: људска права, Милан"
    assert text.startswith("Поштовани Милане,")
    assert "Позивамо вас, Милан Петровић, на конференцију" in text
    assert "<strong>људским правима</strong>" in html
    assert "https://example.org/ljudska-prava" in text  # links keep their letters
    assert "Одјава" in text  # and the footer speaks Cyrillic too

    subject, text, _html = _one(smtp, "dj@kim.rs")
    assert subject == "Poziv: ljudska prava, Dragan"
    assert text.startswith("Poštovani Dragane,")
    assert "Pozivamo vas, Dragan Jovanović, na konferenciju" in text
    assert "Odjava" in text


async def test_serbian_written_in_cyrillic_reaches_latin_readers_in_latin(
    session: AsyncSession,
    maker,
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    jelena = await _contact(
        session, world.editor, "Jelena", "Đorđević", "jelena@kim.rs", "sr-Latn", salutation="f"
    )
    await _send(
        session, maker, world, sending, [jelena],
        {"sr-Cyrl": VariantIn(subject=CYRILLIC_SUBJECT, body=CYRILLIC_BODY)}, "sr-Cyrl",
    )  # fmt: skip
    subject, text, _html = _one(smtp, "jelena@kim.rs")
    assert subject == "Poziv: ljudska prava, Jelena"
    assert text.startswith("Poštovana Jelena,")
    assert "Pozivamo vas, Jelena Đorđević, na konferenciju o ljudskim pravima" in text


async def test_the_vocative_field_and_a_contacts_own_vocative(
    session: AsyncSession,
    maker,
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    goran = await _contact(
        session, world.editor, "Goran", "Ilić", "goran@kim.rs", "sr-Latn", vocative="Gorane moj"
    )
    nikola = await _contact(session, world.editor, "Nikola", "Ilić", "nikola@kim.rs", "sr-Latn")
    arben = await _contact(session, world.editor, "Arbën", "Gashi", "arben@koha.net", "sq")
    body = "Dragi {{ vocative }}, hvala.\n"
    body_sq = "I dashur {{ vocative }}, faleminderit.\n"
    await _send(
        session, maker, world, sending, [goran, nikola, arben],
        {
            "sr-Latn": VariantIn(subject="Hvala", body=body),
            "sq": VariantIn(subject="Faleminderit", body=body_sq),
        },
        "sq",
    )  # fmt: skip
    assert _one(smtp, "goran@kim.rs")[1].startswith("Dragi Gorane moj, hvala.")
    assert _one(smtp, "nikola@kim.rs")[1].startswith("Dragi Nikola, hvala.")
    # Albanian has no vocative: the field is the given name.
    assert _one(smtp, "arben@koha.net")[1].startswith("I dashur Arbën, faleminderit.")


async def test_the_salutation_speaks_the_language_the_message_is_written_in(
    session: AsyncSession,
    maker,
    world: World,
    sending: Settings,
    smtp: SmtpServer,
) -> None:
    """An Albanian reader of a campaign written only in English gets "Dear", not "I nderuar"
    in the middle of English text."""
    arben = await _contact(session, world.editor, "Arbën", "Gashi", "arben@koha.net", "sq")
    await _send(
        session, maker, world, sending, [arben],
        {"en": VariantIn(subject="Our report", body="{{ salutation }},\n\nThe report is out.\n")},
        "en",
    )  # fmt: skip
    _subject, text, _html = _one(smtp, "arben@koha.net")
    assert text.startswith("Dear Arbën,")
    assert "Unsubscribe" in text


async def test_the_privacy_notice_says_an_imported_source_in_the_readers_language(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    arben = await _contact(session, world.editor, "Arbën", "Gashi", "arben@koha.net", "sq")
    milan = await _contact(session, world.editor, "Milan", "Ilić", "milan@kim.rs", "sr-Cyrl")
    for contact_id in (arben, milan):
        contact = await session.get(Contact, contact_id)
        contact.legal_source = "Imported from novinari.csv"  # as the import writes it
    await session.commit()
    await _send(
        session, maker, world, sending, [arben, milan],
        {
            "sq": VariantIn(subject="Raporti", body="Raporti doli.\n"),
            "sr-Latn": VariantIn(subject="Izveštaj", body="Izveštaj je objavljen.\n"),
        },
        "sq",
    )  # fmt: skip
    assert "(burimi: Importuar nga novinari.csv)" in _one(smtp, "arben@koha.net")[1]
    assert "(извор: Увезено из датотеке novinari.csv)" in _one(smtp, "milan@kim.rs")[1]


async def test_custom_fields_follow_the_script_and_an_overlong_transliteration_falls_back(
    session: AsyncSession, maker, world: World, sending: Settings, smtp: SmtpServer
) -> None:
    milan = await _contact(session, world.editor, "Milan", "Ilić", "milan@kim.rs", "sr-Cyrl")
    jelena = await _contact(session, world.editor, "Jelena", "Ilić", "jelena@kim.rs", "sr-Latn")
    campaign = await create_campaign(
        session,
        world.editor,
        CampaignIn(
            name="Konferencija", default_language="en",
            audience=AudienceIn(contacts=[milan, jelena]),
            custom_fields={"mesto": "Kuća ljudskih prava"},
            variants={
                "en": VariantIn(subject="Conference", body="At {{ mesto }}.\n"),
                "sr-Latn": VariantIn(subject="Konferencija", body="U {{ mesto }}.\n"),
                # 400 Љ are 800 Latin letters: too long for a subject in Latin script.
                "sr-Cyrl": VariantIn(subject="Љ" * 400, body="У {{ mesto }}.\n"),
            },
        ),
    )  # fmt: skip
    await outbox.launch(session, world.editor, sending, campaign.id, expected=2)
    await _drain(maker, sending)
    assert _one(smtp, "milan@kim.rs")[1].startswith("У Кућа људских права.")
    assert _one(smtp, "jelena@kim.rs")[1].startswith("U Kuća ljudskih prava.")
