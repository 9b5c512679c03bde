"""The scale-out section of the benchmark report: its table and which targets it calls met."""

from __future__ import annotations

from bench.outbox_scale import OutboxRun, outbox_markdown, scenarios


def run(title: str, **figures: object) -> OutboxRun:
    scenario = next(s for s in scenarios() if s.title == title)
    base: dict[str, object] = {
        "scenario": scenario.title, "pacing": scenario.pacing, "projects": scenario.projects, "workers": 4,
        "notifications": 30_000, "wall": 50.0, "delivered": 30_000, "duplicated": 0, "rate_limited": 0,
        "lost": 0, "resent": 0,
    }  # fmt: skip
    return OutboxRun(**{**base, **figures})  # type: ignore[arg-type]


def targets(markdown: str) -> dict[tuple[str, str], str]:
    rows = [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("| ")]
    return {(cells[0].strip(), cells[1].strip()): cells[-1].strip() for cells in rows if len(cells) == 4}


def test_the_shared_budget_meets_its_targets_and_the_comparison_row_is_not_judged() -> None:
    text = outbox_markdown(
        [run("shared pacer"), run("each worker paced alone (no shared pacer)", wall=70.0, rate_limited=140)]
    )
    found = targets(text)
    assert found[("shared pacer", "no 429s")] == "met"
    assert found[("shared pacer", "≥ 95% of the limit")] == "met"
    assert not any(name.startswith("each worker") for name, _ in found)
    assert "| each worker paced alone (no shared pacer) | 70.0 | 429 | 71.4% | 140 |" in text


def test_two_projects_are_judged_against_twice_the_limit_and_each_its_own() -> None:
    slow = run("shared pacer, two projects of half each", wall=30.0, per_project={"@a/x": 600.0, "@a/y": 500.0})
    over = run("shared pacer, two projects of half each", wall=25.0, per_project={"@a/x": 700.0, "@a/y": 600.0})
    assert targets(outbox_markdown([slow]))[(slow.scenario, "≥ 95% of the limit")] == "**missed**"  # 83%
    assert targets(outbox_markdown([over]))[(over.scenario, "each project under its own limit")] == "**missed**"


def test_duplicates_after_a_kill_must_stay_within_what_was_in_flight() -> None:
    title = "shared pacer, one worker killed (SIGKILL) halfway"
    within = run(title, duplicated=300, killed_in_flight=500, resent=500)
    beyond = run(title, duplicated=800, killed_in_flight=500, resent=500)
    key = (title, "duplicates ≤ what the killed worker had in flight, counted")
    assert targets(outbox_markdown([within]))[key] == "met"
    assert targets(outbox_markdown([beyond]))[key] == "**missed**"
