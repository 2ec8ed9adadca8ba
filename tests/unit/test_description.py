"""The description: default template (golden, both forms), user overrides, sandbox, size."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.bootstrap.template_sources import bundled_templates
from syncengine.domain.adf import adf_problems, render_adf
from syncengine.domain.description import (
    DEFAULT_TEMPLATE,
    DescriptionRenderer,
    TemplateSources,
    description_data,
    fit,
)
from syncengine.domain.reports import Frame
from syncengine.domain.richtext import CodeBlock, Document, clean_text
from syncengine.domain.wiki import render_wiki
from syncengine.errors import TemplateError
from tests.unit.samples import group, value
from tests.unit.wiki_reader import read_noformat

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
ATTRS = ("version", "hostname", "os", "missing")


def renderer(**user: str) -> DescriptionRenderer:
    return DescriptionRenderer(TemplateSources(default=bundled_templates(), user=user))


def render(g=None, **user: str) -> Document:  # type: ignore[no-untyped-def]
    return renderer(**user).render(DEFAULT_TEMPLATE, description_data(g or group(), ATTRS))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; UPDATE_GOLDEN=1 rewrites it"


def test_default_description_wiki_golden() -> None:
    check_golden("description.wiki", render_wiki(render()) + "\n")


def test_default_description_adf_golden() -> None:
    adf = render_adf(render())
    assert adf_problems(adf) == []
    check_golden("description.adf.json", json.dumps(adf, indent=2, ensure_ascii=False) + "\n")


def test_template_data_ranks_and_shares() -> None:
    attrs = {"tag": tuple(value(f"v{i}", 10 - i) for i in range(7))}
    data = description_data(group(count=50, attributes=attrs), ("tag", "none"))
    tag, none = data.attributes
    assert [(v.value, v.count, v.share) for v in tag.values] == [
        ("v0", 10, 20.0),
        ("v1", 9, 18.0),
        ("v2", 8, 16.0),
        ("v3", 7, 14.0),
        ("v4", 6, 12.0),
    ]
    assert tag.more == 2
    assert none.values == ()
    stale = description_data(group(count=1, attributes={"a": (value("x", 4),)}), ("a",))
    assert stale.attributes[0].values[0].share == 100.0


def test_user_template_extends_the_default() -> None:
    user = (
        '{% extends "default:jira/description.j2" %}'
        "{% block links %}<p>Owner: <strong>{{ group.project }}</strong></p>{% endblock %}"
    )
    custom = render_wiki(render(**{"jira/description.j2": user}))
    default = render_wiki(render())
    assert custom.endswith("Owner: *demo*")
    assert custom.rsplit("\n\n", 1)[0] == default.rsplit("\n\n", 1)[0]


def test_user_template_replaces_the_default() -> None:
    document = render(**{"jira/description.j2": "<p>{{ message }}</p>"})
    assert render_wiki(document) == "invalid read of size 8 at 0x0000000000000010"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ group.__class__.__mro__ }}", "description template"),
        ("{{ group.attributes.clear() }}", "description template"),
        ("{{ ''.__class__.__subclasses__() }}", "description template"),
        ("{{ nonexistent }}", "'nonexistent' is undefined"),
        ("{% if %}", "line 1"),
        ("<div>{{ message }}</div>", "<div> is not supported"),
        ('{% include "nowhere.j2" %}', "not found"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("<p>{{ message|safe }}</p>", "No filter named 'safe'"),
        ("{% filter safe %}{{ message }}{% endfilter %}", "No filter named 'safe'"),
        ("{%- autoescape false %}{{ message }}{% endautoescape %}", "line 1: .*not allowed"),
        ("\n{%  autoescape   false %}x{% endautoescape %}", "line 2"),
        ("{{ 'x' * 10000000 }}", "not allowed"),
        ("{{ [1] * 10000000 }}", "not allowed"),
        ("{{ 2 ** 100000 }}", "too large"),
        ("{{ range(10000000)|list }}", "description template"),
    ],
)
def test_template_errors_are_template_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(**{"jira/description.j2": template})


def test_values_are_data_not_template_code() -> None:
    payload = "{{ 7*7 }} {% for x in y %} </p><h1>x</h1> <script>"
    g = group(message=payload, classifier="{{ config }}", attributes={"os": (value(payload, 3),)})
    document = render(g)
    wiki, adf = render_wiki(document), json.dumps(render_adf(document))
    assert "49" not in wiki
    assert "\\{\\{ 7\\*7 \\}\\}" in wiki
    assert json.dumps(payload)[1:-1] in adf


def test_callstack_is_a_noformat_block_a_frame_cannot_close() -> None:
    frames = (Frame(function="evil{noformat}\nh1. pwned", filename="a.c", line=1),)
    wiki = render_wiki(render(group(frames=frames)))
    start = wiki.index("{noformat}")
    end = wiki.index("{noformat}", start + 1) + len("{noformat}")
    assert read_noformat(wiki[start:end]) == "#0 evil{noformat}\nh1. pwned at a.c:1"


def test_long_descriptions_are_shortened_to_fit() -> None:
    frames = tuple(Frame(function=f"f{i}" + "x" * 80, filename="file.c", line=i) for i in range(50))
    g = group(frames=frames, message="m" * 500)
    document = render(g)
    fitted = fit(document, lambda d: len(render_wiki(d)), limit=2_000)
    assert len(render_wiki(fitted)) <= 2_000
    code = next(b for b in fitted.blocks if isinstance(b, CodeBlock))
    assert code.text.startswith("#0 f0")
    assert code.text.endswith("… (shortened)")
    tiny = fit(document, lambda d: len(json.dumps(render_adf(d))), limit=300)
    assert adf_problems(render_adf(tiny)) == []
    assert fit(document, lambda d: 0) == document


SHARED = renderer()
texts = st.text(max_size=40)


def _raw_pipes(line: str) -> int:
    return sum(1 for i, c in enumerate(line) if c == "|" and (i == 0 or line[i - 1] != "\\"))


def _stand_in(text: str) -> str:
    # What the template sees as empty (after whitespace collapsing) stays empty.
    return "x" if re.sub(r"[ \t\n\r\f]+", "", clean_text(text)) else ""


def _skeleton(wiki: str) -> list[str]:
    # A code block's lines are the frames' text; only where the block ends matters.
    return re.sub(r"\{noformat\}\n.*?\n\{noformat\}", "{noformat}", wiki, flags=re.S).split("\n")


@settings(max_examples=80)
@given(message=texts, classifier=texts, host=texts, function=texts)
def test_any_values_keep_the_description_shape(
    message: str, classifier: str, host: str, function: str
) -> None:
    def make(m: str, c: str, h: str, f: str) -> Document:
        g = group(
            message=m,
            classifier=c,
            attributes={"hostname": (value(h or "h", 3),)},
            frames=(Frame(function=f),),
        )
        return SHARED.render(DEFAULT_TEMPLATE, description_data(g, ATTRS))

    document = make(message, classifier, host, function)
    assert adf_problems(render_adf(document)) == []
    lines = _skeleton(render_wiki(document))
    benign = _skeleton(
        render_wiki(make(_stand_in(message), _stand_in(classifier), _stand_in(host) or "h", "f"))
    )
    # Values never add lines, table cells, links or blocks: the shape is the benign one.
    assert len(lines) == len(benign)
    for line, expected in zip(lines, benign, strict=True):
        assert _raw_pipes(line) == _raw_pipes(expected), (line, expected)
        assert line[:2] == expected[:2] or expected in {"x", "h2. x"}, (line, expected)
