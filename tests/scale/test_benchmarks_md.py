"""BENCHMARKS.md is rewritten section by section: a run replaces its own figures only."""

from __future__ import annotations

from benchmarks import results


def test_a_section_is_added_then_replaced_and_others_are_kept(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    results.write_section("bench_a", "A", "first figures", path)
    results.write_section("bench_b", "B", "b figures", path)
    results.write_section("bench_a", "A", "second figures", path)
    text = path.read_text()
    assert text.startswith(results.HEADER)
    assert "second figures" in text and "first figures" not in text
    assert "b figures" in text
    assert text.count("<!-- begin bench_a -->") == 1 and text.count("<!-- end bench_a -->") == 1
    assert text.index("## A") < text.index("## B")  # a section keeps its place


def test_the_machine_line_names_cores_and_load():
    line = results.machine()
    assert "cores" in line and "load average" in line
