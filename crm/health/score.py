"""Relationship health: how a journalist and the organisation stand, as a pure function of
the contact's timeline and a date. The same function at earlier dates gives the trend.

A score from 0 to 100 adds up what a PR officer reads from a timeline, each weighted less
the older it is (a half-life of HALF_LIFE days):

- recency of two-way contact (a reply, a call, a meeting, an RSVP, attendance): up to 30;
- frequency of two-way contact: up to 15;
- reciprocity: replies per pitch (calls and meetings standing in for up to half of it):
  up to 20; and contacts the journalist started: up to 5;
- time to reply (quick answers count more, each weighted by its age): up to 5;
- coverage: up to 25; event attendance: up to 10 (the total is capped at 100).

Each reply answers one pitch: the latest unanswered one of its campaign (an RSVP, of its
event), or a personal email of the last REPLY_WINDOW. A personal email within
REPLY_WINDOW of their last one is our side of the conversation, not a pitch; an event's
update or cancellation is no new pitch either.
A pitch nobody answers never raises the score: it only lowers the reply rate.

The states: `new` while the relationship is young (first engagement within YOUNG), or
with no engagement yet and fewer than NEW_PITCHES pitches; otherwise `warm` (50 and over),
`cooling` (25–49) and `cold` (under 25). Time alone never raises a score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm.i18n import LOCAL_TZ

HALF_LIFE = 90.0  # days after which an interaction counts half
RECENCY_HALF_LIFE = 45.0  # days after which the last two-way contact counts half
REPLY_WINDOW = timedelta(days=14)  # a personal email's answer comes within this
NEW_PITCHES = 3  # pitches without any answer after which a contact is cold, not new
YOUNG = timedelta(days=30)  # a relationship this young is new unless already warm
WARM, COOLING = 50, 25
STATES = ("new", "warm", "cooling", "cold")


@dataclass(frozen=True)
class Entry:
    """One timeline entry as the score reads it. `pitch` marks what the organisation sent
    expecting an answer (a campaign's message or a personal email, not an answer to a
    reply); `label` names its campaign or event for the explanation."""

    kind: str
    at: datetime
    direction: str = "none"
    campaign_id: int | None = None
    event_id: int | None = None
    pitch: bool = False
    answer: bool = False  # an answer to their message (a campaign of kind "answer")
    invitation: bool = False  # an invitation campaign's: a second one to the same event
    # (an update, a cancellation) is no new pitch
    label: str = ""
    ref: int = 0  # the interaction's id


@dataclass(frozen=True)
class Reason:
    """One clause of the explanation, put in words by the page (in the reader's language):
    `code` says which, `n`/`of`/`days` and `names` fill it in."""

    code: str
    n: int = 0
    of: int = 0
    days: int = 0
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    score: int
    state: str
    reasons: list[Reason] = field(default_factory=list)
    last_two_way: datetime | None = None


def _weight(age: timedelta, half_life: float = HALF_LIFE) -> float:
    return float(0.5 ** (max(age.total_seconds(), 0.0) / 86400 / half_life))


@dataclass
class _Reading:
    """A timeline read once, in order: what was pitched and what answered each pitch, the
    two-way contact, coverage, attendance, what the journalist started, and their message
    still waiting for an answer."""

    pitches: list[Entry] = field(default_factory=list)
    answers: dict[int, Entry] = field(default_factory=dict)  # pitch index → its answer
    two_way: list[Entry] = field(default_factory=list)
    started: list[Entry] = field(default_factory=list)
    coverage: list[Entry] = field(default_factory=list)
    attended: list[Entry] = field(default_factory=list)
    awaiting: Entry | None = None


def _read(past: Sequence[Entry]) -> _Reading:
    r = _Reading()
    by_campaign: dict[int, list[int]] = {}  # unanswered pitches, by campaign and by event
    by_event: dict[int, list[int]] = {}
    personal: list[int] = []  # unanswered personal emails
    theirs: datetime | None = None  # their last email
    ours: datetime | None = None  # our last personal email
    for e in past:
        if e.kind == "email_out":
            talking = theirs is not None and e.at - theirs <= REPLY_WINDOW
            if e.campaign_id is None:
                ours = e.at
            if e.answer or (e.campaign_id is None and talking):
                r.awaiting = None  # our side of a conversation they are in, not a pitch
            elif e.pitch and not (e.invitation and e.event_id in by_event):
                i = len(r.pitches)  # (an event's update or cancellation is no new pitch)
                r.pitches.append(e)
                if e.campaign_id is not None:
                    by_campaign.setdefault(e.campaign_id, []).append(i)
                else:
                    personal.append(i)
                    r.awaiting = None
                if e.invitation and e.event_id is not None:  # what an RSVP answers
                    by_event.setdefault(e.event_id, []).append(i)
        elif e.kind in ("call", "meeting"):
            r.two_way.append(e)
            r.awaiting = None
            if e.direction == "in":
                r.started.append(e)
        elif e.kind in ("email_in", "rsvp", "rsvp_declined"):
            if e.kind != "rsvp_declined" and (e.kind != "rsvp" or e.direction == "in"):
                r.two_way.append(e)
            answered = _match(e, r, by_campaign, by_event, personal)
            if e.kind == "email_in":
                conversation = ours is not None and e.at - ours <= REPLY_WINDOW
                r.awaiting, theirs = e, e.at
                if (
                    answered is None
                    and e.campaign_id is None
                    and e.event_id is None
                    and not conversation
                ):
                    r.started.append(e)  # not an answer to anything of ours: theirs
        elif e.kind == "coverage":
            r.coverage.append(e)
        elif e.kind == "event_attended":
            r.two_way.append(e)
            r.attended.append(e)
    return r


def _match(
    reply: Entry,
    r: _Reading,
    by_campaign: dict[int, list[int]],
    by_event: dict[int, list[int]],
    personal: list[int],
) -> int | None:
    """The pitch `reply` answers, if any: the latest unanswered one of its campaign (or, an
    RSVP, of its event) or, a reply to no campaign, the latest personal email within
    REPLY_WINDOW. One reply answers one pitch."""
    waiting: list[int] = []
    if reply.campaign_id is not None and by_campaign.get(reply.campaign_id):
        waiting = by_campaign[reply.campaign_id]
    elif reply.campaign_id is not None and reply.event_id is not None:  # e.g. to a reminder
        waiting = by_event.get(reply.event_id, [])
    elif reply.campaign_id is not None:
        waiting = []
    elif reply.kind != "email_in" and reply.event_id is not None:
        waiting = by_event.get(reply.event_id, [])
    elif reply.kind == "email_in" and reply.event_id is None:
        waiting = personal
    while waiting:
        i = waiting.pop()
        if i in r.answers:
            continue  # answered already (through its event or its campaign)
        if waiting is personal and reply.at - r.pitches[i].at > REPLY_WINDOW:
            return None
        r.answers[i] = reply
        return i
    return None


def score(timeline: Sequence[Entry], as_of: datetime) -> Health:
    """The health of one relationship on `as_of`, from the entries up to that moment."""
    past = sorted((e for e in timeline if e.at <= as_of), key=lambda e: (e.at, e.ref))
    r = _read(past)
    last = r.two_way[-1].at if r.two_way else None
    total = 0.0
    if last is not None:
        total += 30 * _weight(as_of - last, RECENCY_HALF_LIFE)
    contact = sum(_weight(as_of - e.at) for e in r.two_way)
    total += 15 * min(1.0, contact / 3)
    pitched = sum(_weight(as_of - p.at) for p in r.pitches)
    answered = sum(_weight(as_of - r.pitches[i].at) for i in r.answers)
    # Replies per pitch, calls and meetings standing in for up to half of it. Every term
    # decays alike and scales with `base`, so time alone never raises it.
    base = max(pitched, 1.0)
    total += 20 * min(1.0, (answered + min(contact / 2, base / 2)) / base)
    total += 5 * min(1.0, sum(_weight(as_of - e.at) for e in r.started) / 2)
    speed = [
        (_weight(as_of - r.pitches[i].at), (answer.at - r.pitches[i].at).total_seconds() / 3600)
        for i, answer in r.answers.items()
    ]
    # Points for quick answers, each weighted by its age and shared over the pitches like the
    # reply rate: another answer only adds, and time alone never raises it.
    points = sum(w * (5 if h <= 24 else 3 if h <= 72 else 1) for w, h in speed)
    total += min(5.0, points / base)
    total += 25 * min(1.0, sum(_weight(as_of - e.at) for e in r.coverage) / 2)
    total += 10 * min(1.0, sum(_weight(as_of - e.at) for e in r.attended))
    value = max(0, min(100, round(total)))

    engaged = [e.at for e in (*r.two_way, *r.coverage)]
    young = bool(engaged) and min(engaged) > as_of - YOUNG  # still getting to know them
    if young or (value < WARM and not engaged and len(r.pitches) < NEW_PITCHES):
        state = "new"
    else:
        state = "warm" if value >= WARM else "cooling" if value >= COOLING else "cold"
    return Health(value, state, _reasons(as_of, r, last), last)


def _reasons(as_of: datetime, r: _Reading, last: datetime | None) -> list[Reason]:
    """What the score rests on, most telling first."""
    reasons: list[Reason] = []
    recent = range(max(0, len(r.pitches) - 5), len(r.pitches))
    if recent:
        replied = sum(1 for i in recent if i in r.answers)
        reasons.append(Reason("replied", n=replied, of=len(recent)))
    year_ago = as_of - timedelta(days=365)
    covered = [e for e in r.coverage if e.at >= year_ago]
    if covered:
        names = tuple(dict.fromkeys(e.label for e in covered if e.label))[:3]
        reasons.append(Reason("covered", n=len(covered), names=names))
    went = [e for e in r.attended if e.at >= year_ago]
    if went:
        reasons.append(Reason("attended", n=len(went)))
    theirs = [e for e in r.started if e.at >= year_ago]
    if theirs:
        reasons.append(Reason("started", n=len(theirs)))
    if last is not None:
        days = (as_of.astimezone(LOCAL_TZ).date() - last.astimezone(LOCAL_TZ).date()).days
        reasons.append(Reason("last_two_way", days=days))
    elif r.pitches:
        reasons.append(Reason("never_answered", n=len(r.pitches)))
    else:
        reasons.append(Reason("nothing_yet"))
    return reasons


def history(timeline: Sequence[Entry], as_of: datetime, weeks: int = 12) -> str:
    """The state at the end of each of the last `weeks` weeks and today, oldest first, one
    letter each (n, w, c, x for cold): the trend, by the same function at earlier dates."""
    letters = {"new": "n", "warm": "w", "cooling": "c", "cold": "x"}
    return "".join(
        letters[score(timeline, as_of - timedelta(weeks=back)).state]
        for back in range(weeks, -1, -1)
    )


@dataclass(frozen=True)
class Tally:
    """What the dashboard sums over many contacts: pitches in the last 30, 90 and 365 days
    and how many of them were answered, and the reply still waiting for an answer."""

    pitches: dict[int, int]
    replies: dict[int, int]
    awaiting: Entry | None


PERIODS = (30, 90, 365)


def tally(timeline: Sequence[Entry], as_of: datetime) -> Tally:
    past = sorted((e for e in timeline if e.at <= as_of), key=lambda e: (e.at, e.ref))
    r = _read(past)
    pitches: dict[int, int] = {}
    replies: dict[int, int] = {}
    for days in PERIODS:
        since = as_of - timedelta(days=days)
        recent = [i for i, p in enumerate(r.pitches) if p.at >= since]
        pitches[days] = len(recent)
        replies[days] = sum(1 for i in recent if i in r.answers)
    return Tally(pitches, replies, r.awaiting)
