"""Joint statements: a coalition campaign reaches the union of the partners' shared lists once
per address, honours every partner's suppressions and do-not-contact marks, and shows each
partner the results for the contacts it holds, and nothing else."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import coalitions, lists
from crm.accounts import Actor
from crm.contacts import ContactIn, create_contact
from crm.errors import InvalidInput, NotFound
from crm.lists import ListIn
from crm.models import Campaign, ContactEmail, Interaction, Job
from crm.privacy import suppress
from crm.settings import Settings
from outreach import audience, campaigns, outbox
from outreach.campaigns import AudienceIn, CampaignIn, VariantIn
from outreach.inbound import answers, inbox, pipeline
from outreach.sender import SenderWorker
from outreach.senders import SenderIn, create_sender, usable_senders
from tests import inbound_mail
from tests.conftest import World, login
from tests.smtp_server import SmtpServer


async def _list_of(
    session: AsyncSession, actor: Actor, name: str, people: list[tuple[str, str, bool]]
) -> int:
    lst = await lists.create_list(session, actor, ListIn(name=name))
    ids = []
    for given, email, dnc in people:
        contact = await create_contact(
            session, actor, ContactIn(given_name=given, emails=[email], do_not_contact=dnc)
        )
        ids.append(contact.id)
    await lists.add_members(session, actor, lst.id, ids)
    return lst.id


@pytest.fixture
async def coalition(session: AsyncSession, world: World, settings: Settings) -> dict:
    """Qendra (the world's organisation) and Other Org form a coalition; each shares a list.

    Qendra: arta@ and the shared address besa@. Other Org: besa@ (the same journalist),
    dren@ (unsubscribed from Other Org) and era@ (do-not-contact at Other Org, but on
    Qendra's list too)."""
    ours, theirs = world.owner, world.outsider
    c = await coalitions.create_coalition(session, ours, "Koalicioni për Media")
    await coalitions.invite_org(session, ours, c.id, "Other Org")
    await coalitions.respond(session, theirs, c.id, accept=True)
    list_a = await _list_of(
        session, ours, "Gazetarët tanë",
        [("Arta", "arta@koha.net", False), ("Besa", "besa@kallxo.com", False),
         ("Era", "era@rtk.net", False)],
    )  # fmt: skip
    list_b = await _list_of(
        session, theirs, "Their journalists",
        [("Besa", "BESA@kallxo.com", False), ("Dren", "dren@zeri.info", False),
         ("Era", "era@rtk.net", True)],
    )  # fmt: skip
    await suppress(session, settings, theirs.org_id, "dren@zeri.info", "unsubscribed")
    await session.commit()
    await lists.share_list(session, ours, list_a, c.id, shared=True)
    await lists.share_list(session, theirs, list_b, c.id, shared=True)
    return {"id": c.id, "ours": list_a, "theirs": list_b}


async def _joint(
    session: AsyncSession, world: World, settings: Settings, coalition: dict, smtp_port: int
) -> int:
    """The partner set up the coalition's address; Qendra writes the joint statement."""
    sender = await create_sender(
        session, world.outsider, settings,
        SenderIn(coalition_id=coalition["id"], from_name="Koalicioni",
                 from_address="info@koalicioni.org", smtp_host="127.0.0.1",
                 smtp_port=smtp_port, smtp_tls="none"),
    )  # fmt: skip
    assert sender.id in [s.id for s in await usable_senders(session, world.owner)]
    campaign = await campaigns.create_campaign(
        session,
        world.owner,
        CampaignIn(
            name="Deklaratë e përbashkët",
            coalition_id=coalition["id"],
            sender_id=sender.id,
            variants={"sq": VariantIn(subject="Deklaratë", body="{{ salutation }},\n\nTeksti.")},
            audience=AudienceIn(lists=[coalition["ours"], coalition["theirs"]]),
        ),
    )
    return campaign.id


async def test_a_joint_campaign_reaches_each_address_once_and_honours_every_partner(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
    coalition: dict,
    smtp: SmtpServer,
) -> None:
    campaign_id = await _joint(session, world, settings, coalition, smtp.port)
    campaign = await campaigns.get_campaign(session, world.owner, campaign_id)
    plan = await audience.plan(
        session, settings, campaign, await outbox.compiled_for(session, campaign)
    )
    assert sorted(r.norm for r in plan.recipients) == ["arta@koha.net", "besa@kallxo.com"]
    reasons = {e.address.lower(): e.reason for e in plan.excluded}
    assert reasons["dren@zeri.info"] == "unsubscribed"
    assert reasons["era@rtk.net"] == "do_not_contact"
    assert reasons["besa@kallxo.com"] == "duplicate"
    await outbox.launch(session, world.owner, settings, campaign_id, expected=2)
    worker = SenderWorker(maker, settings)
    while await worker.run_once():
        pass
    await worker.close()
    assert sorted(a.recipients[0].lower() for a in smtp.sink.arrivals) == [
        "arta@koha.net",
        "besa@kallxo.com",
    ]
    assert all(a.mail_from == "info@koalicioni.org" for a in smtp.sink.arrivals)

    # The partner follows the campaign, for its own contacts only.
    view = await campaigns.campaign_view(session, world.outsider, campaign_id)
    assert view.counts == {"sent": 1}
    rows = await outbox.deliveries(session, world.outsider, campaign_id)
    assert [r.address_norm for r in rows] == ["besa@kallxo.com"]
    # Its own Besa has the message on her timeline.
    theirs = await session.execute(
        select(Interaction.org_id).where(
            Interaction.campaign_id == campaign_id, Interaction.kind == "email_out"
        )
    )
    assert sorted(theirs.scalars()) == sorted(
        [world.owner.org_id, world.owner.org_id, world.outsider.org_id]
    )
    # But it cannot change it.
    with pytest.raises(NotFound):
        await outbox.change_state(session, world.outsider, campaign_id, "pause")


async def test_only_shared_lists_of_ones_own_coalition_can_be_chosen(
    session: AsyncSession, world: World, coalition: dict
) -> None:
    with pytest.raises(InvalidInput):  # a partner's list, in a campaign that is not joint
        await campaigns.create_campaign(
            session,
            world.owner,
            CampaignIn(
                name="x",
                variants={"sq": VariantIn(subject="s", body="b")},
                audience=AudienceIn(lists=[coalition["theirs"]]),
            ),
        )
    await lists.share_list(
        session, world.outsider, coalition["theirs"], coalition["id"], shared=False
    )
    with pytest.raises(InvalidInput):  # no longer shared
        await campaigns.create_campaign(
            session,
            world.owner,
            CampaignIn(
                name="x",
                coalition_id=coalition["id"],
                variants={"sq": VariantIn(subject="s", body="b")},
                audience=AudienceIn(lists=[coalition["theirs"]]),
            ),
        )


async def test_a_partner_sees_a_shared_lists_name_but_never_its_members(
    client: httpx.AsyncClient, world: World, coalition: dict
) -> None:
    await login(client, world.emails["owner"])
    form = await client.get("/campaigns/new")
    assert "Their journalists" in form.text
    assert (await client.get(f"/lists/{coalition['theirs']}")).status_code == 404
    assert "dren@zeri.info" not in form.text


async def test_the_lead_sees_partners_contacts_only_as_counts(
    session: AsyncSession, world: World, settings: Settings, coalition: dict, smtp: SmtpServer
) -> None:
    campaign_id = await _joint(session, world, settings, coalition, smtp.port)
    check = await outbox.check(session, world.owner, settings, campaign_id)
    shown = [(r.name, r.address) for r in check.plan.recipients]
    assert ("Arta", "arta@koha.net") in shown
    excluded = {e.reason: (e.name, e.address) for e in check.plan.excluded}
    assert excluded["unsubscribed"] == ("a contact of Other Org", "")
    # Era is on both lists; Other Org marked her do-not-contact. Which side holds the mark is
    # shown, never the partner's reason.
    assert all(e.detail == "" for e in check.plan.excluded if e.org_id != world.owner.org_id)
    assert all("dren" not in f"{e.name}{e.address}{e.detail}" for e in check.plan.excluded)
    dren = await session.execute(
        select(ContactEmail.contact_id).where(ContactEmail.normalised == "dren@zeri.info")
    )
    campaign = await campaigns.get_campaign(session, world.owner, campaign_id)
    compiled = await outbox.compiled_for(session, campaign)
    with pytest.raises(NotFound):  # no preview as a partner's journalist either
        await outbox.preview_recipient(session, settings, campaign, compiled, dren.scalar_one())


async def test_the_lead_sees_partners_deliveries_only_as_their_fate(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
    coalition: dict,
    smtp: SmtpServer,
) -> None:
    """The lead can resolve a partner contact's delivery without seeing who it is."""
    theirs = await lists.create_list(session, world.outsider, ListIn(name="Only theirs"))
    only = await create_contact(
        session, world.outsider, ContactIn(given_name="Ilir", emails=["ilir@kanal10.net"])
    )
    await lists.add_members(session, world.outsider, theirs.id, [only.id])
    await lists.share_list(session, world.outsider, theirs.id, coalition["id"], shared=True)
    campaign = await campaigns.create_campaign(
        session,
        world.owner,
        CampaignIn(
            name="Joint",
            coalition_id=coalition["id"],
            variants={"sq": VariantIn(subject="S", body="B")},
            audience=AudienceIn(lists=[coalition["ours"], theirs.id]),
        ),
    )
    await outbox.launch(session, world.owner, settings, campaign.id)
    rows = await outbox.deliveries(session, world.owner, campaign.id)
    assert len(rows) == 3  # arta and besa (ours; era is do-not-contact there) and ilir
    await login_as_lead_and_check_masking(session, world, campaign.id)


async def login_as_lead_and_check_masking(
    session: AsyncSession, world: World, campaign_id: int
) -> None:
    from web.routes.campaigns_api import _delivery_out

    rows = await outbox.deliveries(session, world.owner, campaign_id)
    shown = [_delivery_out(d, world.owner.org_id) for d in rows]
    assert "ilir@kanal10.net" not in [d.address for d in shown]
    assert [d.address for d in shown].count("") == 1


async def test_a_reply_to_a_joint_campaign_stays_with_the_journalists_own_organisation(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
    coalition: dict,
    smtp: SmtpServer,
) -> None:
    from crm import jobs
    from crm.models import Job
    from outreach.inbound import inbox, pipeline
    from tests import inbound_mail

    campaign_id = await _joint(session, world, settings, coalition, smtp.port)
    await outbox.launch(session, world.owner, settings, campaign_id)
    worker = SenderWorker(maker, settings)
    while await worker.run_once():
        pass
    await worker.close()
    [to_arta] = [a for a in smtp.sink.arrivals if a.recipients == ["arta@koha.net"]]
    raw = inbound_mail.gmail_reply(to_arta.raw, "Po, e publikojmë nesër.", sender="arta@koha.net")
    row = await pipeline.receive(session, settings, raw, via="smtp")
    assert row.category == "reply" and row.org_id == world.owner.org_id
    # The coalition's address belongs to the partner: Qendra's journalist's reply is not
    # forwarded to the partner's mailbox, and the partner never sees it.
    forwards = (await session.execute(select(Job).where(Job.kind == "inbound.forward"))).all()
    assert forwards == []
    _, total, _ = await inbox.inbox(session, world.outsider)
    assert total == 0
    assert await jobs.run_one(maker, settings) is False


async def test_a_joint_campaigns_returned_mail_stays_with_the_partner_it_concerns(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    world: World,
    settings: Settings,
    coalition: dict,
    smtp: SmtpServer,
) -> None:
    gent = await create_contact(
        session, world.outsider, ContactIn(given_name="Gent", emails=["gent@zeri.info"])
    )
    await lists.add_members(session, world.outsider, coalition["theirs"], [gent.id])
    campaign_id = await _joint(session, world, settings, coalition, smtp.port)
    await outbox.launch(session, world.owner, settings, campaign_id, expected=3)
    worker = SenderWorker(maker, settings)
    while await worker.run_once():
        pass
    await worker.close()
    sent = {a.recipients[0].lower(): a for a in smtp.sink.arrivals}
    theirs = await outbox.deliveries(session, world.outsider, campaign_id)
    partners = {d.address_norm for d in theirs if d.org_id == world.outsider.org_id}
    ours = next(a for address, a in sent.items() if address not in partners)
    blocked = next(a for address, a in sent.items() if address in partners)

    # A server refuses the partner's journalist's copy as a matter of policy: the partner's
    # owners are told, and the lead never sees that address.
    refused = inbound_mail.postfix_dsn(
        blocked.raw, blocked.mail_from, status="5.7.1", diagnostic="550 5.7.1 <x>: blocked"
    )
    row = await pipeline.receive(session, settings, refused, via="smtp")
    assert (row.category, row.kind, row.org_id) == ("bounce", "policy", world.outsider.org_id)
    alerts = (await session.execute(select(Job).where(Job.kind == "inbound.policy_alert"))).all()
    assert [a.Job.payload["org_id"] for a in alerts] == [world.outsider.org_id]
    assert await inbox.policy_blocks(session, world.outsider) == 1
    assert await inbox.policy_blocks(session, world.owner) == 0

    # The lead answers its own journalist's reply as itself: never from the coalition's
    # shared address, which a partner set up.
    reply = await pipeline.receive(
        session, settings, inbound_mail.gmail_reply(ours.raw, "Faleminderit"), via="smtp"
    )
    assert reply.category == "reply" and reply.org_id == world.owner.org_id
    answer = await answers.answer(session, world.owner, settings, reply.id, body="Me kënaqësi.")
    campaign = await session.get(Campaign, answer.campaign_id)
    assert campaign is not None and campaign.sender_id is None
