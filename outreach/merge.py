"""Merge templates for campaign mail: compile a variant once, render it per recipient fast.

A variant's body is Markdown with Jinja merge fields. Compiling hides every `{{ … }}` and
`{% … %}` behind an inert placeholder, runs Markdown and nh3 once, puts the Jinja source back
into the sanitised HTML (and into a plain-text version derived from it) and compiles both in
the immutable sandbox. Rendering is then only Jinja: no Markdown, no sanitising per recipient,
and merge values never pass through Markdown, so `*`, `_` and `#` in a name stay literal.

The AST check is the first line of defence (fields, a few filters and if/elif/else only); the
sandbox with its globals and filters stripped, and the size and time caps, are the second.

Missing data: a field the recipient lacks (no key, None, or only whitespace) is an error where
the template prints it bare, so "Dear ," never goes out; it is fine under `|default(…)` (put
`default` first in a chain) or inside `{% if field %}`, where it counts as false.
`personal_line` is never required.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any, NoReturn

import nh3
from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2.exceptions import TemplateRuntimeError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markdown_it import MarkdownIt
from markupsafe import Markup

from crm.errors import InvalidInput, message_of
from crm.i18n import N_
from outreach import plaintext

STANDARD_FIELDS = ("first_name", "last_name", "salutation", "vocative", "outlet", "beat")
# An invitation's: its event, in the reader's language, and the reader's own answer links.
EVENT_FIELDS = (
    "event_title", "event_start", "event_end", "venue", "online_link",
    "rsvp_yes_url", "rsvp_maybe_url", "rsvp_no_url",
)  # fmt: skip
# Addresses Beatbook makes (or checks to be http/https): a link may be one of them entirely.
LINK_FIELDS = frozenset({"rsvp_yes_url", "rsvp_maybe_url", "rsvp_no_url", "online_link"})
PERSONAL_LINE = "personal_line"
ALLOWED_FILTERS = ("upper", "lower", "title", "capitalize", "default", "d", "trim")

MAX_SUBJECT_CHARS = 500
MAX_BODY_CHARS = 100_000
MAX_EMBARGO_CHARS = 500
MAX_VALUE_CHARS = 2_000  # per merge value, and for the personal line
MAX_RENDERED_CHARS = 1_000_000  # per rendered part
_CUT = "\x00"  # where the subject ends and the text begins, in one render
RENDER_TIME_LIMIT = 0.5  # seconds for one recipient's subject, text and html together

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Words Jinja reads as literals, operators or special names: a field so named could never print.
_RESERVED = frozenset(
    "true false none and or not in is if else elif endif self loop caller varargs kwargs".split()
)


class TemplateError(InvalidInput):
    """The variant cannot be compiled; `errors` maps subject, body, embargo to a message."""


class RenderError(Exception):
    """One recipient's message cannot be rendered; `field` names the culprit when there is one."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str  # a body fragment, no <html> shell


