"""Tests for symgd.io.problem_file and symgd.io.yaml_nodes (SPEC §1, §3 --set)."""
from __future__ import annotations

import math
import shutil
import textwrap
import time
from pathlib import Path

import pytest
import sympy as sp

from symgd.errors import InputError
from symgd.io.problem_file import apply_override
from symgd.io.yaml_nodes import Mapping, Scalar, read_yaml
from symgd.problem import load, load_text

FILES = Path(__file__).parent / "files"
x, y, a, b, P = (sp.Symbol(n, real=True) for n in ("x", "y", "a", "b", "P"))


def text_of(src: str) -> str:
    return textwrap.dedent(src).lstrip("\n")


def load_yaml(src: str, **kw):
    kw.setdefault("file", "prob.yaml")
    return load_text(text_of(src), **kw)


def refused(src: str, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        load_yaml(src, **kw)
    return info.value


def var(problem, name):
    return next(v for v in problem.variables if v.name == name)


# ---------------------------------------------------------------------------- valid forms
def test_spec_example_file_loads_with_locations():
    p = load(FILES / "rosenbrock.yaml")
    assert p.name == "rosenbrock"
    assert p.description == "Banana valley."
    assert p.names == ("x", "y")
    assert p.sense == "minimize"
    assert sp.expand(p.objective - ((1 - x)**2 + 100*(y - x**2)**2)) == 0
    assert var(p, "x").start == -1.2 and var(p, "x").lower is None
    assert (var(p, "y").start, var(p, "y").lower, var(p, "y").upper) == (1.0, -5.0, 5.0)
    assert p.parameters["P"] == 100
    assert len(p.constraints) == 1
    c = p.constraints[0]
    assert c.relation == "<=" and sp.simplify(c.lhs - c.rhs - (x + y - 3)) == 0
    assert p.method == "auto"
    assert dict(p.options) == {"tol": 1e-10} and isinstance(p.options["tol"], float)
    assert p.source == str(FILES / "rosenbrock.yaml")
    loc = p.locations
    assert loc["name"] == (1, 7)
    assert loc["variables"][0] == 3
    assert loc["variables.x"] == (4, 3)
    assert loc["variables.x.start"][0] == 4
    assert loc["variables.y.lower"][0] == 5 and loc["variables.y.upper"][0] == 5
    assert loc["parameters.P"][0] == 6
    assert loc["minimize"] == (7, 11)
    assert loc["constraints"][0] == 8
    assert loc["constraints[0]"] == (9, 5)
    assert loc["method"] == (10, 9)
    assert loc["options"][0] == 11 and loc["options.tol"][0] == 11


def test_name_defaults_to_file_stem(tmp_path):
    f = tmp_path / "my_problem.yaml"
    f.write_text("variables: [x]\nminimize: x**2\n")
    assert load(f).name == "my_problem"
    assert load(str(f)).name == "my_problem"


def test_short_list_form():
    p = load_yaml("""
        variables: [x, y]
        maximize: -(x - 1)**2 - y**2
    """)
    assert p.names == ("x", "y") and p.sense == "maximize"
    assert [v.start for v in p.variables] == [0.0, 0.0]
    assert all(s.is_real for s in p.symbols)
    assert p.locations["variables.y"] == (1, 16)
    assert p.locations["maximize"] == (2, 11)


def test_number_and_long_forms_mix():
    p = load_yaml("""
        variables:
          x: -1.2
          y: {start: 2, lower: 0}
          z:
        minimize: x**2 + y**2 + z**2
    """)
    assert p.names == ("x", "y", "z")
    assert (var(p, "x").start, var(p, "y").start, var(p, "z").start) == (-1.2, 2.0, 0.0)
    assert var(p, "y").lower == 0.0 and var(p, "y").upper is None
    assert p.locations["variables.x.start"] == (2, 6)
    assert p.locations["variables.y.start"][0] == 3
    assert p.locations["variables.z"] == (4, 3)


def test_infinite_bounds_mean_no_bound():
    p = load_yaml("""
        variables: {x: {lower: -.inf, upper: .inf, start: 1}}
        minimize: x**2
    """)
    assert var(p, "x").lower is None and var(p, "x").upper is None


def test_constant_objective_from_number():
    p = load_yaml("variables: [x]\nminimize: 5\n")
    assert p.objective == 5
    p = load_yaml("variables: [x]\nminimize: 1e-3\n")
    assert float(p.objective) == pytest.approx(1e-3)


def test_parameters_stay_exact_and_are_substituted():
    p = load_yaml("""
        variables: [x]
        parameters: {P: 200, Q: 0.5}
        minimize: P*x**2 - Q*x
    """)
    assert p.parameters["P"] == sp.Integer(200)
    assert p.parameters["Q"] == sp.Rational(1, 2)
    assert p.objective.free_symbols == {x}
    assert sp.expand(p.objective - (200*x**2 - x/2)) == 0


def test_constraints_equalities_and_inequalities():
    p = load_yaml("""
        variables: [x, y]
        minimize: x**2 + y**2
        constraints:
          - x + y == 1
          - x >= 0
    """)
    assert [c.relation for c in p.constraints] == ["==", ">="]
    assert p.locations["constraints[0]"] == (4, 5)
    assert p.locations["constraints[1]"] == (5, 5)


def test_options_and_schedule_mapping_locations():
    p = load_yaml("""
        variables: [x]
        minimize: x**2
        method: gd
        options:
          learning_rate: 0.1
          max_iter: 100
          verbose: true
          schedule: {name: plateau, factor: 0.5, patience: 5}
    """)
    opts = dict(p.options)
    assert opts["learning_rate"] == 0.1 and opts["max_iter"] == 100
    assert type(opts["max_iter"]) is int and opts["verbose"] is True
    assert opts["schedule"] == {"name": "plateau", "factor": 0.5, "patience": 5}
    assert p.locations["options.learning_rate"] == (5, 18)
    assert p.locations["options.max_iter"][0] == 6
    assert p.locations["options.schedule"][0] == 8
    assert p.locations["options.schedule.name"] == (8, 20)
    assert p.locations["options.schedule.patience"][0] == 8


def test_schedule_by_name():
    p = load_yaml("variables: [x]\nminimize: x**2\noptions: {schedule: cosine}\n")
    assert p.options["schedule"] == "cosine"


def test_number_as_name_and_description_text():
    p = load_yaml("name: 2024\ndescription: 12:30\nvariables: [x]\nminimize: x**2\n")
    assert p.name == "2024" and p.description == "12:30"


# --------------------------------------------------------------------- YAML 1.2 scalars
@pytest.mark.parametrize("text, value", [
    ("1e-8", 1e-8), ("1E3", 1000.0), ("1e+8", 1e8), (".5", 0.5), ("-2.", -2.0),
    ("+1.5", 1.5), ("010", 10), ("0x1F", 31), ("0o17", 15), ("-7", -7),
    ("true", True), ("False", False), ("null", None), ("~", None), ("", None),
    ("12:30", "12:30"), ("2001-12-14", "2001-12-14"), ("yes", "yes"), ("on", "on"),
    ("0b101", "0b101"), ("1_000", "1_000"), ("'1e-8'", "1e-8"), ('"010"', "010"),
    ("(1 - x)**2", "(1 - x)**2"), ("x + y <= 3", "x + y <= 3"),
])
def test_scalars_follow_yaml_1_2(text, value):
    node = read_yaml(f"v: {text}\n").get("v")
    got = node.value
    assert got == value and type(got) is type(value)


def test_special_floats():
    for text, check in ((".inf", lambda v: v == math.inf), ("-.Inf", lambda v: v == -math.inf),
                        (".nan", math.isnan), ("1e999", lambda v: v == math.inf)):
        assert check(read_yaml(f"v: {text}").get("v").value)


def test_yaml11_number_traps_in_a_problem():
    p = load_yaml("""
        variables: {x: {start: 010, lower: -1E3, upper: 1e+8}}
        minimize: x**2
        options: {tol: 1e-8, at: 12:30}
    """)
    assert var(p, "x").start == 10.0
    assert var(p, "x").lower == -1000.0 and var(p, "x").upper == 1e8
    assert p.options["tol"] == 1e-8 and isinstance(p.options["tol"], float)
    assert p.options["at"] == "12:30"


def test_on_key_refused_with_advice():
    err = refused("""
        variables: [x]
        minimize: x**2
        options:
          on: 4
    """)
    assert err.line == 4 and err.column == 3 and err.field == "options.on"
    assert err.kind == "yaml" and "quote" in err.message and err.file == "prob.yaml"


def test_on_yes_mapping_refused():
    err = refused("variables: [x]\nminimize: x**2\noptions: {on: 4, yes: 7}\n")
    assert err.line == 3 and "'on'" in err.message


@pytest.mark.parametrize("key", ["off", "No", "YES", "True", "null", "~", "ON"])
def test_yaml11_bool_and_null_keys_refused(key):
    err = refused(f"variables: [x]\nminimize: x**2\nparameters:\n  {key}: 1\n")
    assert err.line == 4 and "quote" in err.message


def test_quoted_trap_key_is_a_name():
    p = load_yaml('variables: [x]\nminimize: x**2\noptions: {"on": 1}\n')
    assert p.options["on"] == 1


def test_non_string_keys_refused():
    err = refused("variables: [x]\nminimize: x**2\noptions:\n  1: 2\n")
    assert err.line == 4 and "keys must be names" in err.message
    err = refused("variables: [x]\nminimize: x**2\noptions:\n  ? [a, b]\n  : 2\n")
    assert err.line == 4 and "key" in err.message


# ------------------------------------------------------------------ refused YAML features
def test_anchor_refused():
    err = refused("variables: [x]\nminimize: &m x**2\n")
    assert "anchors and aliases are not allowed" in err.message and err.line == 2


def test_alias_and_merge_refused():
    err = refused("""
        variables: [x]
        minimize: x**2
        options:
          "base": 1
          <<: {tol: 1}
    """)
    assert "anchors and aliases are not allowed" in err.message and err.line == 5


def test_billion_laughs_refused_fast():
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        load(FILES / "billion_laughs.yaml")
    assert time.perf_counter() - start < 1.0
    assert "anchors and aliases are not allowed" in info.value.message
    assert info.value.line == 4


def test_python_tag_refused_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FILES / "os_system.yaml", tmp_path / "os_system.yaml")
    with pytest.raises(InputError) as info:
        load(tmp_path / "os_system.yaml")
    assert "tags are not allowed" in info.value.message
    assert info.value.line == 3 and info.value.field == "name"
    assert not (tmp_path / "SENTINEL").exists()


