"""Property-based tests (hypothesis) of the readers of untrusted text.

* Random strings into the expression parser, the YAML reader, the problem-file loader
  and ``--set`` values never raise anything but symgd's own ``InputError`` (no
  ``SyntaxError``, ``RecursionError``, ``ValueError`` from sympy, ...), and never hang:
  each example runs under a time bound.
* Random valid expression trees, built directly in sympy from the grammar's pieces,
  print (``to_source``) and parse back to an equal expression; and every expression the
  parser accepts from random source text prints and parses back to the same tree (the
  printer is faithful to whatever the parser can produce).
"""
from __future__ import annotations

import math
import random
import time

import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symgd.errors import InputError
from symgd.io.expr import parse_expression, to_source
from symgd.io.problem_file import parse_override
from symgd.problem import load_text
from symgd.io.yaml_nodes import read_yaml

X, Y, Z = sp.symbols("x y z", real=True)
SYMS = {"x": X, "y": Y, "z": Z}
# A guard against pathological slowness (an exponential blow-up in the parser or in sympy),
# not a speed figure, so it keeps the real clock with a generous margin: the slowest of the
# ~2,500 examples took 38 ms on 2 shared cores, over 100 times under this bound. A true
# hang would never reach the assertion at all (the test run itself would hang).
PER_EXAMPLE_S = 5.0  # every parse or load of one example must end well within this

COMMON = dict(deadline=None, derandomize=True,  # the same examples on every CI run
              suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.filter_too_much])


def only_input_errors(fn, *args, **kwargs):
    """Call ``fn``; an InputError is fine, any other exception fails the test; so does
    taking longer than PER_EXAMPLE_S."""
    t0 = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    except InputError as err:
        assert err.message and isinstance(err.message, str)
        result = err
    assert time.perf_counter() - t0 < PER_EXAMPLE_S, (args, kwargs)
    return result


# ----------------------------------------------------------------------- fuzzing
# Text built from the pieces of the grammar and of Python, so that examples get past the
# first character check and reach the parser, the tree walk and sympy.
TOKENS = ["x", "y", "z", "pi", "E", "e", "0", "1", "2", "10", "9", "0.5", "1e308", "1e-308",
          "1e999", "0x1f", "0b1", "1_000", "+", "-", "*", "/", "**", "//", "%", "^", "@",
          "(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "=", "==", "<=", ">=", "<", ">",
          "!=", " ", "  ", "\n", "\t", "'", '"', "#", "\\", "lambda", "not", "and", "or",
          "if", "else", "for", "in", "is", "None", "True", "__class__", "__import__", "_",
          "exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
          "sinh", "cosh", "tanh", "Abs", "sign", "Max", "Min", "open", "eval", "Symbol",
          "I", "oo", "nan", "zoo", "j", "f'{x}'", "...", "\x00", "\u2212", "\u00b2"]
SOURCE_SOUP = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@settings(max_examples=400, **COMMON)
@given(st.one_of(st.text(max_size=60), SOURCE_SOUP))
def test_parser_raises_only_input_errors(text):
    for relation in (False, True):
        out = only_input_errors(parse_expression, text, SYMS, field="f", relation=relation)
        if not isinstance(out, InputError):
            assert isinstance(out, sp.Basic)
            assert out.free_symbols <= {X, Y, Z}
        else:
            assert out.field == "f" and out.kind == "expression"


YAML_TOKENS = ["variables", "minimize", "maximize", "options", "data", "constraints", ":",
               ": ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "x", "y", "1", "1e-8",
               "010", ".inf", ".nan", "on", "yes", "null", "~", "&a", "*a", "<<", "!!str",
               "!!python/object/apply:os.system", "'", '"', "|", ">", "#", "---", "...",
               "%YAML 1.2", "%TAG", "?", "\t", "\x00", "\ufeff", "x**2", "__class__"]
YAML_SOUP = st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join)


@settings(max_examples=400, **COMMON)
@given(st.one_of(st.text(max_size=80), YAML_SOUP))
def test_yaml_reader_and_loader_raise_only_input_errors(text):
    only_input_errors(read_yaml, text, file="f.yaml")
    out = only_input_errors(load_text, text, file="<fuzz>")
    if not isinstance(out, InputError):  # a few soups are valid problems
        assert out.variables


@settings(max_examples=200, **COMMON)
@given(st.one_of(st.text(max_size=40), YAML_SOUP, SOURCE_SOUP))
def test_set_values_raise_only_input_errors(value):
    only_input_errors(parse_override, "options.tol=" + value)
    only_input_errors(parse_override, value)
    base = "variables: [x, y]\nminimize: x**2 + y**2\n"
    only_input_errors(load_text, base, overrides=["minimize=" + value])


# ----------------------------------------------------------------------- round trips
def _with_symbol(e):
    return bool(getattr(e, "free_symbols", None))


