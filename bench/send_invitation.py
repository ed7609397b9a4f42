"""Benchmark: a 10,000-recipient invitation campaign (an event's calendar invitation and RSVP
links in every message) next to the plain campaign of ``send_campaign.py``, in the same run.

Run from the repository root (``make bench`` does):

    .venv/bin/python bench/send_invitation.py [--recipients N] [--connections C]

1. The sink, the database and the N contacts are those of ``send_campaign.py`` (a minimal
   SMTP server in its own process; a SQLite database made by the migrations).
2. **Plain**: the ~4 KB press release of ``send_campaign.py``, launched through
   ``outreach.outbox.launch`` and sent by ``outreach.sender.SenderWorker`` (started before
   the clock, with its build processes), timed from the first claim to the last result.
3. **Invitation**: an event in Europe/Belgrade and an invitation campaign to the same N
   contacts with the same body plus the event's fields and three RSVP links. Launching makes
   a guest row per recipient; each message then carries a ``text/calendar; method=REQUEST``
   alternative and an ``invite.ics`` attachment with the recipient's ATTENDEE line. Sent and
   timed the same way.
4. Prints messages/s of both and their ratio, and GOAL MET when the invitation campaign
   reaches at least 0.8 of the plain one.

It exits 0 once the figures are printed: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from pathlib import Path

import send_campaign as plain

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOAL_RATIO = 0.8
INVITATION = (
    plain.BODY
    + "\n\n**{{ event_title }}**, {{ event_start }}, {{ venue }}."
    + "\n\n[Po]({{ rsvp_yes_url }}) · [Ndoshta]({{ rsvp_maybe_url }}) · [Jo]({{ rsvp_no_url }})"
)


async def _launch_invitation(url: str, settings: object, n: int) -> tuple[float, int]:
    """An event and an invitation to every contact of the benchmark's organisation."""
    from sqlalchemy import select

    from crm.accounts import Actor
    from crm.database import make_engine, make_sessionmaker
    from crm.events import EventIn, create_event
    from crm.models import Contact, Membership
    from outreach import outbox
    from outreach.campaigns import AudienceIn, CampaignIn, VariantIn, create_campaign

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        member = (await session.execute(select(Membership))).scalars().first()
        assert member is not None
        actor = Actor(member.user_id, member.org_id, "owner")
        ids = list((await session.execute(select(Contact.id))).scalars())
        event = await create_event(
            session, actor,
            EventIn(title="Konferencë për media: raporti vjetor", starts_at="2027-03-28T11:00",
                    ends_at="2027-03-28T12:30", venue="Hotel Sirius, Prishtinë",
                    organiser="Qendra Bench Send"),  # type: ignore[arg-type]
        )  # fmt: skip
        campaign = await create_campaign(
            session, actor,
            CampaignIn(
                name="Ftesë", kind="invitation", event_id=event.id, default_language="sq",
                variants={"sq": VariantIn(subject="Ftesë: {{ event_title }}", body=INVITATION)},
                audience=AudienceIn(contacts=ids),
            ),
        )  # fmt: skip
        started = time.perf_counter()
        await outbox.launch(session, actor, settings, campaign.id, expected=n)  # type: ignore[arg-type]
        launch_s = time.perf_counter() - started
    await engine.dispose()
    return launch_s, campaign.id or 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    from crm.settings import Settings

    port = plain._free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=plain._sink_main, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    plain.OUT.mkdir(parents=True, exist_ok=True)
    db = plain.OUT / "send-invitation.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    plain._fresh_db(db)
    url = f"sqlite:///{db}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url, secret_key="bench-secret", suppression_key="bench-suppression",
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", reply_domain="replies.qendra.org",
        mail_from="Qendra <press@qendra.org>", send_concurrency=args.connections,
    )  # fmt: skip
    try:
        launch_plain, plain_id = asyncio.run(plain._setup(url, args.recipients, settings))
        plain_rate = asyncio.run(plain._run_app(url, settings, plain_id))
        launch_inv, invitation_id = asyncio.run(_launch_invitation(url, settings, args.recipients))
        invitation_rate = asyncio.run(plain._run_app(url, settings, invitation_id))
    finally:
        sink.terminate()
    ratio = invitation_rate / plain_rate
    print(f"recipients: {args.recipients}, connections: {args.connections}, "
          f"launch: plain {launch_plain:.2f} s, invitation {launch_inv:.2f} s")  # fmt: skip
    print(f"plain campaign:      {plain_rate:8.0f} messages/s")
    print(f"invitation campaign: {invitation_rate:8.0f} messages/s (calendar + invite.ics)")
    met = ratio >= GOAL_RATIO
    print(f"ratio:               {ratio:8.2f}  (goal >= {GOAL_RATIO}): "
          f"{'GOAL MET' if met else 'GOAL MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
