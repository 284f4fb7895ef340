"""The repository documents itself: docs/ agrees with the code (issue 10, item 10)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from symgd import docgen, methods
from symgd.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_methods_md_is_what_the_registry_generates():
    text = (DOCS / "methods.md").read_text(encoding="utf-8")
    assert text == docgen.generate(), (
        f"docs/methods.md differs from the method registry; regenerate it with "
        f"`{docgen.REGENERATE}` and commit the result")


def test_every_option_of_every_method_is_listed_with_its_default():
    text = docgen.generate()
    for spec in methods.REGISTRY.values():
        if spec.planned:
            assert f"`{spec.name}` ({spec.summary})" in text
            continue
        if spec.internal:  # auto's own paths: not methods a user names
            assert f"## `{spec.name}`" not in text
            continue
        section = text.split(f"## `{spec.name}`\n", 1)[1].split("\n## ", 1)[0]
        for option, default in spec.options.items():
            row = f"| `{option}` | {docgen._describe(default)} | "
            assert row in section, (spec.name, option)
    for option, default in methods.COMMON_OPTIONS.items():
        assert f"| `{option}` | {docgen._describe(default)} | " in text, option


def test_an_option_without_a_description_fails_and_says_where():
    sgd = methods.REGISTRY["sgd"]
    registry = {**methods.REGISTRY,
                "sgd": dataclasses.replace(sgd, options={**sgd.options, "new_knob": 3})}
    with pytest.raises(InputError) as info:
        docgen.generate(registry)
    assert "new_knob" in info.value.message and "OPTION_HELP" in info.value.message


def test_the_generator_reads_the_registry(monkeypatch):
    """A new option of gd shows up by regenerating alone (given its one-line help)."""
    gd = methods.REGISTRY["gd"]
    monkeypatch.setitem(docgen.OPTION_HELP, "nesterov_lookahead", "look ahead by this much")
    registry = {**methods.REGISTRY,
                "gd": dataclasses.replace(gd, options={**gd.options,
                                                       "nesterov_lookahead": 0.25})}
    text = docgen.generate(registry)
    section = text.split("## `gd`\n", 1)[1].split("\n## ", 1)[0]
    assert "| `nesterov_lookahead` | 0.25 | look ahead by this much |" in section


def test_defaults_are_printed_as_people_write_them():
    assert [docgen._describe(v) for v in (1e-8, 0.001, 1.0, 10_000, None, "adam", 2.5e+20)] \
        == ["1e-8", "0.001", "1", "10000", "none", "adam", "2.5e+20"]


# ------------------------------------------------------------------ problem-files.md
def _yaml_blocks(text: str) -> list:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_problem_file_examples_load():
    from symgd.problem import load_text

    blocks = _yaml_blocks((DOCS / "problem-files.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    for i, block in enumerate(blocks):
        problem = load_text(block, file=f"problem-files.md#{i}", base_dir=ROOT / "problems")
        assert problem.names


def test_problem_files_md_names_every_key_loss_and_limit():
    from symgd.io import problem_file
    from symgd.io.expr import DEFAULT_LIMITS

    text = (DOCS / "problem-files.md").read_text(encoding="utf-8")
    for key in problem_file.TOP_KEYS + problem_file.VARIABLE_KEYS + problem_file.DATA_FILE_KEYS:
        assert f"`{key}" in text, key
    for loss in ("mse", "sse", "mae", "huber", "logcosh", "cross_entropy"):
        assert f"| `{loss}` |" in text, loss
    for value in problem_file.REDUCE_VALUES:
        assert f"reduce: {value}" in text
    # the limits table: every limit by name, with its default as the code has it
    limits = {f.name: getattr(problem_file.LoadLimits(), f.name)
              for f in dataclasses.fields(problem_file.LoadLimits) if f.name != "expr"}
    limits.update(dataclasses.asdict(DEFAULT_LIMITS))
    for name, default in limits.items():
        shown = f"{default:,}" if isinstance(default, int) else f"{default:g}"
        assert re.search(rf"^\| `{name}` \| {re.escape(shown)}[ |]", text, flags=re.M), name


def test_readme_points_at_docs_and_lists_sgd_options():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "SPEC.md of the project docs" not in readme
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).is_file(), link
    assert "docs/problem-files.md" in readme and "docs/methods.md" in readme
    for option in methods.REGISTRY["sgd"].options:
        assert f"`{option}`" in readme, option
    # the first screen keeps its two commands
    first = readme.split("## ", 1)[0]
    assert "python -m pip install -e . && python -m symgd solve problems/rosenbrock.yaml" \
        in first
    assert 'python -m pip install -e ".[test]" && python -m pytest -q' in first
