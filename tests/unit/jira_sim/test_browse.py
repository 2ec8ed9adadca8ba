"""The simulator's issue page: summary, rendered description, fields, status, comments; escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from syncengine.jira.simulator import create_simulator
from syncengine.jira.simulator.html_text import adf_html, wiki_html
from syncengine.jira.simulator.model import Comment, Issue

WHEN = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _issue(**fields: object) -> Issue:
    return Issue(
        id="10001",
        key="CRASH-1",
        project_id="10000",
        issuetype_id="10004",
        status_id="10001",
        fields={"summary": "KeyError: cart <empty>", **fields},
        reporter=None,
        creator="x",
        created=WHEN,
        updated=WHEN,
    )


def test_the_page_shows_summary_description_fields_status_and_comments() -> None:
    sim = create_simulator("cloud")
    bot = next(iter(sim.state.users.values()))
    crash = sim.state.projects["CRASH"]
    issue = _issue(
        description=(
            "h2. KeyError\n\n||Occurrences|3|\n\n{noformat}\n#0 checkout <cart>\n{noformat}"
        ),
        customfield_10050="10100",
        labels=["syncengine", "demo"],
    )
    issue.project_id = crash.id
    issue.status_id = next(s.id for s in sim.state.statuses.values() if s.name == "To Do")
    issue.issuetype_id = next(t.id for t in sim.state.issue_types.values() if t.name == "Bug")
    issue.comments.append(
        Comment(id="1", author=bot.account_id, body="*Fixed* in 2.4.0", created=WHEN, updated=WHEN)
    )
    sim.state.issues[issue.id] = issue

    page = sim.issue_page("crash-1")
    assert page is not None
    assert "<h1>KeyError: cart &lt;empty&gt;</h1>" in page
    assert "<h2>KeyError</h2>" in page
    assert "<tr><th>Occurrences</th><td>3</td></tr>" in page
    assert "<pre>#0 checkout &lt;cart&gt;</pre>" in page
    assert '<span class="status new">To Do</span>' in page
    assert "<dt>Labels</dt><dd>syncengine, demo</dd>" in page
    assert "<dt>Severity</dt>" in page
    assert "<strong>Fixed</strong> in 2.4.0" in page
    assert bot.display_name in page
    assert sim.issue_page("CRASH-404") is None


def test_wiki_text_cannot_add_markup_or_script_links() -> None:
    html = wiki_html('<script>x</script> [click|javascript:alert(1)] [docs|https://e.x/?a=1&b="2"]')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert (
        '<a href="https://e.x/?a=1&amp;b=&quot;2&quot;" rel="noopener noreferrer">docs</a>' in html
    )
    # The engine escapes characters in values: they show as themselves.
    assert wiki_html(r"build\-07 \*not bold\*") == "<p>build-07 *not bold*</p>"


def test_adf_documents_render_with_their_marks_and_stay_escaped() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 3},
                "content": [{"type": "text", "text": "A<b>"}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "bold", "marks": [{"type": "strong"}]},
                    {"type": "hardBreak"},
                    {
                        "type": "text",
                        "text": "link",
                        "marks": [{"type": "link", "attrs": {"href": "javascript:x"}}],
                    },
                ],
            },
            {"type": "codeBlock", "content": [{"type": "text", "text": "#0 main <x>"}]},
        ],
    }
    assert adf_html(document) == (
        "<h3>A&lt;b&gt;</h3><p><strong>bold</strong><br>link</p><pre>#0 main &lt;x&gt;</pre>"
    )