LEAVES = st.one_of(
    st.sampled_from([X, Y, Z]),
    st.integers(-30, 30).map(sp.Integer),
    st.tuples(st.integers(-30, 30), st.integers(1, 30)).map(lambda t: sp.Rational(*t)),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False,
              width=64).map(sp.Float),
    st.sampled_from([sp.pi, sp.E]),
)
UNARY = [sp.exp, sp.log, sp.sqrt, sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan, sp.sinh,
         sp.cosh, sp.tanh, sp.Abs, sp.sign]


def _extend(children):
    symbolic = children.filter(_with_symbol)
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), symbolic).map(lambda t: t[0](t[1])),
        st.tuples(children, children).map(lambda t: sp.Add(*t)),
        st.tuples(children, children).map(lambda t: sp.Mul(*t)),
        st.tuples(children, children).map(lambda t: t[0] - t[1]),
        st.tuples(children, symbolic).map(lambda t: t[0] / t[1]),
        st.tuples(symbolic, st.integers(-4, 5)).map(lambda t: t[0] ** t[1]),
        st.tuples(symbolic, symbolic).map(lambda t: t[0] ** t[1]),
        st.tuples(symbolic, children).map(lambda t: sp.atan2(t[0], t[1])),
        st.tuples(symbolic, children).map(lambda t: sp.Max(t[0], t[1])),
        st.tuples(symbolic, children).map(lambda t: sp.Min(t[0], t[1])),
        st.tuples(symbolic, st.sampled_from([2, 10, sp.Rational(1, 2)])).map(
            lambda t: sp.log(t[0], t[1])),
    )


TREES = st.recursive(LEAVES, _extend, max_leaves=10)
BAD = (sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo)


def _numerically_equal(a, b) -> bool:
    """Equal at a few random points (where both are finite reals)."""
    rng = random.Random(0)
    fa, fb = sp.lambdify((X, Y, Z), a, "mpmath"), sp.lambdify((X, Y, Z), b, "mpmath")
    checked = 0
    for _ in range(20):
        pt = [rng.uniform(0.1, 0.9) * rng.choice([-1, 1]) for _ in range(3)]
        try:
            va, vb = complex(fa(*pt)), complex(fb(*pt))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            continue
        if not all(map(math.isfinite, (va.real, va.imag, vb.real, vb.imag))):
            continue
        assert abs(va - vb) <= 1e-9 * (1 + abs(va)), (a, b, pt, va, vb)
        checked += 1
    return checked > 0


def _doubles_only(e) -> bool:
    """Every float in e fits a double (sympy's arithmetic on the drawn floats can pass
    1.8e308, which a problem file cannot write; to_source rightly refuses it)."""
    return all(math.isfinite(float(f)) for f in e.atoms(sp.Float))


@settings(max_examples=250, **COMMON)
@given(TREES)
def test_random_trees_print_and_parse_back(e):
    assume(_with_symbol(e))
    assume(_doubles_only(e))
    if e.has(*BAD):
        with pytest.raises(ValueError):
            to_source(e)
        return
    text = to_source(e)
    back = parse_expression(text, SYMS, field="f")  # must be accepted: a valid tree
    if back != e:
        # sympy may order or group differently; the two must still be the same function
        assert sp.simplify(back - e) == 0 or _numerically_equal(back, e), (text, e, back)


@settings(max_examples=250, **COMMON)
@given(st.tuples(TREES, TREES, st.sampled_from([sp.Eq, sp.Le, sp.Ge])))
def test_random_relations_print_and_parse_back(t):
    a, b, rel = t
    assume(_with_symbol(a) or _with_symbol(b))
    assume(not (a.has(*BAD) or b.has(*BAD)))
    assume(_doubles_only(a) and _doubles_only(b))
    r = rel(a, b, evaluate=False)
    back = parse_expression(to_source(r), SYMS, field="c", relation=True)
    assert type(back) is type(r)
    for u, v in ((back.lhs, r.lhs), (back.rhs, r.rhs)):
        assert u == v or sp.simplify(u - v) == 0 or _numerically_equal(u, v), (r, back)


GRAMMAR_TEXT = st.recursive(
    st.sampled_from(["x", "y", "z", "2", "3", "0.5", "1e-3", "pi", "E", "7/3"]),
    lambda c: st.one_of(
        st.tuples(c, st.sampled_from(["+", "-", "*", "/", "**"]), c).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos",
                                   "atan", "sinh", "cosh", "tanh", "Abs", "sign", "-"]),
                  c).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["atan2", "Max", "Min", "log"]), c, c).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    ),
    max_leaves=12,
)


@settings(max_examples=300, **COMMON)
@given(GRAMMAR_TEXT)
def test_whatever_the_parser_accepts_prints_and_parses_to_the_same_tree(text):
    first = only_input_errors(parse_expression, text, SYMS, field="f")
    assume(not isinstance(first, InputError))  # refusals (1/0, log(-1), ...) are fine
    again = parse_expression(to_source(first), SYMS, field="f")
    assert again == first, (text, to_source(first), again)
