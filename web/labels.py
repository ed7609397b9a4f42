"""The names the interface shows for stored codes (languages, media, states, kinds), marked
for the catalogue; templates show them with `tr(...)` in the reader's language."""

from __future__ import annotations

from crm.i18n import N_

LANGUAGE_NAMES = {
    "en": N_("English"),
    "sq": N_("Albanian"),
    "sr-Latn": N_("Serbian (Latin)"),
    "sr-Cyrl": N_("Serbian (Cyrillic)"),
}
MEDIUM_NAMES = {
    "tv": N_("TV"),
    "radio": N_("Radio"),
    "print": N_("Print"),
    "online": N_("Online"),
    "agency": N_("Agency"),
}
# Campaign, delivery and coalition-membership states share one list: the words coincide.
STATE_NAMES = {
    "draft": N_("draft"),
    "scheduled": N_("scheduled"),
    "sending": N_("sending"),
    "paused": N_("paused"),
    "finished": N_("finished"),
    "cancelled": N_("cancelled"),
    "queued": N_("queued"),
    "sent": N_("sent"),
    "deferred": N_("deferred"),
    "failed": N_("failed"),
    "unknown": N_("unknown"),
    "invited": N_("invited"),
    "accepted": N_("accepted"),
}
KIND_NAMES = {
    "note": N_("note"),
    "call": N_("call"),
    "meeting": N_("meeting"),
    "email_out": N_("email out"),
    "email_in": N_("email in"),
    "auto_reply": N_("auto-reply"),
    "bounce": N_("bounce"),
    "rsvp": N_("RSVP"),
    "event_attended": N_("event attended"),
    "coverage": N_("coverage"),
    "import": N_("import"),
    "merge": N_("merge"),
}
LEGAL_BASES = {
    "legitimate_interest": N_("Legitimate interest"),
    "consent": N_("Consent"),
    "public_source": N_("Public professional source"),
    "contract": N_("Contract"),
}
RSVP_NAMES = {
    "none": N_("no answer yet"),
    "accepted": N_("coming"),
    "tentative": N_("maybe"),
    "declined": N_("not coming"),
}
RSVP_CHANNEL_NAMES = {
    "": "",
    "link": N_("by the link"),
    "calendar": N_("from their calendar"),
    "officer": N_("told us"),
}
INBOUND_NAMES = {
    "reply": N_("Replies"),
    "auto_reply": N_("Auto-replies"),
    "bounce": N_("Bounces"),
    "complaint": N_("Spam complaints"),
    "calendar_reply": N_("Calendar answers"),
    "unsubscribe": N_("Unsubscriptions"),
    "unmatched": N_("Unmatched"),
}
INBOUND_ONE = {
    "reply": N_("reply"),
    "auto_reply": N_("auto-reply"),
    "bounce": N_("bounce"),
    "complaint": N_("spam complaint"),
    "calendar_reply": N_("calendar answer"),
    "unsubscribe": N_("unsubscription"),
    "unmatched": N_("unmatched"),
}
BOUNCE_KIND_NAMES = {
    "hard": N_("address does not exist"),
    "soft": N_("mailbox full"),
    "delayed": N_("delayed, still trying"),
    "policy": N_("refused by policy"),
}
UNMATCHED_REASONS = {
    "tampered": N_("The reply address was altered, so it names no message of ours."),
    "no_reference": N_("It names no message Beatbook sent."),
    "unknown_reference": N_("The message it answers is not (or no longer) in Beatbook."),
    "unknown_event": N_("The calendar answer is for no event or guest Beatbook knows."),
    "report": N_("A machine's report (a delivery notice, a read receipt, a DMARC report)."),
    "own_forward": N_("Beatbook's own copy of a reply, forwarded to your mailbox."),
    "failed": N_("Beatbook could not process it; it is kept here for you."),
}
TONE_NAMES = {
    "positive": N_("positive"),
    "neutral": N_("neutral"),
    "negative": N_("negative"),
}
COVERAGE_STATE_NAMES = {
    "confirmed": N_("Coverage"),
    "suggested": N_("Suggested"),
    "dismissed": N_("Dismissed"),
}
HEALTH_NAMES = {
    "new": N_("new"),
    "warm": N_("warm"),
    "cooling": N_("cooling"),
    "cold": N_("cold"),
}
FOLLOW_UP_REASON_NAMES = {
    "": N_("by hand"),
    "reply": N_("reply waiting"),
    "no_coverage": N_("no coverage yet"),
    "untouched": N_("untouched"),
}
GLOBALS = {
    "HEALTH_NAMES": HEALTH_NAMES,
    "FOLLOW_UP_REASON_NAMES": FOLLOW_UP_REASON_NAMES,
    "TONE_NAMES": TONE_NAMES,
    "COVERAGE_STATE_NAMES": COVERAGE_STATE_NAMES,
    "INBOUND_NAMES": INBOUND_NAMES,
    "INBOUND_ONE": INBOUND_ONE,
    "BOUNCE_KIND_NAMES": BOUNCE_KIND_NAMES,
    "UNMATCHED_REASONS": UNMATCHED_REASONS,
    "RSVP_NAMES": RSVP_NAMES,
    "RSVP_CHANNEL_NAMES": RSVP_CHANNEL_NAMES,
    "LANGUAGE_NAMES": LANGUAGE_NAMES,
    "MEDIUM_NAMES": MEDIUM_NAMES,
    "STATE_NAMES": STATE_NAMES,
    "KIND_NAMES": KIND_NAMES,
    "LEGAL_BASES": LEGAL_BASES,
}