class _MissingField(StrictUndefined):
    """Strict when printed, but false in `{% if %}` and replaced by `default`."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        name = self._undefined_name
        if name is None or self._undefined_obj is not missing:  # e.g. the sandbox refusing
            raise RenderError(None, self._undefined_message)
        raise RenderError(
            name, N_("No value for %(name)s: the template uses it without a default", name=name)
        )

    __iter__ = __str__ = __len__ = __contains__ = _fail_with_undefined_error  # type: ignore[assignment]
    __eq__ = Undefined.__eq__  # type: ignore[assignment]
    __ne__ = Undefined.__ne__  # type: ignore[assignment]
    __hash__ = Undefined.__hash__  # type: ignore[assignment]
    __bool__ = Undefined.__bool__  # type: ignore[assignment]


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=_MissingField)
    # Nothing to call and no filter beyond the allow-list, even if the AST check had a gap.
    env.globals.clear()
    env.tests.clear()
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    return env


_HTML_ENV = _environment(autoescape=True)
_TEXT_ENV = _environment(autoescape=False)
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_sanitise = functools.partial(
    nh3.clean,
    tags={"p", "br", "strong", "em", "s", "a", "ul", "ol", "li", "blockquote", "hr", "code"}
    | {"pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"},
    attributes={"a": {"href", "title"}, "ol": {"start"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener",
)

# --- checking the Jinja AST ----------------------------------------------------------------

_FORBIDDEN: dict[type[nodes.Node], str] = {
    nodes.For: N_("for loops are not allowed"),
    nodes.Macro: N_("macros are not allowed"),
    nodes.CallBlock: N_("%(tag)s blocks are not allowed", tag="{% call %}"),
    nodes.Assign: N_("%(tag)s is not allowed", tag="{% set %}"),
    nodes.AssignBlock: N_("%(tag)s is not allowed", tag="{% set %}"),
    nodes.Include: N_("%(tag)s is not allowed", tag="{% include %}"),
    nodes.Import: N_("%(tag)s is not allowed", tag="{% import %}"),
    nodes.FromImport: N_("%(tag)s is not allowed", tag="{% import %}"),
    nodes.Extends: N_("%(tag)s is not allowed", tag="{% extends %}"),
    nodes.Block: N_("%(tag)s is not allowed", tag="{% block %}"),
    nodes.FilterBlock: N_("%(tag)s blocks are not allowed", tag="{% filter %}"),
    nodes.Getattr: N_("attribute access (a.b) is not allowed"),
    nodes.Getitem: N_("item access (a['b']) is not allowed"),
    nodes.Call: N_("calling functions or methods is not allowed"),
    nodes.Test: N_("tests (`is …`) are not allowed; write %(example)s", example="{% if field %}"),
}
_ALLOWED_NODES = tuple(
    getattr(nodes, name)
    for name in "Template Output TemplateData Const If CondExpr Not And Or Operand".split()
)


def _check_ast(tree: nodes.Template, known: frozenset[str]) -> frozenset[str]:
    """Reject anything beyond fields, allowed filters and if/elif/else; return the fields used."""
    used: set[str] = set()
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Name):
            if node.name.startswith("_"):
                raise ValueError(
                    N_("names starting with _ are not allowed (%(name)s)", name=node.name)
                )
            if node.name not in known:
                raise ValueError(
                    N_(
                        "unknown field %(name)s; known: %(known)s",
                        name=repr(node.name),
                        known=", ".join(sorted(known)),
                    )
                )
            used.add(node.name)
        elif isinstance(node, nodes.Filter):
            if node.name not in ALLOWED_FILTERS:
                allowed = ", ".join(ALLOWED_FILTERS)
                raise ValueError(
                    N_(
                        "filter %(name)s is not allowed; allowed: %(allowed)s",
                        name=repr(node.name),
                        allowed=allowed,
                    )
                )
            if node.dyn_args or node.dyn_kwargs:
                raise ValueError(N_("filter arguments must be plain values"))
        elif isinstance(node, nodes.CondExpr) and node.expr2 is None:
            raise ValueError(N_("an inline if needs an else: {{ a if b else c }}"))
        elif isinstance(node, nodes.Compare):
            if any(op.op not in ("eq", "ne") for op in node.ops):
                raise ValueError(N_("only == and != comparisons are allowed"))
        elif not isinstance(node, _ALLOWED_NODES):
            raise ValueError(
                _FORBIDDEN.get(type(node))
                or N_(
                    "this expression (%(node)s) is not allowed; use fields and if/else",
                    node=type(node).__name__,
                )
            )
        stack.extend(node.iter_child_nodes())
    return frozenset(used)


def _parse(
    env: ImmutableSandboxedEnvironment, source: str, known: frozenset[str]
) -> frozenset[str]:
    """The fields `source` uses, after the AST check; ValueError says what is wrong."""
    try:
        return _check_ast(env.parse(source), known)
    except TemplateSyntaxError as exc:
        raise ValueError(
            N_("line %(line)s: %(error)s", line=exc.lineno, error=exc.message)
        ) from exc


def check_custom_field_name(name: str) -> None:
    """A custom field is a lower-case identifier that does not shadow a field or Jinja word."""
    if not _FIELD_NAME.fullmatch(name):
        message = N_(
            "%(name)s: use a-z, 0-9 and _, starting with a letter, at most 40 characters",
            name=repr(name),
        )
        raise InvalidInput({"custom_field": message})
    if name in STANDARD_FIELDS + EVENT_FIELDS or name == PERSONAL_LINE or name in _RESERVED:
        raise InvalidInput({"custom_field": N_("%(name)s is a reserved name", name=repr(name))})


# --- carrying Jinja through Markdown and nh3 ----------------------------------------------

# A whole {{ … }}, {% … %} or {# … #}, with quoted strings inside skipped as Jinja's lexer does.
_INSIDE = r"""(?:'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|[^'"])*?"""
_JINJA_TAG = re.compile(r"\{\{" + _INSIDE + r"\}\}|\{%" + _INSIDE + r"%\}|\{#.*?#\}", re.DOTALL)
_TAG = re.compile(r"<(/?)([a-z0-9]+)[^>]*>")
_LITERAL_BRACE = re.compile(r"\{(?=[{%#]|$)")


def _keyword(tag: str) -> str:
    words = tag[2:-2].strip("-+ \t\r\n").split() if tag.startswith("{%") else []
    return words[0] if words else ""


class _Placeholders:
    """Jinja tags swapped for alphanumeric tokens that Markdown and nh3 leave alone, and back."""

    def __init__(self, body: str) -> None:
        nonce = secrets.token_hex(4)
        while nonce in body:
            nonce = secrets.token_hex(4)
        self.nonce = nonce
        self.pattern = re.compile(rf"jx{nonce}(\d+)xj")
        self.tags: list[str] = []
        self.protected = _JINJA_TAG.sub(lambda m: self._swap(m[0], nonce), body)

    def _swap(self, tag: str, nonce: str) -> str:
        if tag.startswith("{#"):
            return ""
        if tag.startswith("{%") and _keyword(tag) not in ("if", "elif", "else", "endif"):
            raise ValueError(
                N_("%(tag)s is not allowed; use if/elif/else", tag=f"{{% {_keyword(tag)} %}}")
            )
        self.tags.append(tag)
        return f"jx{nonce}{len(self.tags) - 1}xj"

    def whole_links(self) -> frozenset[str]:
        """The placeholders of link fields, which may stand for a link's whole address."""
        return frozenset(
            f"jx{self.nonce}{i}xj"
            for i, tag in enumerate(self.tags)
            if tag.startswith("{{") and tag[2:-2].strip() in LINK_FIELDS
        )

    def _blocks_only(self, match: re.Match[str]) -> bool:
        return all(self.tags[int(i)].startswith("{%") for i in self.pattern.findall(match[0]))

    def tidy_html(self, html: str) -> str:
        """Unwrap paragraphs holding only {% if %} lines and drop the newline after each."""
        only = rf"<p>((?:{self.pattern.pattern}\s*)+)</p>"
        html = re.sub(only, lambda m: m[1].strip() if self._blocks_only(m) else m[0], html)
        line = rf"{self.pattern.pattern}\n"
        return re.sub(line, lambda m: m[0][:-1] if self._blocks_only(m) else m[0], html)

    def tidy_text(self, text: str) -> str:
        """Drop the space a soft line break left before an {% endif %} ending a line."""
        line_end = rf" +{self.pattern.pattern}(?=\n|$)"
        return re.sub(line_end, lambda m: m[0].lstrip() if self._blocks_only(m) else m[0], text)

    def check(self, html: str) -> None:
        """Every tag survived exactly once, and each if-branch keeps the HTML well-formed."""
        if sorted(int(i) for i in self.pattern.findall(html)) != list(range(len(self.tags))):
            raise ValueError(N_("a merge field sits where the formatting drops it (e.g. an image)"))
        depth, previous_end = 0, 0
        for match in self.pattern.finditer(html):
            tag = self.tags[int(match[1])]
            if not tag.startswith("{%"):
                continue
            if depth and not _keeps_html_whole(html[previous_end : match.start()]):
                raise ValueError(
                    N_(
                        "an {%% if %%} must wrap whole paragraphs or text inside one "
                        "paragraph: %(tag)s",
                        tag=tag,
                    )
                )
            depth += {"if": 1, "endif": -1}.get(_keyword(tag), 0)
            previous_end = match.end()

    def restore(self, rendered: str) -> str:
        """Put the Jinja tags back; a "{{" that Markdown made from escapes stays literal."""
        pieces, pos = [], 0
        for match in self.pattern.finditer(rendered):
            pieces.append(_LITERAL_BRACE.sub("{{ '{' }}", rendered[pos : match.start()]))
            pieces.append(self.tags[int(match[1])])
            pos = match.end()
        pieces.append(_LITERAL_BRACE.sub("{{ '{' }}", rendered[pos:]))
        return "".join(pieces)


def _keeps_html_whole(segment: str) -> bool:
    """Whether a branch of an if leaves the open elements as it found them (`</p><p>` does)."""
    opened: list[str] = []
    closed: list[str] = []
    for closing, name in _TAG.findall(segment):
        if name in ("br", "hr"):
            continue
        if not closing:
            opened.append(name)
        elif not opened:
            closed.append(name)
        elif opened.pop() != name:
            return False
    return closed == opened[::-1]


# --- compiling ----------------------------------------------------------------------------


def _compile_subject(subject: str, known: frozenset[str]) -> tuple[str, frozenset[str]]:
    fields = _parse(_TEXT_ENV, subject, known)  # before compiling, which trusts the source
    return subject, fields


def _compile_body(body: str, known: frozenset[str]) -> tuple[Template, str, frozenset[str]]:
    known |= {PERSONAL_LINE}
    fields = _parse(_HTML_ENV, body, known)
    placeholders = _Placeholders(body)
    html = placeholders.tidy_html(_sanitise(_MARKDOWN.render(placeholders.protected)))
    placeholders.check(html)
    links = placeholders.whole_links()
    text = placeholders.tidy_text(plaintext.from_html(html, placeholders.pattern, links))
    html_source, text_source = placeholders.restore(html), placeholders.restore(text)
    _parse(_HTML_ENV, html_source, known)  # what gets compiled passes the same check
    _parse(_TEXT_ENV, text_source, known)
    return _HTML_ENV.from_string(html_source), text_source, fields


def compile_variant(
    *, subject: str, body: str, embargo: str = "", custom_fields: Iterable[str] = ()
) -> CompiledVariant:
    """Compile one language variant of a campaign; raises TemplateError with field errors."""
    custom = tuple(custom_fields)
    try:
        for name in custom:
            check_custom_field_name(name)
    except InvalidInput as exc:
        raise TemplateError({"custom_fields": exc.errors["custom_field"]}) from exc
    known = frozenset(STANDARD_FIELDS + EVENT_FIELDS + custom)
    errors: dict[str, str] = {}
    embargo = " ".join(embargo.split())
    if len(embargo) > MAX_EMBARGO_CHARS:
        errors["embargo"] = N_("at most %(n)s characters", n=MAX_EMBARGO_CHARS)
    # Both parts are compiled even when one fails, so the officer sees every problem at once.
    head = main = None
    try:
        head = _compile_subject(_sized(subject, MAX_SUBJECT_CHARS), known)
    except (ValueError, RecursionError) as exc:
        errors["subject"] = _problem(exc)
    try:
        main = _compile_body(_sized(body, MAX_BODY_CHARS), known)
    except (ValueError, RecursionError) as exc:
        errors["body"] = _problem(exc)
    if errors or head is None or main is None:
        raise TemplateError(errors)
    fields = head[1] | main[2]
    # Subject and text are one template, cut apart after rendering: each render has a fixed
    # cost, and a NUL cannot come from a value (nothing people enter may hold one).
    subject_text = _TEXT_ENV.from_string(head[0] + _CUT + main[1])
    return CompiledVariant(subject_text, main[0], fields, embargo, tidy="{%" in body)


def _sized(source: str, limit: int) -> str:
    if not source.strip():
        raise ValueError(N_("required"))
    if len(source) > limit:
        raise ValueError(N_("at most %(n)s characters", n=f"{limit:,}"))
    return source


def _problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return N_("the template is nested too deeply")
    return message_of(exc)


# --- rendering ----------------------------------------------------------------------------

_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>\n?")
_BLANK_LINES = re.compile(r"\n\n\n+")


class CompiledVariant:
    """One variant, ready to render for each recipient."""

    def __init__(
        self,
        subject_text: Template,
        html: Template,
        fields: frozenset[str],
        embargo: str,
        *,
        tidy: bool,
    ) -> None:
        self.fields = fields
        self._subject_text, self._html = subject_text, html
        self._values = tuple(sorted(fields - {PERSONAL_LINE}))
        # An {% if %} or an empty personal line may leave blank paragraphs to sweep up.
        self._tidy = tidy or PERSONAL_LINE in fields
        self._embargo_text = f"{embargo}\n\n" if embargo else ""
        self._embargo_html = f"<p><strong>{escape(embargo)}</strong></p>\n" if embargo else ""

    def render(self, values: Mapping[str, str | None], *, personal_line: str = "") -> Rendered:
        """Subject, text and HTML for one recipient; raises RenderError naming a bad field."""
        context = self._context(values)
        line = _check_value(PERSONAL_LINE, personal_line or "").replace("\r\n", "\n").strip()
        line_html = Markup("<br>\n").join(line.split("\n")) if line else Markup("")
        deadline = time.perf_counter() + RENDER_TIME_LIMIT
        both = _run(self._subject_text, {**context, PERSONAL_LINE: line}, deadline)
        subject, _, text = both.partition(_CUT)
        subject = " ".join(subject.split())  # no CR/LF
        html = _run(self._html, {**context, PERSONAL_LINE: line_html}, deadline)
        if self._tidy:
            text = _BLANK_LINES.sub("\n\n", text.replace(" \n", "\n")).strip()
            html = _EMPTY_PARAGRAPH.sub("", html)
        if line and PERSONAL_LINE not in self.fields:
            text = f"{line}\n\n{text}"
            html = f"<p>{line_html}</p>\n{html}"
        return Rendered(subject, self._embargo_text + text, self._embargo_html + html)

    def _context(self, values: Mapping[str, str | None]) -> dict[str, str]:
        # Only the fields the template uses, in a fresh plain dict; blanks stay undefined.
        context = {}
        for name in self._values:
            value = values.get(name)
            if value is not None and _check_value(name, value).strip():
                context[name] = value
        return context


def _check_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise RenderError(
            name, N_("%(name)s must be text, not %(type)s", name=name, type=type(value).__name__)
        )
    if _CUT in value:
        raise RenderError(name, N_("%(name)s holds a NUL character", name=name))
    if len(value) > MAX_VALUE_CHARS:
        raise RenderError(
            name,
            N_("%(name)s is longer than %(n)s characters", name=name, n=f"{MAX_VALUE_CHARS:,}"),
        )
    return value


def _run(template: Template, context: dict[str, Any], deadline: float) -> str:
    """Render, then hold the result to the size and time caps. A template has no loops
    (refused at compile), so its time and size grow only with its source and its values,
    both capped: one render cannot run away, and is checked as a whole."""
    try:
        out = template.render(context)
    except TemplateRuntimeError as exc:  # the sandbox refusing, should the AST check miss
        raise RenderError(None, str(exc)) from exc
    if len(out) > MAX_RENDERED_CHARS:
        raise RenderError(
            None, N_("The message would exceed %(n)s chars", n=f"{MAX_RENDERED_CHARS:,}")
        )
    if time.perf_counter() > deadline:
        raise RenderError(None, N_("Rendering the message took too long"))
    return out