@pytest.mark.parametrize("tagged", ["!!binary aGVsbG8=", "!custom x", "! x", "!!str x",
                                    "!!python/name:os.system"])
def test_every_tag_refused(tagged):
    err = refused(f"variables: [x]\nminimize: x**2\ndescription: {tagged}\n")
    assert err.line == 3 and "tags are not allowed" in err.message and err.kind == "yaml"


def test_duplicate_keys_name_both_lines():
    err = refused("""
        variables: [x]
        minimize: x**2
        method: gd
        method: newton
    """)
    assert err.line == 4 and "lines 3 and 4" in err.message and err.field == "method"


def test_duplicate_variable_in_list():
    err = refused("variables: [x, y,\n  x]\nminimize: x**2\n")
    assert err.line == 2 and "twice" in err.message


@pytest.mark.parametrize("src, what", [
    ("- x\n- y\n", "a list"), ("just text\n", "a string"), ("42\n", "the number 42")])
def test_top_level_must_be_mapping(src, what):
    err = refused(src)
    assert "must be a YAML mapping" in err.message and what in err.message and err.line == 1


@pytest.mark.parametrize("src", ["", "# only a comment\n", "---\n", "~\n"])
def test_empty_file_refused(src):
    assert "empty" in refused(src).message


def test_multiple_documents_refused():
    err = refused("variables: [x]\nminimize: x**2\n---\nvariables: [y]\n")
    assert err.line == 3 and "one YAML document" in err.message


