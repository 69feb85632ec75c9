"""The state diagram, drawn from the machine itself (README shows it; a test keeps them equal)."""

from __future__ import annotations

from django_fsm import State as ComputedTarget

from workflows.models import Episode
from workflows.states import State


def state_diagram_mermaid() -> str:
    edges: set[tuple[str, str, str]] = set()
    for t in Episode._meta.get_field("state").get_all_transitions(Episode):  # type: ignore[attr-defined]
        targets = t.target.allowed_states if isinstance(t.target, ComputedTarget) else [t.target]
        if t.name in ("imported", "cspa_decision", "unmerge"):
            # Computed targets that can be any state are drawn once, to a note, to keep the diagram legible.
            targets = [_SPECIAL[t.name]]
        for target in targets:
            edges.add((str(t.source), str(target), t.name))
    lines = ["stateDiagram-v2", f"    [*] --> {State.NOTIFIED.value}"]
    lines += [f"    {source} --> {target}: {name}" for source, target, name in sorted(edges)]
    return "\n".join(lines)


_SPECIAL = {
    "imported": "any_state",
    "cspa_decision": "resume_state",
    "unmerge": "state_before_merge",
}
