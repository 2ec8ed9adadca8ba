"""A transition screen that requires a field besides the resolution (Severity on Done).

Without a configured value the engine does not send a transition Jira would
refuse: the group says which field to configure. With ``transition_fields`` the
value goes with the transition, coerced by the screen's schema.
"""

from __future__ import annotations

from pathlib import Path

from syncengine.domain.groups import GroupState
from syncengine.store.outbox import State
from tests.integration.sync.harness import sync_world

DONE = "31"


def _refused_transitions(world_sim: object) -> int:
    counts = world_sim.counter.snapshot()  # type: ignore[attr-defined]
    return sum(
        n
        for op, by_status in counts.items()
        if op.startswith("POST") and op.endswith("/transitions")
        for status, n in by_status.items()
        if status.startswith("4")
    )


async def test_a_required_screen_field_without_a_value_is_asked_for(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        world.sim.require_on_transition("CRASH", DONE, "customfield_10050")
        gid, key = await world.linked_group("screen")
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="ann@x.io")
        await world.settle()
        group = await world.group(gid)
        assert group.last_sync_error is not None
        assert "requires Severity (customfield_10050)" in group.last_sync_error
        assert "transition_fields" in group.last_sync_error
        assert _refused_transitions(world.sim) == 0  # nothing Jira would refuse was sent
        [item] = await world.container.outbox.list(project_id=world.project_id)
        assert item.state == State.DEAD
        assert world.status(key) == "To Do"


async def test_configured_screen_values_go_with_the_transition(
    database_url: str, tmp_path: Path
) -> None:
    fields = {"Severity": "minor", "customfield_10051": "Fixed by the release train"}
    async with sync_world(database_url, tmp_path, transition_fields=fields) as world:
        world.sim.require_on_transition("CRASH", DONE, "customfield_10050")
        world.sim.require_on_transition("CRASH", DONE, "customfield_10051", required=False)
        gid, key = await world.linked_group("screen-ok")
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="ann@x.io")
        await world.settle()
        issue = world.sim.issue(key)
        assert world.status(key) == "Done"
        assert issue.resolution_id == "10000"
        severity = world.sim.state.fields["customfield_10050"]
        assert (
            next(o.value for o in severity.options if o.id == issue.fields["customfield_10050"])
            == "Minor"
        )
        assert issue.fields["customfield_10051"] == "Fixed by the release train"
        assert (await world.group(gid)).last_sync_error is None
        assert _refused_transitions(world.sim) == 0