def test_deep_nesting_refused_fast():
    deep = "[" * 5000 + "]" * 5000
    start = time.perf_counter()
    err = refused(f"variables: [x]\nminimize: x**2\noptions: {{a: {deep}}}\n")
    assert time.perf_counter() - start < 1.0
    assert "nested more than 64" in err.message and err.line == 3


def test_deep_nesting_names_the_limit_and_how_to_raise_it():
    err = refused("variables: [x]\nminimize: x**2\noptions: {a: " + "[" * 80 + "}\n")
    # root mapping (1), options (2), 'a''s lists from 3: the 63rd '[' opens level 65
    assert (err.line, err.column) == (3, len("options: {a: ") + 63)
    assert "yaml_max_depth" in err.message and "--limit yaml_max_depth=" in err.message


def test_deep_block_nesting_located():
    # level L (the root is 1, at column 1) is the mapping at line L + 2 indented 2(L - 1)
    body = "".join("  " * i + "a:\n" for i in range(70))
    err = refused("variables: [x]\nminimize: x**2\noptions:\n" + body[len("a:\n"):] + "\n")
    assert "nested more than 64" in err.message
    assert (err.line, err.column) == (65 + 2, 2 * (65 - 1) + 1)


@pytest.mark.parametrize("text", [
    "'" + "[" * 5000 + "'",                    # single-quoted
    '"' + "{[" * 2500 + '\\" ]"',              # double-quoted, with an escaped quote
    "'it''s " + "[" * 5000 + "'",              # a doubled quote inside
    "|\n  " + "[" * 5000 + "\n  " + "{" * 100,  # a block scalar
    "text " + "[" * 5000,                      # brackets inside a plain value
])
def test_brackets_in_strings_are_not_nesting(text):
    p = load_yaml(f"variables: [x]\nminimize: x**2\ndescription: {text}\n")
    assert p.description.count("[") >= 2500


