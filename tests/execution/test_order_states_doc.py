"""The order-states doc is generated from the transition table and kept in step with it."""

from __future__ import annotations

from pathlib import Path

from bifrost.execution._order import TERMINAL_STATUSES, TRANSITION_EVENTS, OrderStatus, order_states_doc, state_diagram

DOC = Path(__file__).resolve().parents[2] / "docs" / "execution" / "order-states.md"


def test_order_states_doc_matches_table_regenerate_if_not() -> None:
    # regenerate: the command at the top of the doc (order_states_doc() written to the file)
    assert DOC.read_text(encoding="utf-8") == order_states_doc()


def test_state_diagram_has_one_labelled_edge_per_table_entry() -> None:
    lines = state_diagram().splitlines()
    assert lines[0] == "stateDiagram-v2" and "    [*] --> new" in lines
    edges = [line.strip() for line in lines if "-->" in line and "[*]" not in line]
    expected = [
        f"{src} --> {dst}: {', '.join(kind.__name__ for kind in kinds)}"
        for (src, dst), kinds in TRANSITION_EVENTS.items()
    ]
    assert edges == expected
    assert "pending_cancel --> accepted: CancelRejected" in edges and "canceled --> canceled: Filled" in edges
    finals = {line.strip().split(" ")[0] for line in lines if line.endswith("--> [*]")}
    assert finals == {str(s) for s in TERMINAL_STATUSES}
    assert {str(s) for s in OrderStatus} <= {part for line in edges for part in line.split(":")[0].split(" --> ")}
