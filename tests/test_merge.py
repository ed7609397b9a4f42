"""Merge templates: what an officer may write, what a journalist receives, and what is refused."""

from __future__ import annotations

import time

import pytest

from crm.errors import InvalidInput
from outreach import merge
from outreach.merge import (
    ALLOWED_FILTERS,
    MAX_BODY_CHARS,
    MAX_EMBARGO_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_VALUE_CHARS,
    RenderError,
    TemplateError,
    check_custom_field_name,
    compile_variant,
)

ARBEN = {
    "first_name": "Arben",
    "last_name": "Krasniqi",
    "salutation": "I nderuar z. Krasniqi",
    "outlet": "Koha Ditore",
    "beat": "Human rights",
}


def body_error(body: str, **kwargs: object) -> str:
    with pytest.raises(TemplateError) as caught:
        compile_variant(subject="Press release", body=body, **kwargs)  # type: ignore[arg-type]
    return caught.value.errors["body"]


def render(body: str, values: dict[str, str | None] | None = None, **kwargs: str) -> merge.Rendered:
    subject = kwargs.pop("subject", "Press release")
    embargo = kwargs.pop("embargo", "")
    variant = compile_variant(subject=subject, body=body, embargo=embargo)
    return variant.render(ARBEN if values is None else values, **kwargs)


# --- refused at compile time ---------------------------------------------------------------


def test_dunder_access_is_rejected_at_compile() -> None:
    assert "attribute access" in body_error("{{ ''.__class__.__mro__ }}")


def test_attr_filter_is_rejected_at_compile() -> None:
    assert "filter 'attr' is not allowed" in body_error("{{ first_name|attr('__class__') }}")


def test_for_loop_over_a_huge_range_is_rejected_at_compile() -> None:
    assert "for loops" in body_error("{% for i in range(10**9) %}{{ i }}{% endfor %}")


def test_method_call_is_rejected_at_compile() -> None:
    assert "calling" in body_error("{{ first_name.upper() }}")


def test_unknown_field_is_rejected_naming_it() -> None:
    message = body_error("Dear {{ frist_name }},")
    assert "unknown field 'frist_name'" in message and "first_name" in message


def test_include_is_rejected_at_compile() -> None:
    assert "{% include %}" in body_error("{% include 'x' %}")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("{% set x = 1 %}", "{% set %}"),
        ("{% macro m() %}x{% endmacro %}", "macros"),
        ("{% call first_name() %}x{% endcall %}", "{% call %}"),
        ("{% import 'x' as y %}", "{% import %}"),
        ("{% from 'x' import y %}", "{% import %}"),
        ("{% extends 'base' %}", "{% extends %}"),
        ("{% block b %}x{% endblock %}", "{% block %}"),
        ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
        ("{% with a = 1 %}x{% endwith %}", "With"),
        ("{% raw %}{{ x }}{% endraw %}", "{% raw %}"),
        ("{{ first_name['x'] }}", "item access"),
        ("{{ _secret }}", "starting with _"),
        ("{{ first_name|format(1) }}", "filter 'format'"),
        ("{{ first_name|map('upper') }}", "filter 'map'"),
        ("{{ first_name|safe }}", "filter 'safe'"),
        ("{% if first_name is defined %}x{% endif %}", "tests"),
        ("{{ first_name ~ last_name }}", "Concat"),
        ("{{ 10**9 }}", "Pow"),
        ("{{ lipsum() }}", "calling"),
        ("{% if first_name > 'a' %}x{% endif %}", "== and !="),
        ("{{ first_name if outlet }}", "needs an else"),
        ("{{ first_name|default(*outlet) }}", "plain values"),
    ],
)
def test_everything_beyond_fields_filters_and_if_is_rejected_naming_it(
    body: str, named: str
) -> None:
    assert named in body_error(body)


def test_syntax_error_names_the_line() -> None:
    assert body_error("Dear {{ first_name },\n\nbye").startswith("line 1:")
    assert "endif" in body_error("intro\n\n{% if outlet %}no end")