def test_brackets_in_comments_are_not_nesting():
    p = load_yaml("variables: [x]  # " + "[" * 5000 + "\nminimize: x**2 # {{{{\n"
                  "options: {tol: 1e-9,   # [[[[[[\n   max_iter: 5}\n")
    assert p.options["max_iter"] == 5


def test_quoted_bracket_inside_flow_list():
    # a quote opens a string only where a value starts: it's is plain text
    deep = "[" * 70 + "]" * 70
    assert "nested more than 64" in refused(
        f"variables: [x]\nminimize: x**2\noptions: {{a: [it's, {deep}]}}\n").message
    node = read_yaml("options: {a: [b, '" + "[" * 3000 + "']}\n")
    assert node.get("options").get("a").items[1].text == "[" * 3000


def test_nesting_limit_can_be_raised_beyond_libyamls_own():
    from symgd.io.problem_file import LoadLimits
    # libyaml (PyYAML's C reader) refuses 1000 flow levels on its own; symgd's raised
    # limit decides: the text is read by PyYAML's pure-Python reader instead.
    text = "a: " + "[" * 1100 + "1" + "]" * 1100 + "\n"
    node = read_yaml(text, max_depth=1200)
    depth = 0
    while not isinstance(node, Scalar):
        node = node.items[0][1] if isinstance(node, Mapping) else node.items[0]
        depth += 1
    assert depth == 1101
    with pytest.raises(InputError) as info:
        read_yaml(text, max_depth=1000)
    assert "nested more than 1000" in info.value.message
    assert LoadLimits.from_settings(["yaml_max_depth=1200"]).yaml_max_depth == 1200


