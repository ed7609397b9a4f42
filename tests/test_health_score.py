"""The health score as a pure function of a timeline and a date, on a fixed clock: what
raises it, what lowers it, what never raises it, the states, and the words that explain it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.health.score import Entry, Reason, history, score

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def pitch(days: float, campaign: int = 1, label: str = "") -> Entry:
    return Entry("email_out", ago(days), "out", campaign_id=campaign, pitch=True, label=label)


def reply(days: float, campaign: int | None = 1) -> Entry:
    return Entry("email_in", ago(days), "in", campaign_id=campaign)


def covered(days: float, label: str = "", campaign: int | None = 1) -> Entry:
    return Entry("coverage", ago(days), campaign_id=campaign, label=label)


# A journalist who answers most pitches within a day and covered one campaign.
GOOD = [
    pitch(200, 1), reply(199.5, 1), pitch(120, 2), reply(119, 2), pitch(60, 3),
    pitch(30, 4), reply(29.8, 4), covered(25, "Raporti i marsit", 4),
]  # fmt: skip


def test_a_more_recent_reply_raises_the_score() -> None:
    base = [pitch(100, 1), pitch(50, 2)]
    old_reply = score([*base, reply(99, 1)], NOW)
    new_reply = score([*base, reply(49, 2)], NOW)
    assert new_reply.score > old_reply.score
    assert score([*GOOD, Entry("call", ago(1), "in")], NOW).score > score(GOOD, NOW).score


def test_time_without_contact_lowers_the_score() -> None:
    values = [score(GOOD, NOW + timedelta(days=d)).score for d in (0, 30, 90, 180, 365)]
    assert values == sorted(values, reverse=True) and values[0] > values[-1]
    states = [score(GOOD, NOW + timedelta(days=d)).state for d in (0, 90, 365)]
    assert states == ["warm", "cooling", "cold"]


@pytest.mark.parametrize("timeline", [GOOD, [], [pitch(10)], [reply(3, None)], GOOD[:4]])
def test_an_unanswered_pitch_never_raises_the_score(timeline: list[Entry]) -> None:
    before = score(timeline, NOW).score
    for days in (0, 1, 45, 200):
        assert score([*timeline, pitch(days, campaign=99)], NOW).score <= before


def test_the_score_reads_only_the_past() -> None:
    later = [*GOOD, reply(-3, 4), covered(-5)]  # entries after as_of
    assert score(later, NOW) == score(GOOD, NOW)


def test_states_new_warm_cooling_cold() -> None:
    assert score([], NOW).state == "new"
    assert score([pitch(5), pitch(3)], NOW).state == "new"  # not answered yet, early days
    assert score([pitch(300), pitch(200), pitch(100), pitch(5)], NOW).state == "cold"
    warm = score(GOOD, NOW)
    assert warm.state == "warm" and 50 <= warm.score <= 100
    cooling = score(GOOD, NOW + timedelta(days=75))
    assert cooling.state == "cooling"


def test_the_explanation_says_what_the_score_rests_on() -> None:
    health = score(GOOD, NOW)
    assert Reason("replied", n=3, of=4) in health.reasons
    assert Reason("covered", n=1, names=("Raporti i marsit",)) in health.reasons
    assert Reason("last_two_way", days=29) in health.reasons  # coverage is not contact
    silent = score([pitch(40), pitch(20), pitch(10)], NOW)
    assert silent.reasons == [Reason("replied", n=0, of=3), Reason("never_answered", n=3)]


def test_an_rsvp_answers_an_invitation_and_attendance_counts() -> None:
    invite = Entry("email_out", ago(20), "out", campaign_id=7, event_id=3, pitch=True)
    rsvp = Entry("rsvp", ago(19), "in", event_id=3)
    attended = Entry("event_attended", ago(10), event_id=3)
    health = score([invite, rsvp, attended], NOW)
    assert Reason("replied", n=1, of=1) in health.reasons
    assert Reason("attended", n=1) in health.reasons
    assert health.score > score([invite, rsvp], NOW).score > score([invite], NOW).score


def test_contact_the_journalist_started_counts() -> None:
    theirs = [reply(10, None), Entry("call", ago(5), "in")]
    health = score(theirs, NOW)
    assert Reason("started", n=2) in health.reasons
    assert health.score > score([Entry("call", ago(5), "out")], NOW).score


def test_a_slow_answer_is_worth_less_than_a_quick_one() -> None:
    quick = score([pitch(10), reply(9.9)], NOW)
    slow = score([pitch(10.5), reply(6.5)], NOW)  # four days later, yet more recent
    assert quick.score > slow.score - 1  # recency favours the slow one by under a point


def test_history_is_the_same_function_at_earlier_dates() -> None:
    trend = history(GOOD, NOW, weeks=4)
    assert len(trend) == 5 and trend[-1] == "w"
    for back, letter in zip(range(4, -1, -1), trend, strict=True):
        state = score(GOOD, NOW - timedelta(weeks=back)).state
        assert letter == {"new": "n", "warm": "w", "cooling": "c", "cold": "x"}[state]
