"""Investigation.chain / graph / report / verify: the API the notebooks use, on the shipped sample."""

from __future__ import annotations

from pathlib import Path

import pytest

import clawtrace


def test_chain_graph_report_verify_on_the_sample(sample_db: Path) -> None:
    with clawtrace.open(str(sample_db)) as inv:
        eg = inv.egress()
        target = eg[eg["verdict"] == "exfiltration"]["event_id"].iloc[0]
        chain = inv.chain(target)
        assert set(chain) >= {"target", "events", "edges", "root_causes", "sensitive_sources"}
        assert chain["target"]["event_id"] == target
        assert [e["event_id"] for e in chain["events"]] == list(inv.why(target)["event_id"])
        root = chain["root_causes"][0]
        assert root["trust"] == "untrusted"
        impact = inv.chain(root["event_id"], direction="impact")
        assert any(c.startswith("secret://") for c in impact["containment"]["credentials"])
        page = inv.graph(target)
        assert page.startswith("<!DOCTYPE html>") and target in page
        assert inv.graph(target, format="mermaid").startswith("flowchart")
        assert inv.graph(target, format="dot").startswith("digraph")
        assert inv.report().startswith("# Incident report")
        assert "<html" in inv.report(format="html")
        check = inv.verify()
        assert check["ok"] is True and check["findings"] == [] and check["events"] == len(inv.events())
        with pytest.raises(ValueError, match="direction"):
            inv.chain(target, direction="sideways")
        with pytest.raises(ValueError, match="format"):
            inv.graph(target, format="png")
