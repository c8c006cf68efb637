"""`make bench`'s summary: each benchmark's goals read back from its section, and the summary placed first."""

from __future__ import annotations

from bench.__main__ import Outcome, goals_of
from bench._common import DOC_HEADER, read_section, write_section

SECTION = """
## Pools (issue 4)

| figure | measured | goal | holds |
| --- | --- | --- | --- |
| page p50 | 7.9 ms | ≤ 10 ms | yes |
| statements | 48 vs 50 | equal | **no** |

| page | requests | errors | p99 | goal | holds |
| --- | --- | --- | --- | --- | --- |
| `/pools/` | 50 | 0 | 35 ms | p99 < 300 ms | yes |
| all | 600 | 0 | 44 ms | | |
"""


def test_goals_are_read_back_from_a_section_as_its_benchmark_wrote_them(tmp_path):
    doc = tmp_path / "benchmarks.md"
    write_section("pools", SECTION, path=doc)
    title, goals = goals_of(read_section("pools", doc.read_text()))
    assert title == "Pools (issue 4)"
    assert goals == [
        ["page p50", "7.9 ms", "≤ 10 ms", "yes"],
        ["statements", "48 vs 50", "equal", "**no**"],
        ["`/pools/`", "requests 50, errors 0, p99 35 ms", "p99 < 300 ms", "yes"],
    ]  # the total row has no goal of its own
    assert Outcome("pools", 1.0, 0, title, goals).missed  # a goal that does not hold fails `make bench`
    assert not Outcome("pools", 1.0, 0, title, goals[:1]).missed
    assert Outcome("pools", 1.0, 1, title, goals[:1]).missed


def test_the_summary_goes_before_every_section_and_is_replaced_in_place(tmp_path):
    doc = tmp_path / "benchmarks.md"
    write_section("pools", SECTION, path=doc)
    write_section("load", "## Load", path=doc)
    write_section("summary", "## Summary 1", path=doc, first=True)
    write_section("summary", "## Summary 2", path=doc, first=True)
    text = doc.read_text()
    assert text.startswith(DOC_HEADER)  # the header mentions the markers, and stays above the summary
    assert text.index("## Summary 2") < text.index("## Pools") < text.index("## Load")
    assert "Summary 1" not in text and text.count("<!-- bench:summary -->") == 1
