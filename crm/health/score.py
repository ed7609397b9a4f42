"""Relationship health: how a journalist and the organisation stand, as a pure function of
the contact's timeline and a date. The same function at earlier dates gives the trend.

A score from 0 to 100 adds up what a PR officer reads from a timeline, each weighted less
the older it is (a half-life of HALF_LIFE days):

- recency of two-way contact (a reply, a call, a meeting, an RSVP, attendance): up to 30;
- frequency of two-way contact: up to 15;
- reciprocity, replies per pitch, trusted as the pitches add up: up to 20; and contacts
  the journalist started: up to 5;
- time to reply, over the replies of the last year: up to 5;
- coverage: up to 15; event attendance: up to 10.

A pitch nobody answers never raises the score: it only lowers the reply rate. The states:
`new` (no engagement yet and fewer than NEW_PITCHES pitches), `warm` (50 and over),
`cooling` (25–49) and `cold` (under 25)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

HALF_LIFE = 90.0  # days after which an interaction counts half
RECENCY_HALF_LIFE = 45.0  # days after which the last two-way contact counts half
REPLY_WINDOW = timedelta(days=14)  # a personal email's answer comes within this
NEW_PITCHES = 3  # pitches without any answer after which a contact is cold, not new
WARM, COOLING = 50, 25
STATES = ("new", "warm", "cooling", "cold")
TWO_WAY = {"email_in", "call", "meeting", "event_attended", "rsvp"}


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


def _answered(pitch: Entry, replies: Sequence[Entry]) -> Entry | None:
    """The first answer to a pitch: an email on its campaign (or an RSVP to its event) after
    it or, for a personal email, any email within REPLY_WINDOW."""
    for reply in replies:
        if reply.at < pitch.at:
            continue
        if pitch.campaign_id is not None and reply.campaign_id == pitch.campaign_id:
            return reply
        if pitch.event_id is not None and reply.event_id == pitch.event_id:
            return reply
        if pitch.campaign_id is None and reply.kind == "email_in":
            if reply.at - pitch.at <= REPLY_WINDOW:
                return reply
    return None


def score(timeline: Sequence[Entry], as_of: datetime) -> Health:
    """The health of one relationship on `as_of`, from the entries up to that moment."""
    past = sorted((e for e in timeline if e.at <= as_of), key=lambda e: e.at)
    pitches = [e for e in past if e.pitch]
    two_way = [e for e in past if e.kind in TWO_WAY and (e.kind != "rsvp" or e.direction == "in")]
    replies = [e for e in two_way if e.kind in ("email_in", "rsvp")]
    coverage = [e for e in past if e.kind == "coverage"]
    attended = [e for e in past if e.kind == "event_attended"]
    started = [
        e
        for e in past
        if (e.kind == "email_in" and e.campaign_id is None and e.event_id is None)
        or (e.kind in ("call", "meeting") and e.direction == "in")
    ]
    last = two_way[-1].at if two_way else None

    total = 0.0
    if last is not None:
        total += 30 * _weight(as_of - last, RECENCY_HALF_LIFE)
    total += 15 * min(1.0, sum(_weight(as_of - e.at) for e in two_way) / 3)
    answers = {id(p): _answered(p, replies) for p in pitches}
    pitched = sum(_weight(as_of - p.at) for p in pitches)
    if pitched > 0:
        answered = sum(_weight(as_of - p.at) for p in pitches if answers[id(p)] is not None)
        total += 20 * answered / pitched * min(1.0, pitched)
    total += 5 * min(1.0, sum(_weight(as_of - e.at) for e in started) / 2)
    year_ago = as_of - timedelta(days=365)
    delays = [
        (reply.at - p.at).total_seconds() / 3600
        for p in pitches
        if (reply := answers[id(p)]) is not None and p.at >= year_ago
    ]
    if delays:
        hours = median(delays)
        total += 5 if hours <= 24 else 3 if hours <= 72 else 1
    total += 15 * min(1.0, sum(_weight(as_of - e.at) for e in coverage))
    total += 10 * min(1.0, sum(_weight(as_of - e.at) for e in attended))
    value = max(0, min(100, round(total)))

    engaged = bool(two_way or coverage)
    if not engaged and len(pitches) < NEW_PITCHES:
        state = "new"
    else:
        state = "warm" if value >= WARM else "cooling" if value >= COOLING else "cold"
    return Health(value, state, _reasons(as_of, pitches, answers, coverage, attended, started,
                                         last), last)  # fmt: skip


def _reasons(
    as_of: datetime,
    pitches: list[Entry],
    answers: dict[int, Entry | None],
    coverage: list[Entry],
    attended: list[Entry],
    started: list[Entry],
    last: datetime | None,
) -> list[Reason]:
    """What the score rests on, most telling first."""
    reasons: list[Reason] = []
    recent = pitches[-5:]
    if recent:
        replied = sum(1 for p in recent if answers[id(p)] is not None)
        reasons.append(Reason("replied", n=replied, of=len(recent)))
    year_ago = as_of - timedelta(days=365)
    covered = [e for e in coverage if e.at >= year_ago]
    if covered:
        names = tuple(dict.fromkeys(e.label for e in covered if e.label))[:3]
        reasons.append(Reason("covered", n=len(covered), names=names))
    went = [e for e in attended if e.at >= year_ago]
    if went:
        reasons.append(Reason("attended", n=len(went)))
    theirs = [e for e in started if e.at >= year_ago]
    if theirs:
        reasons.append(Reason("started", n=len(theirs)))
    if last is not None:
        reasons.append(Reason("last_two_way", days=(as_of - last).days))
    elif pitches:
        reasons.append(Reason("never_answered", n=len(pitches)))
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
    past = sorted((e for e in timeline if e.at <= as_of), key=lambda e: e.at)
    responses = [
        e for e in past if e.kind == "email_in" or (e.kind == "rsvp" and e.direction == "in")
    ]
    pitches: dict[int, int] = {}
    replies: dict[int, int] = {}
    for days in PERIODS:
        since = as_of - timedelta(days=days)
        recent = [p for p in past if p.pitch and p.at >= since]
        pitches[days] = len(recent)
        replies[days] = sum(1 for p in recent if _answered(p, responses) is not None)
    awaiting = None
    for entry in reversed(past):
        personal = entry.kind == "email_out" and not (entry.pitch and entry.campaign_id)
        if personal or entry.kind in ("call", "meeting"):
            break  # answered (an email of one's own, not a campaign), or spoken to since
        if entry.kind == "email_in":
            awaiting = entry
            break
    return Tally(pitches, replies, awaiting)
