"""A partial import's spec, framework-free: the claimed layers of a hand-made importer's
reading made loadable by the convention of ``translator.commands.partial`` (a stand-in
input where a kept layer reads an unclaimed one, a TODO where the unclaimed one belongs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from translator.commands.importing import (
    Imported,
    ImportReport,
    Unclaimed,
    render_text,
    spec_text,
)
from translator.commands.partial import complete, write_partial
from translator.errors import SpecErrors
from translator.spec.loader import load_text

ODD = Unclaimed("odd-one", "Mystery", 12, "no importer for this class", (5, 4))


def _spec(*layers: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "m", "inputs": [{"name": "x", "shape": [5, 8]}], "layers": list(layers), **top}


def test_a_layer_reading_an_unclaimed_one_reads_a_stand_in_input() -> None:
    spec = _spec(
        {"name": "first", "type": "Dense", "units": 4},
        {"name": "head", "type": "Dense", "units": 4, "inputs": "odd-one"},
        {"name": "add", "type": "Add", "inputs": ["head", "odd-one"]},
    )
    partial = complete(spec, [ODD])
    text = spec_text(partial.spec, partial.notes)
    assert text == (
        "name: m\n"
        "inputs:\n"
        "  - {name: x, shape: [5, 8]}\n"
        "  # stand-in for the output of odd-one (Mystery, not imported)\n"
        "  - {name: odd_one, shape: [5, 4]}\n"
        "layers:\n"
        "  - {name: first, type: Dense, units: 4, inputs: x}\n"
        "  # TODO: odd-one (Mystery, 12 parameters) not imported: no importer for this class\n"
        "  - {name: head, type: Dense, units: 4, inputs: odd_one}\n"
        "  - {name: add, type: Add, inputs: [head, odd_one]}\n"
        "  # outputs also first: read only by layers not imported (an output is built, and"
        " its weights port)\n"
        "outputs: [add, first]\n"
    )
    assert partial.stand_ins == {"odd-one": "odd_one"} and not partial.dangling
    graph = load_text(text, "partial.yaml")
    assert list(graph.inputs) == ["x", "odd_one"]
    assert [n.name for n in graph.nodes if n.type != "Input"] == ["first", "head", "add"]


@pytest.mark.parametrize(
    ("outputs", "kept"), [("odd-one", ""), (["first", "odd-one"], "outputs: first\n")]
)
def test_an_unclaimed_output_is_left_out_and_its_todo_closes_the_layers(
    outputs: Any, kept: str
) -> None:
    spec = _spec({"name": "first", "type": "Dense", "units": 4}, outputs=outputs)
    partial = complete(spec, [ODD])
    text = spec_text(partial.spec, partial.notes)
    assert not partial.stand_ins
    assert text.endswith(
        "  - {name: first, type: Dense, units: 4}\n"
        "  # TODO: odd-one (Mystery, 12 parameters) not imported: no importer for this class\n"
        + kept
    )
    load_text(text, "partial.yaml")


@pytest.mark.parametrize(
    "unclaimed",
    [
        Unclaimed("odd-one", "Mystery", 12, "called twice"),  # no shape known
        Unclaimed("odd-one", "Mystery", 12, "a float16 output", (5, 4), "float16"),
    ],
    ids=["no shape", "a dtype no input takes"],
)
def test_without_a_known_output_the_reference_stays_and_the_spec_does_not_load(
    unclaimed: Unclaimed,
) -> None:
    spec = _spec({"name": "head", "type": "Dense", "units": 3, "inputs": "odd-one"})
    partial = complete(spec, [unclaimed])
    assert partial.dangling == ["odd-one"] and not partial.stand_ins
    with pytest.raises(SpecErrors):
        load_text(spec_text(partial.spec, partial.notes), "partial.yaml")


def test_a_stand_in_takes_a_free_name() -> None:
    spec = _spec(
        {"name": "odd_one", "type": "Dense", "units": 4},
        {"name": "head", "type": "Dense", "units": 3, "inputs": "odd-one"},
    )
    partial = complete(spec, [ODD])
    assert partial.stand_ins == {"odd-one": "odd_one_1"}
    load_text(spec_text(partial.spec, partial.notes), "partial.yaml")


def _written(tmp_path: Path, spec: dict[str, Any], unclaimed: list[Unclaimed]) -> ImportReport:
    imported = Imported("keras", spec, unclaimed)
    report = ImportReport("model.keras", "keras", len(spec["layers"]), unclaimed=unclaimed)
    return write_partial(imported, report, str(tmp_path / "m.yaml"), None)


def test_the_report_lists_what_was_not_imported_next_to_the_spec(tmp_path: Path) -> None:
    spec = _spec(
        {"name": "first", "type": "Dense", "units": 4},
        {"name": "head", "type": "Dense", "units": 4, "inputs": "odd-one"},
    )
    pipe = Unclaimed("a|b", "Odd", 0, "reads\n'first' twice")
    report = _written(tmp_path, spec, [ODD, pipe])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.import-report.md", "m.yaml"]
    assert (tmp_path / "m.import-report.md").read_text(encoding="utf-8") == (
        "# Partial import of `model.keras`\n"
        "\n"
        "- source: `model.keras` (keras)\n"
        f"- claimed: 2 layer(s), written to `{tmp_path / 'm.yaml'}`\n"
        "- unclaimed: 2 layer(s), holding 12 parameters (table below)\n"
        "- the partial spec loads with `translator check`\n"
        "- weights: not asked for (--weights-out)\n"
        "- stand-in input `odd_one`: the output of unclaimed `odd-one`\n"
        "\n"
        "| node or module | op | parameters | why |\n"
        "| --- | --- | ---: | --- |\n"
        "| odd-one | Mystery | 12 | no importer for this class |\n"
        "| a\\|b | Odd | 0 | reads 'first' twice |\n"
        "\n"
        "To complete the spec, write the layers each `# TODO` comment names where it stands,\n"
        "and replace each stand-in input by the layers that compute it.\n"
    )
    text = (tmp_path / "m.yaml").read_text(encoding="utf-8")
    assert text.startswith(
        "# A partial import of model.keras (keras): 2 layer(s) not imported, listed in"
        " m.import-report.md\nname: m\n"
    )
    assert text.endswith(
        "  # TODO: a|b (Odd, 0 parameters) not imported: reads 'first' twice\n"
        "  # outputs also first: read only by layers not imported (an output is built, and"
        " its weights port)\n"
        "outputs: [head, first]\n"
    )
    assert [path for path, _ in report.written] == [
        str(tmp_path / "m.yaml"),
        str(tmp_path / "m.import-report.md"),
    ]
    assert render_text(report).splitlines()[3:5] == [
        "  12 parameters in unclaimed layers",
        (
            f"  wrote {tmp_path / 'm.yaml'}  partial spec 'm', 2 claimed layers; loads with"
            " translator check"
        ),
    ]


def test_a_spec_with_no_layer_claimed_is_written_and_said_not_to_load(tmp_path: Path) -> None:
    report = _written(tmp_path, _spec(), [ODD])
    said = render_text(report)
    assert "partial spec 'm', 0 claimed layers; does not load (" in said
    assert "- the partial spec does not load: " in (tmp_path / "m.import-report.md").read_text(
        encoding="utf-8"
    )