def test_library_nesting_refusal_is_translated(monkeypatch):
    """If the pre-scan ever misses, PyYAML's own nesting refusal still ends in symgd's."""
    import symgd.io.yaml_nodes as yaml_nodes
    monkeypatch.setattr(yaml_nodes, "find_too_deep", lambda text, limit: None)
    err = refused("variables: [x]\nminimize: x**2\noptions: {a: " + "[" * 5000 + "]" * 5000
                  + "}\n")
    assert "nested more than 64" in err.message and err.line == 3


def test_prescan_depth_matches_the_reader():
    """The pre-scan counts what the node reader builds, in every style PyYAML writes."""
    import random

    import yaml

    from symgd.io.yaml_prescan import deepest

    rng = random.Random(7)
    leaves = ["a", "b c", "it's", "x: y", "[q]", "{r", "#h", "a #b", "- d", "'s'", '"d"',
              "two\nlines", "", "-1.5", "? k", "|", "x\\y", "é", "word " * 30]

    def tree(level):
        r = rng.random()
        if level > 6 or r < 0.3:
            return rng.choice(leaves) if r < 0.2 else f"{rng.uniform(-2, 2):.4f}"
        if r < 0.65:
            return {rng.choice(["k", "key two", "k:3", "[k]", "z" * 130]) + str(i):
                    tree(level + 1) for i in range(rng.randint(0, 3))}
        return [tree(level + 1) for _ in range(rng.randint(0, 3))]

    def depth(node):
        if isinstance(node, Mapping):
            return 1 + max([depth(v) for _, v in node.items], default=0)
        if hasattr(node, "items"):
            return 1 + max([depth(v) for v in node.items], default=0)
        return 0

    for _ in range(150):
        doc = {"root": tree(0)}
        for style in (None, False, True):
            for extra in ({}, {"indent": 4, "width": 30}, {"default_style": '"'}):
                text = yaml.safe_dump(doc, default_flow_style=style, allow_unicode=True,
                                      **extra)
                assert deepest(text) == depth(read_yaml(text)), text


def test_size_limit(tmp_path):
    big = "variables: [x]\nminimize: x**2\ndescription: " + "a" * (11 * 1024 * 1024) + "\n"
    with pytest.raises(InputError) as info:
        load_text(big)
    assert "10 MB" in info.value.message
    f = tmp_path / "big.yaml"
    f.write_text(big)
    with pytest.raises(InputError) as info:
        load(f)
    assert "10 MB" in info.value.message and info.value.file == str(f)


def test_version_directive_1_1_refused():
    err = refused("%YAML 1.1\n---\nvariables: [x]\nminimize: x**2\n")
    assert "YAML 1.2" in err.message


def test_syntax_error_located():
    err = refused("variables: [x\nminimize: x**2\n")
    assert err.kind == "yaml" and err.line is not None and "not valid YAML" in err.message


# ----------------------------------------------------------------------- schema errors
def test_unknown_top_level_key_suggests():
    err = refused("variables: [x]\nminimise: x**2\n")
    assert err.field == "minimise" and err.line == 2 and err.column == 1
    assert "did you mean 'minimize'" in err.message and "variables" in err.message


def test_unknown_variable_field():
    err = refused("variables:\n  x: {start: 1, uper: 2}\nminimize: x**2\n")
    assert err.field == "variables.x.uper" and err.line == 2
    assert "did you mean 'upper'" in err.message


def test_boolean_where_number_belongs():
    err = refused("variables:\n  x: {start: true}\nminimize: x**2\n")
    assert err.field == "variables.x.start" and err.line == 2 and err.column == 14
    assert "expected a number, got the boolean true" in err.message


def test_string_where_number_belongs():
    err = refused("variables: [x]\nparameters:\n  P: abc\nminimize: P*x**2\n")
    assert err.field == "parameters.P" and err.line == 3
    assert "expected a number, got a string 'abc'" in err.message
    err = refused('variables: {x: "1.5"}\nminimize: x**2\n')
    assert "remove the quotes" in err.message and err.line == 1


