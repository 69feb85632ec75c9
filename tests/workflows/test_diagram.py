import re
from pathlib import Path

from workflows.diagram import state_diagram_mermaid
from workflows.states import State

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_diagram_is_the_machine() -> None:
    block = re.search(r"<!-- state-diagram:start -->\n```mermaid\n(.*?)\n```", README.read_text(), re.S)
    assert block is not None, "README has no generated state diagram"
    assert block.group(1) == state_diagram_mermaid(), "run `python manage.py state_diagram` and paste it into README"


def test_every_state_appears_in_the_diagram() -> None:
    diagram = state_diagram_mermaid()
    for state in State.values:
        assert re.search(rf"\b{state}\b", diagram), state
