"""The problem-file schema (SPEC §1): the node tree of a file -> :class:`ProblemFields`.

Each top-level key is read into the value ``symgd.Problem`` takes for it: variables,
parameters, the objective and constraints parsed by the safe parser, options, and the
``data`` block (:mod:`symgd.io.schema_data`). What is checked here is what only the
file knows: keys, YAML types, names, expressions, and where each field is (line and
column), kept in ``locations``. Rules that hold for the Python API too (which fit keys
go together, loss and reduce values, a target of columns only, bounds around the start)
are Problem's, checked once there; Problem locates its errors through ``locations``.
This module does not import :mod:`symgd.problem` (imports point from io to problem).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields as dc_fields
from types import MappingProxyType

import sympy as sp

from symgd.errors import InputError
from symgd.io.data_spec import DataSpec
from symgd.io.keys import FIT_ONLY_KEYS, TOP_KEYS, VARIABLE_KEYS
from symgd.io.schema_data import DataBlockReader
from symgd.io.schema_shape import ShapeReader
from symgd.io.yaml_nodes import Mapping, Node, Scalar, Sequence, describe, is_null

# Integer options (max_iter, seed, batch_size, ...) become 64-bit integers in the loops.
MAX_OPTION_INT = 2**63 - 1


@dataclass(frozen=True)
class ProblemFields:
    """What a problem file says, as the keyword arguments of ``symgd.Problem``.

    Expressions are sympy objects already (parsed with the file's variables, parameters
    and data columns); ``data`` is a :class:`~symgd.io.data_spec.DataSpec` or None;
    without a ``data`` block, ``model``/``target`` are left as text for Problem to
    refuse. ``symgd.problem.load`` builds the Problem: ``Problem(**fields.kwargs())``.
    """

    minimize: object = None
    maximize: object = None
    variables: dict | None = None
    constraints: tuple = ()
    parameters: dict | None = None
    name: str | None = None
    description: str | None = None
    method: str | None = None
    options: dict | None = None
    data: DataSpec | None = None
    model: object = None
    target: object = None
    loss: str | None = None
    reduce: str | None = None
    weights: object = None
    sigma: object = None
    source: str | None = None
    locations: MappingProxyType | None = None

    def kwargs(self) -> dict:
        """``{argument: value}`` for ``Problem(**...)`` (shallow: expressions are shared)."""
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}


class SchemaReader(DataBlockReader, ShapeReader):
    """Checks the node tree against the schema and returns :class:`ProblemFields`
    (variables with ``shape``: :mod:`symgd.io.schema_shape`)."""

    def problem(self, root: Mapping) -> ProblemFields:
        """Read every top-level key; the fit rules are left to Problem (see the module)."""
        self.check_keys(root, TOP_KEYS, "key", "")
        for key, value in root.items:
            self.note_entry(key.text, key, value)
        get = root.get

        name = self.text(get("name"), "name", numbers_ok=True) if get("name") else None
        description = (self.text(get("description"), "description", numbers_ok=True)
                       if get("description") else None)
        method = self.text(get("method"), "method") if get("method") else None

        variables = self.variables(root)
        parameters = self.parameters(get("parameters"), variables)
        options = self.options(get("options"))
        # the elements w[k] of a shaped w are reached through w, an IndexedBase
        var_symbols = {n: sp.Symbol(n, real=True) for n in variables if "[" not in n}
        var_symbols.update(self.indexed_bases())
        # Parameters enter the parser as their exact values (the same numbers Problem
        # would substitute), so its size checks see them: with P = 9, `P**P**P` is
        # 9**9**9 and refused, where substituting after parsing would hang in sympy.
        param_symbols = {n: _exact_parameter(v) for n, v in parameters.items()}
        base_symbols = {**var_symbols, **param_symbols}
        self.fill_shaped(param_symbols)
        for vname, spec in variables.items():  # ties: variables and parameters only
            if "expr" in spec:
                spec["expr"] = self.expression(spec["expr"], f"variables.{vname}.expr",
                                               base_symbols)

        sense_keys = [k for k in ("minimize", "maximize") if root.key_node(k) is not None]
        if len(sense_keys) == 2:
            raise self.error(root.key_node("maximize"), "maximize",
                             "give only one of 'minimize' and 'maximize'")
        data_node = get("data")
        fit = {k: get(k) for k in FIT_ONLY_KEYS if root.key_node(k) is not None}
        if not sense_keys and "model" not in fit and (data_node is not None or not fit):
            # A missing key has no place in the file but the top-level mapping itself.
            if data_node is not None:
                raise InputError("a data fit needs 'model' (with 'target' and 'loss') or a "
                                 "per-sample 'minimize'", file=self.file, field="model",
                                 line=root.line, column=root.column, kind="yaml")
            raise InputError("the file needs 'minimize' or 'maximize' (the objective)",
                             file=self.file, field="minimize", line=root.line,
                             column=root.column, kind="yaml")
        sense = sense_keys[0] if sense_keys else None
        if data_node is None:
            # Not a fit: model, target, loss and reduce go to Problem as text, unparsed,
            # for it to refuse ("for data fits only") before anything else.
            objective = self.expression(get(sense), sense, base_symbols) if sense else None
            loose = {k: node.text if isinstance(node, Scalar) else describe(node)
                     for k, node in fit.items()}
            return self.fields(root, base_symbols, sense, objective, variables, parameters,
                               name, description, method, options, None, **loose)

        texts = [self.expression_text(get(k), k) for k in sense_keys + ["model", "target",
                                                                        "weights", "sigma"]
                 if root.key_node(k) is not None]
        taken = {**variables, **dict.fromkeys(self.shaped)}
        data_fields, data_symbols = self.data(data_node, taken, parameters, texts)
        all_symbols = {**base_symbols, **data_symbols}
        objective = self.expression(get(sense), sense, all_symbols) if sense else None
        model = (self.expression(fit["model"], "model", all_symbols) if "model" in fit
                 else None)
        target = (self.expression(fit["target"], "target", all_symbols) if "target" in fit
                  else None)
        # weights (or sigma): an expression of columns, like the target (SPEC §1)
        weighing = {k: self.expression(fit[k], k, all_symbols) for k in ("weights", "sigma")
                    if fit.get(k) is not None}
        used = set()
        for e in (objective, model, target, *weighing.values()):
            if e is not None:
                used |= {s.name for s in e.free_symbols}
        data = self.data_spec(data_fields, used & set(data_symbols))
        return self.fields(
            root, base_symbols, sense, objective, variables, parameters, name, description,
            method, options, data, model=model, target=target,
            loss=self.text(fit["loss"], "loss") if fit.get("loss") is not None else None,
            reduce=self.text(fit["reduce"], "reduce") if fit.get("reduce") is not None
            else None, **weighing)

    def fields(self, root, base_symbols, sense, objective, variables, parameters, name,
               description, method, options, data, **fit) -> ProblemFields:
        """The ProblemFields, with the constraints (parsed without data columns)."""
        constraints = self.constraints(root.get("constraints"), base_symbols)
        return ProblemFields(
            minimize=objective if sense == "minimize" else None,
            maximize=objective if sense == "maximize" else None,
            variables=variables, constraints=tuple(constraints), parameters=parameters,
            name=name or self.default_name, description=description, method=method,
            options=options, data=data, source=self.file,
            locations=MappingProxyType(dict(self.locations)), **fit)

    def variables(self, root: Mapping) -> dict:
        """``{name: {"start"?, "lower"?, "upper"?}}`` in file order."""
        node = root.get("variables")
        if node is None or is_null(node):
            where = root.key_node("variables") or root
            raise self.error(where, "variables", "no variables declared; list them, e.g. "
                             "'variables: [x, y]' or 'variables: {x: 1.0, y: 2.0}'")
        out: dict = {}
        seen: dict = {}
        if isinstance(node, (Sequence, Mapping)) and \
                len(node.items) > self.limits.max_variables:
            raise InputError(f"{len(node.items):,} variables are declared; the limit is "
                             f"{self.limits.max_variables:,} (max_variables): symbolic "
                             f"derivatives and the dense Hessian grow with the square of the "
                             f"number of variables", **self.where(node, "variables"),
                             kind="limit")
        if isinstance(node, Sequence):
            for i, item in enumerate(node.items):
                name = self.symbol_name(item, f"variables[{i}]")
                if name in seen:
                    raise self.error(item, f"variables.{name}", self._twice(name, seen[name],
                                                                            item))
                seen[name] = item
                self.note(f"variables.{name}", item)
                self.note(f"variables.{name}.start", item)
                out[name] = {}
        elif isinstance(node, Mapping):
            for key, value in node.items:
                name = self.symbol_name(key, f"variables.{key.text}")
                if isinstance(value, Mapping) and value.key_node("shape") is not None:
                    out.update(self.shaped_variable(name, key, value))
                else:
                    out[name] = self.variable_spec(name, key, value)
            if len(out) > self.limits.max_variables:
                raise InputError(f"{len(out):,} variables are declared (counting each element "
                                 f"of a variable with shape); the limit is "
                                 f"{self.limits.max_variables:,} (max_variables)",
                                 **self.where(node, "variables"), kind="limit")
        else:
            raise self.error(node, "variables", f"expected a list of names or a mapping, got "
                             f"{describe(node)}; write e.g. 'variables: [x, y]'")
        if not out:
            raise self.error(node, "variables", "no variables declared")
        return out

    @staticmethod
    def _twice(name: str, first: Node, second: Node) -> str:
        if first.line is not None and second.line is not None:
            return f"variable '{name}' is declared twice (lines {first.line} and {second.line})"
        return f"variable '{name}' is declared twice"

    def variable_spec(self, name: str, key: Scalar, value: Node) -> dict:
        field = f"variables.{name}"
        self.note(field, key)
        if isinstance(value, Scalar):
            start = self.number(value, field, allow_null=True)
            # Problem cites variables.x.start for a start outside the bounds.
            self.note_entry(f"{field}.start", key, value)
            return {} if start is None else {"start": self.finite_float(value, field)}
        if not isinstance(value, Mapping):
            raise self.error(value, field, f"expected a start value or a mapping {{start, "
                             f"lower, upper, vary, expr}}, got {describe(value)}")
        self.check_keys(value, VARIABLE_KEYS, "variable field", field)
        spec: dict = {}
        for k, v in value.items:
            sub = f"{field}.{k.text}"
            self.note_entry(sub, k, v)
            if k.text == "start":
                if self.number(v, sub, allow_null=True) is not None:
                    spec["start"] = self.finite_float(v, sub)
                continue
            if k.text == "vary":  # data fits (symgd.fit.rules): held at its start
                vary = self.scalar(v, sub) if isinstance(v, Scalar) else None
                if not isinstance(vary, bool):
                    raise self.error(v, sub, f"expected true or false, got {describe(v)}")
                spec["vary"] = vary
                continue
            if k.text == "expr":  # a tie, parsed once the parameters are known
                self.expression_text(v, sub)
                spec["expr"] = v
                continue
            bound = self.number(v, sub, allow_null=True, allow_inf=True)
            if bound is None:
                continue
            if isinstance(bound, float) and math.isinf(bound):
                # lower: -.inf / upper: .inf mean "no bound"; the other way round is nonsense.
                if (bound < 0) == (k.text == "lower"):
                    continue
                raise self.error(v, sub, f"a {k.text} bound of {v.text} leaves no room for "
                                 f"the variable")
            spec[k.text] = self.finite_float(v, sub)
        if "start" not in spec:
            self.note(f"{field}.start", key)
        return spec

    def parameters(self, node: Node | None, variables: dict) -> dict:
        if node is None or is_null(node):
            return {}
        if not isinstance(node, Mapping):
            raise self.error(node, "parameters", f"expected a mapping of name: number, got "
                             f"{describe(node)}")
        out: dict = {}
        for key, value in node.items:
            field = f"parameters.{key.text}"
            name = self.symbol_name(key, field)
            self.note_entry(field, key, value)
            if name in variables or name in self.shaped:
                raise self.error(key, field, f"'{name}' is both a variable and a parameter")
            number = self.number(value, field)
            if isinstance(number, int) and not isinstance(number, bool):
                out[name] = number
            else:
                out[name] = self.finite_float(value, field)
        return out

    def constraints(self, node: Node | None, symbols: dict) -> list:
        """Relations parsed with the variables and parameters (data columns excluded)."""
        if node is None or is_null(node):
            return []
        items = node.items if isinstance(node, Sequence) else [node]  # one string: one item
        if isinstance(node, Mapping):
            raise self.error(node, "constraints",
                             "expected a list of relations (each with ==, <= or >=), got a "
                             "mapping; write '- x + y <= 3' lines")
        if len(items) > self.limits.max_constraints:
            raise InputError(f"{len(items):,} constraints are given; the limit is "
                             f"{self.limits.max_constraints:,} (max_constraints)",
                             **self.where(node, "constraints"), kind="limit")
        out = []
        for i, item in enumerate(items):
            field = f"constraints[{i}]"
            self.note(field, item)
            rel = self.expression(item, field, symbols, relation=True)
            # Always-true/false relations go on to Problem, which says so.
            if not isinstance(rel, (sp.core.relational.Relational,
                                    sp.logic.boolalg.BooleanAtom)):
                raise self.error(item, field, "a constraint needs ==, <= or >=")
            # Keep the user's own text: multipliers are keyed by it (SPEC §4).
            out.append((" ".join(str(item.value).split()), rel))
        return out

    def options(self, node: Node | None) -> dict:
        if node is None or is_null(node):
            return {}
        if not isinstance(node, Mapping):
            raise self.error(node, "options", f"expected a mapping of option: value, got "
                             f"{describe(node)}")
        out: dict = {}
        for key, value in node.items:
            field = f"options.{key.text}"
            self.note_entry(field, key, value)
            if key.text == "schedule" and isinstance(value, Mapping):
                out[key.text] = self.schedule(value, field)
            else:
                out[key.text] = self.option_value(value, field)
        return out

    def schedule(self, node: Mapping, field: str) -> dict:
        out: dict = {}
        for key, value in node.items:
            sub = f"{field}.{key.text}"
            self.note_entry(sub, key, value)
            out[key.text] = self.option_value(value, sub)
        return out

    def option_value(self, node: Node, field: str):
        """One scalar (number, bool or string); nan and empty values are refused."""
        if not isinstance(node, Scalar):
            extra = " (or, for schedule, a mapping)" if field == "options.schedule" else ""
            raise self.error(node, field, f"expected a single value: a number, a name or "
                             f"true/false{extra}, got {describe(node)}")
        value = self.scalar(node, field)
        if value is None:
            raise self.error(node, field, "has no value; give one or remove the option")
        if isinstance(value, float) and math.isnan(value):
            raise self.error(node, field, f"expected a number, got {node.text}")
        if isinstance(value, int) and not isinstance(value, bool) and \
                abs(value) > MAX_OPTION_INT:
            shown = node.text if len(node.text) <= 24 else node.text[:20] + "..."
            raise self.error(node, field, f"the integer {shown} is too large; integer "
                             f"options are limited to {MAX_OPTION_INT} (2**63 - 1)")
        return value


def _exact_parameter(value) -> sp.Expr:
    """A parameter's value as the exact number :class:`symgd.problem.Problem` substitutes
    (an int as an Integer, a float as the Rational of its shortest decimal text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return sp.Integer(value)
    return sp.Rational(repr(float(value)))