@pytest.mark.parametrize("value", [".inf", ".nan", "1e999"])
def test_non_finite_start_refused(value):
    err = refused(f"variables:\n  x: {{start: {value}}}\nminimize: x**2\n")
    assert err.field == "variables.x.start" and err.line == 2


def test_nan_parameter_refused():
    err = refused("variables: [x]\nparameters: {P: .nan}\nminimize: P*x\n")
    assert err.field == "parameters.P" and err.line == 2


def test_both_senses_refused():
    err = refused("variables: [x]\nminimize: x**2\nmaximize: x\n")
    assert err.field == "maximize" and err.line == 3


def test_no_objective_refused():
    err = refused("variables: [x]\n")
    assert err.field == "minimize" and err.line == 1


def test_missing_variables_refused():
    err = refused("minimize: x**2\n")
    assert err.field == "variables"
    err = refused("variables:\nminimize: x**2\n")
    assert err.field == "variables" and err.line == 1


def test_bad_variable_name_located():
    err = refused("variables: [x, lambda]\nminimize: x**2\n")
    assert err.line == 1 and err.field is not None and err.field.startswith("variables")


def test_expression_error_located():
    err = refused("variables: [x]\nmethod: gd\nminimize: x + zz\n")
    assert err.field == "minimize" and err.line == 3 and err.file == "prob.yaml"
    err = refused("variables: [x]\nminimize: x**2\nconstraints:\n  - x <= 1\n  - x + q <= 2\n")
    assert err.field == "constraints[1]" and err.line == 5


def test_empty_or_boolean_objective_refused():
    assert refused("variables: [x]\nminimize:\n").field == "minimize"
    err = refused("variables: [x]\nminimize: true\n")
    assert err.line == 2 and "boolean" in err.message


def test_option_with_list_refused():
    err = refused("variables: [x]\nminimize: x**2\noptions:\n  tol: [1, 2]\n")
    assert err.field == "options.tol" and err.line == 4 and "single value" in err.message


def test_problem_constructor_errors_are_located():
    err = refused("variables:\n  x: {lower: 2, upper: 1, start: 1.5}\nminimize: x**2\n")
    assert err.field == "variables.x" and err.line == 2


def test_method_must_be_text():
    err = refused("variables: [x]\nminimize: x**2\nmethod: 5\n")
    assert err.field == "method" and err.line == 3


# --------------------------------------------------------------------------- data fits
def test_fence_fit_file_with_columns():
    p = load(FILES / "fence_fit.yaml")
    assert p.is_fit
    assert p.data.file == str((FILES / "fence.csv").resolve())
    assert dict(p.data.columns) == {"x": "length", "y": "area"}
    assert p.data.symbols == ("x", "y")
    X, Y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    assert sp.expand(p.model - (a*X**2 + b*X)) == 0 and p.target == Y
    assert p.loss == "mae" and p.method == "sgd"
    assert p.options["schedule"] == {"name": "cosine", "t_max": 10}
    assert p.locations["data.file"] == (3, 9)
    assert p.locations["data.columns.x"][0] == 4
    assert p.locations["model"] == (5, 8) and p.locations["loss"][0] == 7


def test_csv_without_columns_uses_header(tmp_path):
    (tmp_path / "d.csv").write_text("\ufefft,obs\n0,1\n1,2.7\n")
    f = tmp_path / "fit.yaml"
    f.write_text("variables: {k: 1}\ndata: {file: d.csv}\nmodel: exp(k*t)\ntarget: log(obs)\n")
    p = load(f)
    assert (p.data.file, dict(p.data.columns), p.data.symbols, p.data.arrays) == \
        (str(tmp_path / "d.csv"), {}, ("obs", "t"), None)
    f.write_text("variables: {k: 1}\ndata: {file: d.csv}\nmodel: exp(k*tt)\ntarget: obs\n")
    with pytest.raises(InputError) as info:
        load(f)
    assert info.value.field == "model" and info.value.line == 3


