"""The health score as a pure function of a timeline and a date, on a fixed clock: what
raises it, what lowers it, what never raises it, the states, and the words that explain it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.health.score import Entry, Reason, history, score, tally

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
    assert Reason("last_two_way", days=30) in health.reasons  # coverage is not contact
    silent = score([pitch(40), pitch(20), pitch(10)], NOW)
    assert silent.reasons == [Reason("replied", n=0, of=3), Reason("never_answered", n=3)]


def test_an_rsvp_answers_an_invitation_and_attendance_counts() -> None:
    invite = Entry(
        "email_out", ago(20), "out", campaign_id=7, event_id=3, pitch=True, invitation=True
    )
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


def personal(days: float) -> Entry:
    return Entry("email_out", ago(days), "out", pitch=True)


def test_answering_their_message_is_not_a_pitch() -> None:
    asked = [pitch(20), reply(19)]
    answered = [*asked, personal(18.5), personal(18)]  # two emails back: answers, not pitches
    assert score(answered, NOW).score >= score(asked, NOW).score
    assert Reason("replied", n=1, of=1) in score(answered, NOW).reasons
    assert tally(asked, NOW).awaiting is not None and tally(answered, NOW).awaiting is None
    campaign_answer = Entry("email_out", ago(18), "out", campaign_id=9, answer=True)
    assert tally([*asked, campaign_answer], NOW).awaiting is None
    reminder = Entry("email_out", ago(18), "out", campaign_id=9)  # neither pitch nor answer
    assert tally([*asked, reminder], NOW).awaiting is not None


def test_one_reply_answers_one_pitch_of_its_own() -> None:
    five = [personal(30 - d) for d in range(5)]
    assert Reason("replied", n=1, of=5) in score([*five, reply(25.5, None)], NOW).reasons
    # A reply on another campaign answers no personal email, and is not "theirs" either.
    other = score([personal(10), reply(9, campaign=4)], NOW)
    assert Reason("replied", n=0, of=1) in other.reasons
    assert not any(r.code == "started" for r in other.reasons)
    # A reply to our personal email is an answer, not contact they started.
    mine = score([personal(10), reply(9, None)], NOW)
    assert Reason("replied", n=1, of=1) in mine.reasons
    assert not any(r.code == "started" for r in mine.reasons)


def test_a_decline_answers_the_invitation_but_is_no_warmth() -> None:
    invite = Entry(
        "email_out", ago(20), "out", campaign_id=7, event_id=3, pitch=True, invitation=True
    )
    declined = score([invite, Entry("rsvp_declined", ago(19), "in", event_id=3)], NOW)
    accepted = score([invite, Entry("rsvp", ago(19), "in", event_id=3)], NOW)
    assert Reason("replied", n=1, of=1) in declined.reasons
    assert declined.last_two_way is None and accepted.score > declined.score


def test_a_relationship_kept_by_phone_is_warm_and_a_first_meeting_is_new() -> None:
    weekly = [Entry("call", ago(1 + 7 * w), "out") for w in range(52)]
    assert score(weekly, NOW).state == "warm"
    assert score([Entry("meeting", ago(1), "out")], NOW).state == "new"
    covered_often = [covered(30 * m, campaign=None) for m in range(12)]
    silent = [*covered_often, *(pitch(30 * m + 5, campaign=m) for m in range(12))]
    assert score(silent, NOW).state in ("cooling", "warm")  # they write about us: not cold


def test_a_long_timeline_scores_fast_enough_to_read() -> None:
    # A wire desk's address gets every campaign: 1,000 pitches and 300 replies over 3 years.
    busy = [pitch(i * 1.1, campaign=i) for i in range(1000)]
    busy += [reply(i * 3.3 - 0.2, campaign=i * 3) for i in range(300)]
    health = score(busy, NOW)
    assert 0 <= health.score <= 100 and len(history(busy, NOW)) == 13
