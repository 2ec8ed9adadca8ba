"""How long building a ticket's fields takes, against a plain Jinja2 render of the same template.

Run: .venv/bin/python bench/templates.py
The reference is an unsandboxed jinja2.Environment rendering the bundled description
template to a string; the figures are per group and as a ratio to that reference.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncengine.bootstrap.template_sources import bundled_templates
from syncengine.domain.description import (
    DEFAULT_TEMPLATE,
    DescriptionRenderer,
    TemplateSources,
    description_data,
)
from syncengine.domain.fields import TicketTemplate, build_fields
from syncengine.domain.placeholders import expand
from tests.unit.samples import group

ROUNDS = 2000


def main() -> None:
    sources = bundled_templates()
    g = group()
    data = description_data(g, ("version", "hostname", "os"))
    plain = jinja2.Environment(autoescape=True, loader=jinja2.DictLoader(sources))
    plain.filters["nl2br"] = lambda v: v
    plain.filters["time"] = str
    context = {"group": g, "message": g.message, "classifier": g.classifier}
    context |= {"callstack": data.callstack, "frames_omitted": 0}
    context |= {"attributes": data.attributes, "url": g.url}
    reference_template = plain.get_template(DEFAULT_TEMPLATE)
    renderer = DescriptionRenderer(TemplateSources(default=sources))
    v2 = TicketTemplate(project_key="C", custom_fields={"customfield_1": "$hostname $version"})
    v3 = TicketTemplate(project_key="C", api_version=3)

    cases = {
        "reference: plain jinja2 render": lambda: reference_template.render(context),
        "expand summary": lambda: expand("$classifier: $message on $hostname", g),
        "sandboxed render + parse": lambda: renderer.render(DEFAULT_TEMPLATE, data),
        "build_fields v2 (wiki)": lambda: build_fields(v2, g, renderer=renderer, cloud=True),
        "build_fields v3 (ADF)": lambda: build_fields(v3, g, renderer=renderer, cloud=True),
    }
    reference = None
    for name, case in cases.items():
        seconds = min(timeit.repeat(case, number=ROUNDS, repeat=3)) / ROUNDS
        reference = reference or seconds
        print(f"{name:34} {seconds * 1e6:9.1f} µs  {seconds / reference:6.2f}x")


if __name__ == "__main__":
    main()