def test_npz_member_names(tmp_path):
    np = pytest.importorskip("numpy")
    np.savez(tmp_path / "d.npz", u=np.arange(3.0), v=np.arange(3.0))
    f = tmp_path / "fit.yaml"
    f.write_text("variables: [c]\ndata: {file: d.npz}\nminimize: (c*u - v)**2\nreduce: sum\n")
    p = load(f)
    assert p.data.symbols == ("u", "v") and p.reduce == "sum"


def test_inline_data():
    p = load_yaml("""
        variables: {m: 1}
        data: {x: [0, 1, 2], y: [0, 99, 196.5]}
        model: m*x
        target: y
    """)
    assert p.data.inline and p.data.file is None and p.data.symbols == ("x", "y")
    assert {k: list(v) for k, v in p.data.arrays.items()} == \
        {"x": [0.0, 1.0, 2.0], "y": [0.0, 99.0, 196.5]}
    assert p.locations["data.y"][0] == 2


def test_inline_data_errors():
    err = refused("variables: [m]\ndata:\n  x: [0, 1]\n  y: [0, true]\nmodel: m*x\ntarget: y\n")
    assert err.field == "data.y[1]" and err.line == 4
    err = refused("variables: [m]\ndata:\n  x: [0, 1]\n  y: [0]\nmodel: m*x\ntarget: y\n")
    assert err.field == "data.y" and err.line == 4 and "has 1 values" in err.message
    err = refused("variables: [m]\ndata: {m: [1, 2]}\nminimize: m**2\n")
    assert err.field == "data.m" and "variable" in err.message


def test_data_file_errors(tmp_path):
    err = refused("variables: [m]\ndata:\n  file: nope.csv\nmodel: m*x\ntarget: y\n",
                  base_dir=tmp_path)
    assert err.field == "data.file" and err.line == 3 and "not found" in err.message
    (tmp_path / "d.csv").write_text("x,y\n1,2\n")
    err = refused("variables: [m]\ndata:\n  file: d.csv\n  colums: {x: a}\nmodel: m*x\n"
                  "target: y\n", base_dir=tmp_path)
    assert err.field == "data.colums" and "did you mean 'columns'" in err.message
    err = refused("variables: [m]\ndata: {file: d.txt}\nmodel: m*x\ntarget: y\n",
                  base_dir=tmp_path)
    assert err.field == "data.file" and ".npz" in err.message


def test_fit_key_rules(tmp_path):
    err = refused("variables: [m]\nminimize: m**2\nmodel: m\n")
    assert err.field == "model" and err.line == 3 and "data" in err.message
    inline = "data: {x: [1, 2], y: [2, 4]}\n"
    err = refused("variables: [m]\n" + inline + "model: m*x\n")
    assert err.field == "model" and "target" in err.message
    err = refused("variables: [m]\n" + inline + "model: m*x\ntarget: y\nminimize: m\n")
    assert err.field == "minimize"
    err = refused("variables: [m]\n" + inline + "minimize: (m*x - y)**2\nreduce: median\n")
    assert err.field == "reduce" and err.line == 4 and "mean" in err.message
    err = refused("variables: [m]\n" + inline + "model: m*x\ntarget: m*y\n")
    assert err.field == "target" and err.line == 4


# --------------------------------------------------------------------------- overrides
BASE = """
variables:
  x: {start: -1.2}
  y: 1.0
minimize: (1 - x)**2 + 100*(y - x**2)**2
method: gd
options:
  tol: 1.0e-6
  schedule: step
"""


def test_overrides_set_values():
    p = load_text(BASE, file="prob.yaml", overrides=[
        "options.learning_rate=1e-3", "method=newton", "variables.x.start=3",
        "variables.y.start=2", "variables.y.lower=0", "options.tol=1e-8",
        "options.schedule.gamma=0.5"])
    assert p.method == "newton"
    assert p.options["learning_rate"] == 1e-3 and isinstance(p.options["learning_rate"], float)
    assert p.options["tol"] == 1e-8
    assert p.options["schedule"] == {"name": "step", "gamma": 0.5}
    assert var(p, "x").start == 3.0 and var(p, "y").start == 2.0 and var(p, "y").lower == 0.0
    # Values from --set have no file line; untouched fields keep theirs.
    assert "method" not in p.locations and "variables.x.start" not in p.locations
    assert p.locations["minimize"][0] == 5  # BASE starts with a blank line


