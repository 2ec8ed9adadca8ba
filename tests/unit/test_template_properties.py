"""Over any input, building fields and rendering templates fail only in the ways they say."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.bootstrap.template_sources import bundled_templates
from syncengine.domain.adf import adf_problems
from syncengine.domain.createmeta import parse_createmeta
from syncengine.domain.description import (
    DEFAULT_TEMPLATE,
    DescriptionRenderer,
    TemplateSources,
    description_data,
)
from syncengine.domain.fields import TicketTemplate, build_fields
from syncengine.errors import TemplateError
from tests.unit.samples import MATTERMOST, group, load, value

DEFAULTS = bundled_templates()
RENDERER = DescriptionRenderer(TemplateSources(default=DEFAULTS))
SCREEN = parse_createmeta(
    load(MATTERMOST / "cloud-get-create-issue-metadata-for-project-many-fields.json"),
    project_key="KT",
    issue_type="Bug",
)
KEYS = [meta.id for meta in SCREEN.fields] + ["Favorite Food", "No Such Field"]
names = st.sampled_from(["os", "version", "hostname", "x.y", "count"])
placeholder_text = st.one_of(
    st.text(max_size=20),
    st.builds(lambda n, t: f"${n} {t}", names, st.text(max_size=10)),
    st.builds(lambda n: f"${{{n}:-1}}", names),
)


@settings(max_examples=60)
@given(
    custom=st.dictionaries(st.sampled_from(KEYS), placeholder_text, max_size=6),
    attributes=st.dictionaries(names, st.text(max_size=30), max_size=4),
    summary=placeholder_text,
    api_version=st.sampled_from([2, 3]),
    cloud=st.booleans(),
)
def test_build_fields_never_raises_on_a_real_screen(
    custom: dict[str, str], attributes: dict[str, str], summary: str, api_version: Any, cloud: bool
) -> None:
    template = TicketTemplate(
        project_key="KT", summary=summary, custom_fields=custom, api_version=api_version
    )
    g = group(attributes={k: (value(v, 1),) for k, v in attributes.items()})
    built = build_fields(template, g, renderer=RENDERER, createmeta=SCREEN, cloud=cloud)
    assert 0 < len(built.fields["summary"]) <= 255
    assert "\n" not in built.fields["summary"]
    for key, field_value in built.fields.items():
        if isinstance(field_value, dict) and field_value.get("type") == "doc":
            assert adf_problems(field_value) == [], key
    assert all(p.field and p.message and p.fix for p in built.problems)


PIECES = [*"{}%#<>/ab ptrh12=\"'|.()*+-_", "{{", "}}", "{%", "%}", "<p>", "</p>", "<pre>", "group"]


@settings(max_examples=150)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_user_template_renders_or_raises_template_error(source: str) -> None:
    renderer = DescriptionRenderer(
        TemplateSources(default=DEFAULTS, user={DEFAULT_TEMPLATE: source})
    )
    with contextlib.suppress(TemplateError):
        renderer.render(DEFAULT_TEMPLATE, description_data(group(), ("os",)))