def test_subject_is_checked_like_the_body_and_both_are_reported_together() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_variant(subject="Hi {{ first_name.title() }}", body="{{ nobody }}")
    assert "calling" in caught.value.errors["subject"]
    assert "unknown field 'nobody'" in caught.value.errors["body"]
    assert isinstance(caught.value, InvalidInput)


@pytest.mark.parametrize(
    "subject", ["Hi {{ first_name", "{{ first_name|attr('x') }}", "{% for x in y %}{% endfor %}"]
)
def test_bad_subject_is_a_template_error(subject: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_variant(subject=subject, body="Hello.")
    assert set(caught.value.errors) == {"subject"}


def test_subject_and_body_are_required() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_variant(subject="  ", body="\n")
    assert caught.value.errors == {"subject": "required", "body": "required"}


def test_merge_field_inside_a_link_address_is_rejected() -> None:
    assert "link address" in body_error("[RSVP](https://example.org/{{ last_name }})")
    assert "link address" in body_error('[RSVP](https://example.org "{{ first_name }}")')
    assert "link address" in body_error("[RSVP]({{ first_name }})")
    assert "link address" in body_error("[RSVP](https://example.org/{{ rsvp_yes_url }})")


def test_an_rsvp_link_field_may_be_a_whole_link_address() -> None:
    variant = compile_variant(subject="Ftesë", body="Do të vini? [Po]({{ rsvp_yes_url }})")
    url = "https://beatbook.example/rsvp/ABC?answer=yes&x=1"
    out = variant.render({"rsvp_yes_url": url})
    assert '<a href="https://beatbook.example/rsvp/ABC?answer=yes&amp;x=1"' in out.html
    assert f"Po ({url})" in out.text


def test_merge_field_where_formatting_drops_it_is_rejected() -> None:
    assert "drops it" in body_error("![{{ first_name }}](https://example.org/logo.png)")


def test_if_cutting_through_emphasis_is_rejected() -> None:
    assert "whole paragraphs" in body_error("{% if outlet %}*Dear {% endif %}colleague*")


def test_too_deep_nesting_is_a_template_error() -> None:
    body = "{% if beat %}" * 3000 + "x" + "{% endif %}" * 3000
    assert "nested too deeply" in body_error(body)


def test_oversized_sources_are_rejected() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_variant(
            subject="s" * (MAX_SUBJECT_CHARS + 1),
            body="b" * (MAX_BODY_CHARS + 1),
            embargo="e" * (MAX_EMBARGO_CHARS + 1),
        )
    assert set(caught.value.errors) == {"subject", "body", "embargo"}
    assert all("at most" in message for message in caught.value.errors.values())


# --- custom fields -------------------------------------------------------------------------


def test_custom_fields_can_be_used_once_declared() -> None:
    variant = compile_variant(
        subject="{{ project_code }}", body="Ref {{ project_code }}", custom_fields=["project_code"]
    )
    assert variant.fields == {"project_code"}
    assert variant.render({"project_code": "FOE-26"}).text == "Ref FOE-26"
    assert "unknown field 'project_code'" in body_error("Ref {{ project_code }}")


@pytest.mark.parametrize("name", ["Project", "2nd", "_x", "a-b", "a" * 41, "", "ë"])
def test_custom_field_names_must_be_lower_case_identifiers(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_custom_field_name(name)
    assert "custom_field" in caught.value.errors


@pytest.mark.parametrize("name", ["outlet", "personal_line", "none", "true", "self", "loop"])
def test_custom_field_names_cannot_shadow_fields_or_jinja_words(name: str) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        check_custom_field_name(name)
    with pytest.raises(TemplateError) as caught:
        compile_variant(subject="s", body="b", custom_fields=[name])
    assert "reserved" in caught.value.errors["custom_fields"]


def test_good_custom_field_name_passes() -> None:
    check_custom_field_name("event_date_2")


# --- what recipients receive ---------------------------------------------------------------


def test_values_are_escaped_in_html_and_literal_in_text_and_subject() -> None:
    values = {**ARBEN, "first_name": "<script>alert(1)</script>"}
    rendered = render("Dear {{ first_name }},", values, subject="For {{ first_name }}")
    assert "<script>" not in rendered.html
    assert "Dear &lt;script&gt;alert(1)&lt;/script&gt;," in rendered.html
    assert rendered.text == "Dear <script>alert(1)</script>,"
    assert rendered.subject == "For <script>alert(1)</script>"


def test_markdown_characters_in_values_stay_literal() -> None:
    values = {**ARBEN, "first_name": "*Arben*", "last_name": "__K__", "outlet": "# Koha [x](y)"}
    rendered = render("Dear {{ first_name }} {{ last_name }} of {{ outlet }}", values)
    assert rendered.text == "Dear *Arben* __K__ of # Koha [x](y)"
    assert "<em>" not in rendered.html and "<strong>" not in rendered.html
    assert "<h1>" not in rendered.html and "<a" not in rendered.html
    assert "Dear *Arben* __K__ of # Koha [x](y)" in rendered.html


def test_fields_survive_emphasis_link_text_lists_headings_tables_and_code() -> None:
    body = (
        "# For {{ outlet }}\n\n"
        "*{{ first_name }}*, **{{ last_name }}** and [{{ beat }}](https://example.org)\n\n"
        "- {{ salutation }}\n\n"
        "| who |\n|---|\n| {{ first_name }} |\n\n"
        "`{{ last_name }}`"
    )
    html = render(body).html
    assert "<h1>For Koha Ditore</h1>" in html
    assert "<em>Arben</em>, <strong>Krasniqi</strong>" in html
    assert '<a href="https://example.org" rel="noopener">Human rights</a>' in html
    assert "<li>I nderuar z. Krasniqi</li>" in html
    assert "<td>Arben</td>" in html
    assert "<code>Krasniqi</code>" in html


def test_text_part_is_readable_plain_text() -> None:
    body = (
        "## Report on *press freedom*\n\n"
        "Dear {{ first_name }},\n"
        "we publish **today** & you're invited.\n\n"
        "- findings\n- [the report](https://example.org/r?a=1&b=2)\n  - annex\n\n"
        "1. first\n2. second\n\n"
        "> a quote\n\n"
        "Write to <press@example.org> or visit <https://example.org>."
    )
    assert render(body).text == (
        "Report on press freedom\n\n"
        "Dear Arben, we publish today & you're invited.\n\n"
        "- findings\n- the report (https://example.org/r?a=1&b=2)\n  - annex\n\n"
        "1. first\n2. second\n\n"
        "> a quote\n\n"
        "Write to press@example.org or visit https://example.org."
    )


def test_html_is_sanitised_and_links_keep_only_safe_schemes() -> None:
    body = "[a](javascript:alert(1)) [b](ftp://x.org/f) [c](mailto:p@x.org) <b onclick=x>raw</b>"
    html = render(body).html
    assert 'href="javascript' not in html and "ftp:" not in html
    assert "[a](javascript:alert(1))" in html  # Markdown refuses the link, so it stays text
    assert 'href="mailto:p@x.org"' in html
    assert "<b" not in html and "&lt;b onclick=x&gt;raw&lt;/b&gt;" in html


def test_personal_line_goes_where_the_template_puts_it() -> None:
    body = "Dear {{ first_name }},\n\n{{ personal_line }}\n\nThe report is out."
    rendered = render(body, personal_line="Loved your piece on the Ibar bridge.")
    assert rendered.text == (
        "Dear Arben,\n\nLoved your piece on the Ibar bridge.\n\nThe report is out."
    )
    assert "<p>Dear Arben,</p>\n<p>Loved your piece on the Ibar bridge.</p>" in rendered.html


def test_personal_line_opens_the_body_when_the_template_has_no_place_for_it() -> None:
    rendered = render("Dear {{ first_name }},", personal_line="Loved your piece.")
    assert rendered.text == "Loved your piece.\n\nDear Arben,"
    assert rendered.html.startswith("<p>Loved your piece.</p>\n<p>Dear Arben,</p>")


@pytest.mark.parametrize("body", ["Dear all,\n\n{{ personal_line }}\n\nBye.", "Dear all,\n\nBye."])
def test_empty_personal_line_leaves_no_blank_paragraph(body: str) -> None:
    rendered = render(body, personal_line="  ")
    assert rendered.text == "Dear all,\n\nBye."
    assert rendered.html.strip() == "<p>Dear all,</p>\n<p>Bye.</p>"


def test_personal_line_is_escaped_and_keeps_its_line_breaks() -> None:
    rendered = render("Body.", personal_line="Thanks <b>Arben</b>\r\nSee you *soon*")
    assert rendered.html.startswith("<p>Thanks &lt;b&gt;Arben&lt;/b&gt;<br>\nSee you *soon*</p>")
    assert rendered.text.startswith("Thanks <b>Arben</b>\nSee you *soon*\n\nBody.")


def test_embargo_comes_first_in_text_and_html() -> None:
    embargo = "EMBARGOED UNTIL 27 November 2026, 10:00 CET <b>"
    rendered = render("Dear {{ first_name }},", embargo=embargo, personal_line="Hi.")
    assert rendered.text == f"{embargo}\n\nHi.\n\nDear Arben,"
    assert rendered.html.startswith(
        "<p><strong>EMBARGOED UNTIL 27 November 2026, 10:00 CET &lt;b&gt;</strong></p>\n<p>Hi.</p>"
    )
    assert "EMBARGO" not in render("Dear {{ first_name }},").html


@pytest.mark.parametrize("value", [None, "", "   "])
def test_field_used_bare_without_a_value_is_a_render_error_naming_it(value: str | None) -> None:
    variant = compile_variant(subject="Hi", body="Dear {{ first_name }},")
    with pytest.raises(RenderError, match="first_name") as caught:
        variant.render({**ARBEN, "first_name": value})
    assert caught.value.field == "first_name"
    with pytest.raises(RenderError, match="outlet"):
        compile_variant(subject="{{ outlet|upper }}", body="x").render({})


@pytest.mark.parametrize("value", [None, "", "  "])
def test_missing_field_is_fine_under_default_or_inside_if(value: str | None) -> None:
    body = (
        'Dear {{ first_name|default("colleague") }},\n\n'
        "{% if outlet %}At {{ outlet }}.{% else %}Freelance.{% endif %}"
    )
    rendered = render(body, {"first_name": value, "outlet": value})
    assert rendered.text == "Dear colleague,\n\nFreelance."


def test_if_elif_else_and_comparisons_choose_a_branch() -> None:
    body = (
        'A {% if beat == "environment" %}green{% elif outlet != "Koha" %}other'
        "{% else %}koha{% endif %} B"
    )
    assert render(body, {"beat": "environment"}).text == "A green B"
    assert render(body, {"outlet": "Zëri"}).text == "A other B"
    assert render(body, {"outlet": "Koha"}).text == "A koha B"


def test_if_block_on_its_own_lines_leaves_no_empty_paragraph_or_stray_space() -> None:
    body = (
        "Dear {{ first_name }},\n"
        "{% if outlet %}\n"
        "I read {{ outlet }}.\n"
        "{% endif %}\n\n"
        "{% if beat %}\n\n"
        "You cover {{ beat }}.\n\n"
        "{% endif %}\n\n"
        "Bye."
    )
    full = render(body)
    assert full.text == "Dear Arben, I read Koha Ditore.\n\nYou cover Human rights.\n\nBye."
    bare = render(body, {"first_name": "Arben"})
    assert bare.text == "Dear Arben,\n\nBye."
    assert "<p></p>" not in bare.html and "<p>\n</p>" not in bare.html
    assert bare.html.count("<p>") == 2


def test_filters_on_the_allow_list_work() -> None:
    body = "{{ first_name|upper }} {{ last_name|lower }} {{ beat|title }} {{ outlet|trim }}"
    values = {
        "first_name": "arbën",
        "last_name": "KRASNIQI",
        "beat": "human rights",
        "outlet": " K ",
    }
    assert render(body, values).text == "ARBËN krasniqi Human Rights K"


def test_subject_loses_line_breaks_from_values() -> None:
    values = {**ARBEN, "outlet": "Koha\r\nBcc: everyone@example.org"}
    rendered = render("x", values, subject="Report for {{ outlet }}\n")
    assert rendered.subject == "Report for Koha Bcc: everyone@example.org"


def test_escaped_jinja_braces_in_markdown_stay_literal() -> None:
    rendered = render("Write \\{\\{ first_name }} or {\\% if %} {# a note #}to get it.")
    assert rendered.text == "Write {{ first_name }} or {% if %} to get it."


def test_albanian_and_serbian_cyrillic_round_trip() -> None:
    values = {
        **ARBEN,
        "first_name": "Ђорђе",
        "last_name": "Јовановић",
        "outlet": "Radio Kontakt Plus",
    }
    body = "Përshëndetje **{{ first_name }}**, Поштовани {{ last_name }} — «{{ outlet }}» ç ë"
    rendered = render(body, values, subject="Ftesë për {{ first_name }} Ђ")
    assert rendered.subject == "Ftesë për Ђорђе Ђ"
    assert rendered.text == "Përshëndetje Ђорђе, Поштовани Јовановић — «Radio Kontakt Plus» ç ë"
    assert "<strong>Ђорђе</strong>, Поштовани Јовановић" in rendered.html
    assert "Përshëndetje" in rendered.html and "ç ë" in rendered.html


def test_fields_lists_what_subject_and_body_use() -> None:
    variant = compile_variant(
        subject="{{ outlet }}", body="{% if beat %}{{ first_name }}{% endif %} {{ personal_line }}"
    )
    assert variant.fields == {"outlet", "beat", "first_name", "personal_line"}


def test_values_the_template_does_not_use_are_ignored() -> None:
    rendered = render("Hello.", {"first_name": None, "unrelated": "x", "last_name": "y" * 10_000})
    assert rendered.text == "Hello."


# --- caps ----------------------------------------------------------------------------------


def test_value_longer_than_the_cap_is_a_render_error() -> None:
    variant = compile_variant(subject="s", body="{{ outlet }}")
    with pytest.raises(RenderError) as caught:
        variant.render({"outlet": "x" * (MAX_VALUE_CHARS + 1)})
    assert caught.value.field == "outlet"
    with pytest.raises(RenderError) as caught:
        variant.render({"outlet": "x"}, personal_line="p" * (MAX_VALUE_CHARS + 1))
    assert caught.value.field == "personal_line"


def test_value_that_is_not_text_is_a_render_error() -> None:
    variant = compile_variant(subject="s", body="{{ outlet }}")
    with pytest.raises(RenderError, match="must be text") as caught:
        variant.render({"outlet": 42})  # type: ignore[dict-item]
    assert caught.value.field == "outlet"


def test_rendered_size_is_capped() -> None:
    variant = compile_variant(subject="s", body="{{ outlet }} " * 1000)
    with pytest.raises(RenderError, match="exceed") as caught:
        variant.render({"outlet": "x" * MAX_VALUE_CHARS})
    assert caught.value.field is None


def test_render_time_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    variant = compile_variant(subject="s", body="{{ outlet }}")
    monkeypatch.setattr(merge, "RENDER_TIME_LIMIT", -1.0)  # already past the deadline
    with pytest.raises(RenderError, match="too long"):
        variant.render({"outlet": "Koha"})


# --- the sandbox behind the AST check ------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["{{ ''.__class__.__mro__ }}", "{{ range(10) }}", "{{ joiner }}"]
)
def test_sandbox_refuses_unsafe_attributes_and_has_no_globals(source: str) -> None:
    template = merge._HTML_ENV.from_string(source)  # as if the AST check had let it through
    with pytest.raises(RenderError):
        merge._run(template, {}, time.perf_counter() + 1)


def test_sandbox_knows_only_the_allowed_filters() -> None:
    assert set(merge._HTML_ENV.filters) == set(merge._TEXT_ENV.filters) == set(ALLOWED_FILTERS)
