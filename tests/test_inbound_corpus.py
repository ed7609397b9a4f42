"""The corpus of raw inbound messages (tests/fixtures/inbound: at least three per class and
bounce kind, written as those clients and servers write them) through the classifier, each
with its expected class and extracted fields; and what matched nothing, through the whole
pipeline on a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm.settings import Settings
from outreach.compose import reply_secret
from outreach.inbound import classify, pipeline

CORPUS = Path(__file__).parent / "fixtures" / "inbound"
SECRET = reply_secret(
    Settings(_env_file=None, suppression_key="beatbook-test-corpus")  # type: ignore[call-arg]
)
DOMAIN = "replies.qendra.org"


def _cases(folder: str) -> list[Any]:
    expected = json.loads((CORPUS / folder / "expected.json").read_text(encoding="utf-8"))
    return [pytest.param(e, id=e["file"]) for e in expected]


def _classified(folder: str, case: dict[str, Any]) -> classify.Classified:
    raw = (CORPUS / folder / case["file"]).read_bytes()
    return classify.classify(raw, secret=SECRET, reply_domain=DOMAIN)


def test_the_corpus_has_three_of_every_class_and_bounce_kind() -> None:
    seen: dict[str, int] = {}
    for folder in CORPUS.iterdir():
        for case in json.loads((folder / "expected.json").read_text(encoding="utf-8")):
            key = case["class"] + (f":{case['kind']}" if case.get("kind") else "")
            seen[key] = seen.get(key, 0) + 1
    wanted = [
        "reply", "auto_reply", "complaint", "calendar_reply", "unsubscribe", "unmatched",
        "bounce:hard", "bounce:soft", "bounce:delayed", "bounce:policy",
    ]  # fmt: skip
    assert {k: seen.get(k, 0) for k in wanted if seen.get(k, 0) < 3} == {}


@pytest.mark.parametrize("case", _cases("reply"))
def test_replies_are_matched_by_token_or_references_and_stripped(case: dict[str, Any]) -> None:
    found = _classified("reply", case)
    assert found.category == "reply"
    assert found.delivery_id == case["delivery_id"]
    assert list(found.references) == case["references"]
    assert found.text == case["text"]


@pytest.mark.parametrize("case", _cases("bounce"))
def test_bounces_have_their_kind_address_status_and_original(case: dict[str, Any]) -> None:
    found = _classified("bounce", case)
    assert (found.category, found.kind) == ("bounce", case["kind"])
    assert found.delivery_id == case["delivery_id"]
    assert found.fields["address"] == case["address"]
    assert found.fields["status"] == case["status"]
    assert case["diagnostic_contains"] in found.fields["diagnostic"]
    assert found.original_message_id == case["original_message_id"]


@pytest.mark.parametrize("case", _cases("auto_reply"))
def test_auto_replies_say_until_when_and_are_no_reply(case: dict[str, Any]) -> None:
    found = _classified("auto_reply", case)
    assert found.category == "auto_reply"
    assert found.fields["away_until"] == case["away_until"]
    assert found.delivery_id == case["delivery_id"]


@pytest.mark.parametrize("case", _cases("complaint"))
def test_complaints_name_the_address_and_the_message(case: dict[str, Any]) -> None:
    found = _classified("complaint", case)
    assert found.category == "complaint"
    assert found.fields["address"] == case["address"]
    assert found.fields["feedback_type"] == case["feedback_type"]
    assert found.original_message_id == case["original_message_id"]
    assert found.delivery_id == case["delivery_id"]


@pytest.mark.parametrize("case", _cases("calendar_reply"))
def test_calendar_replies_name_the_event_and_the_answer(case: dict[str, Any]) -> None:
    found = _classified("calendar_reply", case)
    assert found.category == "calendar_reply" and found.event_id == case["event_id"]
    [answer] = found.fields["answers"]
    assert (answer["attendee"], answer["partstat"]) == (case["attendee"], case["partstat"])


@pytest.mark.parametrize("case", _cases("unsubscribe"))
def test_mail_to_the_unsubscribe_address_unsubscribes(case: dict[str, Any]) -> None:
    found = _classified("unsubscribe", case)
    assert found.category == "unsubscribe" and found.delivery_id == case["delivery_id"]
    assert found.token


@pytest.mark.parametrize("case", _cases("unmatched"))
async def test_what_names_nothing_we_sent_is_unmatched(
    case: dict[str, Any], session: AsyncSession, settings: Settings
) -> None:
    corpus = settings.model_copy(
        update={"suppression_key": "beatbook-test-corpus", "reply_domain": DOMAIN}
    )
    raw = (CORPUS / "unmatched" / case["file"]).read_bytes()
    row = await pipeline.receive(session, corpus, raw, via="smtp")
    assert row.category == "unmatched" and row.delivery_id is None
    assert row.fields["references"] == case["references"]