def test_override_creates_options_and_mapping_values():
    p = load_text("variables: [x, y]\nminimize: x**2 + y**2\n", overrides=[
        "options.schedule={name: cosine, t_max: 10}", "variables.x.start=3",
        "options.seed=010", "name=fit one"])
    assert p.options["schedule"] == {"name": "cosine", "t_max": 10}
    assert p.options["seed"] == 10
    assert var(p, "x").start == 3.0 and var(p, "y").start == 0.0
    assert p.name == "fit one"
    p = load_text("variables: [x]\nminimize: x**2\n", overrides=["maximize=-x**2"])
    assert p.sense == "maximize"


def test_override_schedule_name():
    p = load_text(BASE, overrides=["options.schedule.name=cosine"])
    assert p.options["schedule"] == {"name": "cosine"}


@pytest.mark.parametrize("assignment, field", [
    ("metod=newton", "metod"),
    ("method.name=x", "method.name"),
    ("variables.z.start=1", "variables.z.start"),
    ("variables.z=1", "variables.z"),
    ("constraints[0]=x <= 1", "constraints[0]"),
    ("minimize.x=1", "minimize.x"),
    ("options.tol", "options.tol"),
    ("options.tol={a: &x 1}", "options.tol"),
    ("variables.x.start=abc", "variables.x.start"),
    ("variables.x.begin=1", "variables.x.begin"),
    ("options.tol=!!python/name:os.system", "options.tol"),
])
def test_bad_overrides_refused(assignment, field):
    with pytest.raises(InputError) as info:
        load_text(BASE, file="prob.yaml", overrides=[assignment])
    err = info.value
    assert err.file == "--set" and err.field == field and err.line is None
    assert "--set" in err.message


def test_override_unknown_top_key_suggests():
    with pytest.raises(InputError) as info:
        load_text(BASE, overrides=["metod=newton"])
    assert "did you mean 'method'" in info.value.message


def test_apply_override_on_node_tree():
    root = read_yaml("variables: [x, y]\nminimize: x\n", file="f")
    apply_override(root, "variables.y.start=2.5")
    variables = root.get("variables")
    assert isinstance(variables, Mapping) and variables.keys() == ["x", "y"]
    start = variables.get("y").get("start")
    assert isinstance(start, Scalar) and start.value == 2.5 and start.origin is not None
    assert variables.key_node("x").line == 1


# ------------------------------------------------------------------------ load() misc
def test_load_missing_and_non_utf8(tmp_path):
    with pytest.raises(InputError) as info:
        load(tmp_path / "none.yaml")
    assert "not found" in info.value.message
    f = tmp_path / "bad.yaml"
    f.write_bytes(b"variables: [x]\nminimize: x\xff\n")
    with pytest.raises(InputError) as info:
        load(f)
    assert "UTF-8" in info.value.message and info.value.line == 2


# ------------------------------------------------------------------------------ fuzzing
from hypothesis import given, settings, strategies as st  # noqa: E402

_YAMLISH = st.text(alphabet=st.sampled_from(list("ab01 :-[]{},&*!?|>'\"#\n\t.~%<=xe+")),
                   max_size=80)


@settings(max_examples=300, deadline=None)
@given(_YAMLISH | st.text(max_size=60))
def test_reader_raises_only_input_errors(text):
    try:
        read_yaml(text, file="f.yaml")
    except InputError as err:
        assert err.kind == "yaml" and err.file == "f.yaml"


@settings(max_examples=200, deadline=None)
@given(_YAMLISH)
def test_override_values_raise_only_input_errors(value):
    try:
        load_text("variables: [x]\nminimize: x**2\n", overrides=[f"options.tol={value}"])
    except InputError as err:
        assert err.file == "--set" and err.field == "options.tol"
