"""The frozen Problem: what to optimise, over which variables, subject to what.

A Problem is built once (from a file by :func:`load`, or in Python) and never changed
afterwards; solvers derive new objects from it instead of mutating it (maximize is
solved as minimize of the negative, and the sign is flipped back in the Result).

Rules that hold whatever the input (bounds around the start, which keys a data fit
takes, loss and reduce names, no undeclared names) are checked here, once; the file
reader (:mod:`symgd.io.problem_file`) passes ``locations`` so errors name the line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np
import sympy as sp

from symgd.errors import InputError, unknown_name_message
from symgd.fit import rules as fit_rules  # data fits: their rules, held / tied variables
from symgd.indexed import (expand, key_names, parameter_element_used, sort_key,
                           undeclared_message)
from symgd.io import problem_file
from symgd.io.data import data_spec, symbol_names
from symgd.io.expr import check_double_range, parse_expression, substitute_checked
from symgd.io.keys import LOSSES, REDUCES, RELATIONS, SENSES, VARIABLE_KEYS
from symgd.problem_interface import DATA, SYMBOLIC, ProblemInterface

__all__ = ["Problem", "Variable", "Constraint", "load", "load_text", "SENSES", "LOSSES",
           "REDUCES", "RELATIONS"]


@dataclass(frozen=True)
class Variable:
    """One decision variable: its real symbol, start and optional bounds."""

    name: str
    symbol: sp.Symbol
    start: float = 0.0
    lower: float | None = None
    upper: float | None = None
    vary: bool = True   # False: held at start, not fitted (data fits; symgd.fit.rules)
    expr: object = None  # a tie: replaced by this expression of other variables


@dataclass(frozen=True)
class Constraint:
    """``lhs <relation> rhs``; ``expr`` is ``lhs - rhs`` (so ``expr == 0``, ``<= 0`` or ``>= 0``)."""

    text: str
    relation: str
    lhs: sp.Expr
    rhs: sp.Expr

    @property
    def expr(self) -> sp.Expr:
        return self.lhs - self.rhs

    @property
    def g_le(self) -> sp.Expr:
        """The constraint as ``g <= 0`` (inequalities) or ``g == 0`` (equalities)."""
        return self.rhs - self.lhs if self.relation == ">=" else self.lhs - self.rhs


def _real_symbol(s) -> sp.Symbol:
    name = s.name if isinstance(s, sp.Symbol) else str(s)
    return sp.Symbol(name, real=True)


def _exact_number(value, field: str) -> sp.Expr:
    """A parameter value as an exact sympy number (floats by their shortest decimal text)."""
    if isinstance(value, bool):
        raise InputError(f"expected a number, got the boolean {value}", field=field)
    if isinstance(value, sp.Basic):
        if value.free_symbols:
            raise InputError(f"a parameter must be a number, got {value}", field=field)
        return value
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"a parameter must be finite, got {value}", field=field)
        return sp.Rational(repr(value))
    raise InputError(f"expected a number, got {type(value).__name__}", field=field)


def _parameter_values(key, value) -> dict:
    """{name: exact number} for one entry of ``parameters=``: a symbol, a name or an
    element ``c[k]`` with a number, or an IndexedBase with one number per element (a
    sequence or array, in the order of its shape)."""
    if isinstance(key, sp.IndexedBase):
        label = str(key.label)
        if key.shape is None:
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise InputError(f"the IndexedBase {label} needs one value per element "
                                 "(a list or array)", field=f"parameters.{label}")
            key = sp.IndexedBase(label, shape=np.shape(np.asarray(value, dtype=object)))
        names = key_names(key, f"parameters.{label}")
        values = np.asarray(value, dtype=object)
        if values.shape != tuple(int(d) for d in key.shape):
            raise InputError(f"the IndexedBase {label} has shape {tuple(key.shape)} but "
                             f"{values.shape or 'a single number'} values were given",
                             field=f"parameters.{label}")
        return {n: _exact_number(_plain(v), f"parameters.{n}")
                for n, v in zip(names, values.ravel())}
    (pname,) = key_names(key, "parameters")
    return {pname: _exact_number(_plain(value), f"parameters.{pname}")}


def _plain(value):
    """A numpy scalar as the Python number it holds (np.float64 is a float already)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def _float(value, field: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, sp.Number)):
        raise InputError(f"expected a number, got {value!r}", field=field)
    out = float(value)
    if math.isnan(out):
        raise InputError("expected a number, got nan", field=field)
    return out


class Problem(ProblemInterface):
    """An optimisation problem (SPEC §5).

    Args:
        minimize / maximize: the objective, a sympy expression (exactly one of them).
            A string is read by symgd's safe parser, never by ``sympify``.
        variables: ``{symbol_or_name: start}``, ``{symbol_or_name: {"start", "lower",
            "upper"}}`` or a list of symbols (start 0). Default: the objective's free
            symbols that are not parameters, sorted by name (``w[2]`` before ``w[10]``).
            A key may be an element ``w[k]`` of a ``sympy.IndexedBase``, named ``w[k]``
            in results, or an IndexedBase with a numeric ``shape`` (all its elements).
            ``Sum`` and ``Product`` with integer limits are expanded (symgd.indexed).
        constraints: sympy relations (``Eq``, ``Le``, ``Ge``, ``<=``, ``>=``), strings, or
            (text, relation) pairs; multipliers are keyed by the text.
        parameters: ``{name: number}``, substituted before derivation; also
            ``{c[k]: number}`` or ``{c: [numbers]}`` for an IndexedBase ``c``.
        name, description, method, options: as in a problem file.
        data, model, target, loss, reduce: data-fitting problems (SPEC §1). ``data`` is
            a mapping of column name to values, a DataFrame, a CSV/.npz path,
            ``{"file": path, "columns": {symbol: column}}`` or a
            :class:`~symgd.io.data_spec.DataSpec`; it is kept as a DataSpec.
            ``weights`` (or ``sigma``, weights 1/sigma²): an expression of columns
            weighing squared residuals; a variable's ``vary`` and ``expr`` hold or tie
            it (symgd.fit.rules).
        source: the file the problem was read from (for error messages).
        locations: ``{field path: (line, column)}`` from the file, for error messages.

    Attributes mirror the arguments; ``objective`` is the objective in the user's sense,
    with parameters substituted and symbols made real; ``data`` is a DataSpec or None.
    ``variables`` are those solved for; ``declared`` all of them, held and tied included;
    ``ties`` maps each held or tied symbol to what replaced it in ``model`` and
    ``objective`` (its start, or its tie in the variables solved for).
    """

    # (ProblemInterface gives instances a __dict__ and weak references already.)
    __slots__ = ("name", "description", "variables", "objective", "sense", "constraints",
                 "parameters", "method", "options", "data", "model", "target", "loss",
                 "reduce", "source", "locations", "_frozen", "_polynomial", "declared",
                 "ties", "weights", "sigma")

    def __init__(self, minimize=None, maximize=None, *, variables=None, constraints=(),
                 parameters=None, name=None, description=None, method=None, options=None,
                 data=None, model=None, target=None, loss=None, reduce=None,
                 weights=None, sigma=None, source=None, locations=None):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen after __init__)
        set_("_frozen", False)
        set_("_polynomial", None)
        set_("source", None if source is None else str(source))
        set_("locations", MappingProxyType(dict(locations or {})))
        try:
            self._build(minimize, maximize, variables, constraints, parameters, name,
                        description, method, options, data, model, target, loss, reduce,
                        weights, sigma)
        except InputError as err:
            line_col = self.locations.get(err.field or "", (None, None))
            raise err.located(file=self.source, line=line_col[0], column=line_col[1]) from None
        set_("_frozen", True)

    # -- construction -------------------------------------------------------------------
    def _build(self, minimize, maximize, variables, constraints, parameters, name,
               description, method, options, data, model, target, loss, reduce, weights,
               sigma):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        is_fit = data is not None
        if not is_fit:
            for key, value in (("model", model), ("target", target), ("loss", loss),
                               ("reduce", reduce), ("weights", weights), ("sigma", sigma)):
                if value is not None:
                    how = (f"add a 'data' block or remove '{key}'" if self.source else
                           "give data= (a mapping of column name to values, a DataFrame "
                           "or a file)")  # the file's words, or the Python API's
                    raise InputError(f"'{key}' is for data fits only; {how}", field=key)
        if (minimize is None) == (maximize is None) and not (is_fit and model is not None
                                                             and minimize is None
                                                             and maximize is None):
            raise InputError("give exactly one of 'minimize' and 'maximize'",
                             field="minimize" if minimize is None else "maximize")
        sense = "maximize" if maximize is not None else "minimize"
        set_("sense", sense)

        params = {}
        for key, value in dict(parameters or {}).items():
            params.update(_parameter_values(key, value))
        set_("parameters", MappingProxyType(params))

        # Sum/Product expanded and IndexedBase elements made symbols first, so that
        # everything below sees plain symbols only (symgd.indexed).
        raw_objective = maximize if maximize is not None else minimize
        raw_objective = expand(raw_objective, field=sense, params=params)
        model = expand(model, field="model", params=params)
        target = expand(target, field="target", params=params)
        weights = expand(weights, field="weights", params=params)
        sigma = expand(sigma, field="sigma", params=params)
        constraints = [(c[0], expand(c[1], field=f"constraints[{i}]", params=params))
                       if isinstance(c, tuple) and len(c) == 2
                       else expand(c, field=f"constraints[{i}]", params=params)
                       for i, c in enumerate(constraints or ())]
        raw_exprs = [e for e in (raw_objective, model, target, weights, sigma)
                     if e is not None]
        if is_fit:
            data = data_spec(data, source=self.source, locations={
                k: v for k, v in self.locations.items() if k == "data" or k.startswith("data.")})
        set_("data", data)
        data_names = set(symbol_names(data)) if is_fit else set()
        var_specs = self._variable_specs(variables, raw_exprs, params, data_names)
        names = [v[0] for v in var_specs]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise InputError(f"variable '{dup}' is declared twice", field="variables")
        clash = set(names) & set(params)
        if clash:
            raise InputError(f"'{sorted(clash)[0]}' is both a variable and a parameter",
                             field="parameters")
        variables_t = tuple(self._make_variable(*spec) for spec in var_specs)
        set_("variables", variables_t)

        # One real symbol per name; parameters substituted by value.
        self_subs = self._substitutions(raw_exprs + [c[1] if isinstance(c, tuple) else c
                                                    for c in (constraints or ())])
        set_("objective", None if raw_objective is None else
             self._to_expr(raw_objective, sense, self_subs))
        set_("model", None if model is None else self._to_expr(model, "model", self_subs))
        set_("target", None if target is None else self._to_expr(target, "target", self_subs))
        for key, value in (("weights", weights), ("sigma", sigma)):
            set_(key, None if value is None else self._to_expr(value, key, self_subs))
        set_("loss", loss)
        set_("reduce", reduce)
        set_("declared", variables_t)
        set_("ties", MappingProxyType({}))

        cons = []
        for i, c in enumerate(constraints or ()):
            cons.append(self._make_constraint(c, f"constraints[{i}]", self_subs))
        set_("constraints", tuple(cons))

        if is_fit:
            fit_rules.check_fit(self, data_names, set_)
            ties, written = fit_rules.tie_substitutions(
                variables_t, lambda v, f: self._to_expr(v, f, {**self_subs,
                                                               **self._substitutions([v])}))
            set_("ties", MappingProxyType(ties))  # {symbol: its value or tie}
            set_("declared", tuple(replace(v, expr=written.get(v.name)) for v in variables_t))
            if ties:
                for key in ("model", "objective"):
                    if getattr(self, key) is not None:
                        set_(key, getattr(self, key).xreplace(ties))
                set_("constraints", tuple(Constraint(c.text, c.relation, c.lhs.xreplace(
                    ties), c.rhs.xreplace(ties)) for c in cons))
                set_("variables", tuple(v for v in variables_t if v.symbol not in ties))
        else:
            held = [f"variables.{v.name}.{'vary' if not v.vary else 'expr'}"
                    for v in variables_t if not v.vary or v.expr is not None]
            if held:
                raise InputError("'vary' and 'expr' hold or tie the parameters of a data "
                                 "fit; give the problem data, or substitute the value "
                                 "yourself", field=held[0])
            allowed = {v.symbol for v in variables_t}
            for field, expr in [(sense, self.objective)] + [
                    (f"constraints[{i}]", c.expr) for i, c in enumerate(cons)]:
                extra = expr.free_symbols - allowed
                if extra:
                    bad = sorted(s.name for s in extra)[0]
                    raise InputError(undeclared_message(bad, names + list(params)) or (
                        f"unknown name '{bad}': it is neither a variable nor a parameter "
                        f"(variables: {', '.join(names) or 'none'}; parameters: "
                        f"{', '.join(params) or 'none'})"), field=field)

        set_("name", str(name) if name else "problem")
        set_("description", description)
        set_("method", method)
        set_("options", MappingProxyType(dict(options or {})))

    @staticmethod
    def _variable_specs(variables, raw_exprs, params, data_names=frozenset()):
        """Normalise the three forms of ``variables`` to (name, start, lower, upper) tuples.
        By default the variables are the free symbols that are neither parameters nor
        data columns."""
        if variables is None:
            free = set()
            for e in raw_exprs:
                if isinstance(e, sp.Basic):
                    free |= {s.name for s in e.free_symbols}
            parameter_element_used(free - set(params), params)
            return [(n, 0.0, None, None)
                    for n in sorted(free - set(params) - set(data_names), key=sort_key)]
        if isinstance(variables, Mapping):
            specs = []
            for key, spec in variables.items():
                for vname in key_names(key, "variables"):
                    specs.append(Problem._variable_spec(vname, spec))
            return specs
        if isinstance(variables, (str, sp.Basic)):
            variables = [variables]
        return [(vname, 0.0, None, None)
                for v in variables for vname in key_names(v, "variables")]

    @staticmethod
    def _variable_spec(vname, spec) -> tuple:
        """(name, start, lower, upper, vary, expr) of one entry of ``variables``."""
        field = f"variables.{vname}"
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(VARIABLE_KEYS)
            if unknown:
                raise InputError(unknown_name_message(
                    "variable field", sorted(unknown)[0], VARIABLE_KEYS),
                    field=f"{field}.{sorted(unknown)[0]}")
            hints = fit_rules.variable_hints(spec, field)  # vary, expr
            return (vname,
                    _float(spec.get("start", 0.0), f"{field}.start"),
                    _float(spec.get("lower"), f"{field}.lower", allow_none=True),
                    _float(spec.get("upper"), f"{field}.upper", allow_none=True), *hints)
        return (vname, _float(0.0 if spec is None else spec, field), None, None)

    @staticmethod
    def _make_variable(name, start, lower, upper, vary=True, expr=None) -> Variable:
        field = f"variables.{name}"
        if not math.isfinite(start):
            raise InputError(f"start must be finite, got {start}", field=f"{field}.start")
        if lower is not None and upper is not None and lower > upper:
            raise InputError(f"lower bound {lower} is above upper bound {upper}", field=field)
        # A start outside its bounds is kept as given (SPEC §1: published test sets
        # start there on purpose); the solver moves it inside and says so.
        return Variable(name, sp.Symbol(name, real=True), start, lower, upper, vary, expr)

    def _substitutions(self, exprs) -> dict:
        """Map every user symbol to its real twin, and parameters to their values."""
        subs = {}
        real = {v.name: v.symbol for v in self.variables}
        for e in exprs:
            if not isinstance(e, sp.Basic):
                continue
            for s in e.free_symbols:
                if s.name in self.parameters:
                    subs[s] = self.parameters[s.name]
                elif s.name in real:
                    if s != real[s.name]:
                        subs[s] = real[s.name]
                elif not s.is_real:
                    subs[s] = sp.Symbol(s.name, real=True)
        return subs

    def _to_expr(self, value, field, subs) -> sp.Expr:
        return check_double_range(self._expr_of(value, field, subs), field=field)

    def _expr_of(self, value, field, subs) -> sp.Expr:
        if isinstance(value, str):
            value = parse_expression(value, self._known_symbols(), field=field)
            return value.xreplace(self._param_subs())
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return sp.Float(value) if isinstance(value, float) else sp.Integer(value)
        if not isinstance(value, sp.Expr):
            raise InputError(f"expected a sympy expression or a string, got "
                             f"{type(value).__name__}", field=field)
        return substitute_checked(value, subs, field=field)

    def _known_symbols(self) -> dict:
        """Names text may use: variables and data columns as real symbols, parameters as
        their values (so the parser sizes P**P**P with P's value, as the loader does)."""
        known = {v.name: v.symbol for v in self.variables}
        known.update(self.parameters)
        if self.data is not None:
            for col in symbol_names(self.data):
                known.setdefault(col, sp.Symbol(col, real=True))
        return known

    def _param_subs(self) -> dict:
        return {sp.Symbol(p, real=True): v for p, v in self.parameters.items()}

    def _make_constraint(self, c, field, subs) -> Constraint:
        given_text = None
        if isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str):
            given_text, c = c  # (the user's text, the relation already parsed)
        if isinstance(c, str):
            text = c
            rel = parse_expression(c, self._known_symbols(), field=field, relation=True)
            rel = rel.xreplace(self._param_subs())
        else:
            rel = c
            text = None
        if isinstance(rel, sp.Equality):
            op = "=="
        elif isinstance(rel, (sp.LessThan, sp.StrictLessThan)):
            op = "<="
        elif isinstance(rel, (sp.GreaterThan, sp.StrictGreaterThan)):
            op = ">="
        elif rel in (sp.true, sp.false) or isinstance(rel, bool):
            raise InputError("constraint is always " + ("true" if bool(rel) else "false") +
                             " (it involves no variable)", field=field)
        else:
            raise InputError("a constraint needs ==, <= or >=", field=field)
        lhs = check_double_range(substitute_checked(rel.lhs, subs, field=field), field=field)
        rhs = check_double_range(substitute_checked(rel.rhs, subs, field=field), field=field)
        if given_text is not None:
            text = given_text
        if text is None:
            text = f"{sp.sstr(lhs)} {op} {sp.sstr(rhs)}"
        return Constraint(text, op, lhs, rhs)

    # -- read-only view -----------------------------------------------------------------
    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("Problem is frozen; build a new one instead")
        object.__setattr__(self, key, value)

    @property
    def symbols(self) -> tuple:
        return tuple(v.symbol for v in self.variables)

    # names, start, has_bounds and is_fit come from ProblemInterface.
    @property
    def kernel_source(self) -> str:
        """DATA for a data fit (kernels from symgd.fit), else SYMBOLIC (symgd.kernelgen)."""
        return DATA if self.data is not None else SYMBOLIC

    @property
    def is_polynomial(self) -> bool:
        """Whether the objective is a polynomial in the variables (computed once); False
        for a model fit, which has no objective expression."""
        if self._polynomial is None:
            from symgd import large_expr   # linear time: sympy's grows with terms x n
            value = (self.objective is not None
                     and large_expr.is_polynomial(self.objective, self.symbols))
            object.__setattr__(self, "_polynomial", value)
        return self._polynomial

    def minimized_objective(self) -> sp.Expr:
        """The objective as minimised: f for minimize, -f for maximize."""
        return -self.objective if self.sense == "maximize" else self.objective

    def location(self, field: str) -> tuple:
        """(line, column) of a field in the source file, or (None, None)."""
        return self.locations.get(field, (None, None))

    def input_error(self, message: str, field: str | None = None, kind: str = "input"):
        """An InputError located in this problem's file."""
        line, col = self.location(field or "")
        return InputError(message, file=self.source, field=field, line=line, column=col,
                          kind=kind)

    def __repr__(self) -> str:
        from symgd import large_expr
        return (f"Problem(name={self.name!r}, {self.sense}={large_expr.text(self.objective)}, "
                f"variables={list(self.names)}, constraints={len(self.constraints)})")


def load(path, overrides=(), *, limits=None) -> Problem:
    """Read a problem file (SPEC §1) into a :class:`Problem`: ``overrides`` are ``--set``
    strings, ``limits`` a :class:`symgd.io.limits.LoadLimits` (``--limit``). Errors name
    the file, field, line and column (:func:`symgd.io.problem_file.read`)."""
    return Problem(**problem_file.read(path, overrides, limits=limits).kwargs())


def load_text(text: str, *, file: str = "<string>", base_dir=None, overrides=(),
              limits=None) -> Problem:
    """A :class:`Problem` from problem-file text (:func:`symgd.io.problem_file.read_text`
    says what the arguments mean)."""
    return Problem(**problem_file.read_text(text, file=file, base_dir=base_dir,
                                            overrides=overrides, limits=limits).kwargs())
