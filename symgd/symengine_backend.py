"""Derivatives and common-subexpression elimination by symengine, where it is installed.

symengine (the ``symgd[fast]`` extra) differentiates and eliminates common
subexpressions in C++: 5-100x faster than sympy on objectives the loop templates do
not cover (bench/symengine_derive.py). Everything it computes comes back as sympy
expressions in the caller's own symbols (assumptions included), so the rest of symgd
never sees a symengine object, and sympy stays the reference and the fall-back:

- only expressions built from the functions in :data:`EXACT_FUNCTIONS` go to
  symengine. It leaves others unevaluated (``Derivative(Abs(x), x)`` where sympy,
  with real symbols, gives ``sign(x)``) or, worse, differentiates functions it wraps
  without knowing them (Heaviside, Bessel) as 0; such expressions are differentiated
  by sympy, expression by expression;
- a result still holding a Derivative or Subs is recomputed by sympy.

``SYMGD_SYMBOLIC=sympy`` forces sympy everywhere (debugging, the comparison tests);
``symengine`` or ``auto`` (the default) use symengine where it is importable. The
module imports symengine lazily: the core imports and runs without it.
"""
from __future__ import annotations

import itertools
import os

import sympy as sp

MODE_ENV = "SYMGD_SYMBOLIC"

# sympy functions symengine differentiates exactly as sympy does (the safe parser's
# smooth functions, symgd.io.grammar). Abs, sign, Max and Min are left out on purpose.
EXACT_FUNCTIONS = (sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan,
                   sp.atan2, sp.sinh, sp.cosh, sp.tanh)
_TREE_TYPES = (sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Rational, sp.Float) + EXACT_FUNCTIONS

_STATE: dict = {}          # "module": the symengine module, or None when not importable
_NAMES = itertools.count()
# sympy results of the latest derivation -> their symengine forms, so code generation
# (cse below) need not convert them again; holds one problem's derivatives at most
_RECENT: dict = {}
_RECENT_MAX = 200_000


def mode() -> str:
    """``sympy`` or ``symengine``: which library differentiates and eliminates now."""
    if os.environ.get(MODE_ENV, "auto").strip().lower() == "sympy":
        return "sympy"
    return "symengine" if module() is not None else "sympy"


def module():
    """The symengine module, or None where it is not installed (imported once, lazily)."""
    if "module" not in _STATE:
        try:
            import symengine
        except ImportError:
            symengine = None
        _STATE["module"] = symengine
    return _STATE["module"]


def exact(expr) -> bool:
    """Whether ``expr`` is built only of what symengine differentiates as sympy does."""
    if not isinstance(expr, sp.Basic):
        return isinstance(expr, (int, float))
    for node in sp.preorder_traversal(expr):
        if node is sp.pi or node is sp.E:
            continue
        if not isinstance(node, _TREE_TYPES) or isinstance(node, (sp.Dummy, sp.Wild)) \
                or (node.is_Float and node._prec != 53):   # doubles only: no precision lost
            return False
    return True


def _symbol_class():
    """A symengine Symbol that converts back to the sympy symbol it stands for."""
    if "symbol" not in _STATE:
        se = module()

        class Stand(se.Symbol):
            """symengine symbol standing for one sympy symbol (``orig``): converting back
            gives ``orig`` itself, assumptions and all, without a substitution pass.

            symengine warns that a Symbol subclass is never freed (a reference cycle
            through its C++ object); its cure, ``store_pickle=True``, re-creates the
            Python object on every access and made Osborne 2's Hessian 10x slower.
            What stays is a few hundred bytes per symbol per derivation."""

            def __init__(self, name, orig):
                self.orig = orig
                super().__init__(name)

            def _sympy_(self):
                return self.orig

        _STATE["symbol"] = Stand
    return _STATE["symbol"]


class Engine:
    """Converts sympy expressions to symengine and back, for one set of symbols.

    ``rename`` maps sympy symbols to the sympy symbols results should hold instead
    (code generation renames variables v0, v1, ...); others map to themselves.
    """

    def __init__(self, rename=None):
        self.se = module()
        self.rename = dict(rename or {})
        self.table: dict = {}      # sympy symbol -> its stand-in
        self.by_name: dict = {}    # a plain symbol's name -> the sympy symbol of that name

    def stand(self, s):
        """The symengine stand-in of sympy symbol ``s``."""
        st = self.table.get(s)
        if st is None:
            st = self.table[s] = _symbol_class()(f"_sg{next(_NAMES)}", self.rename.get(s, s))
        return st

    def to_se(self, expr):
        """``expr`` in symengine, or None where it is not :func:`exact` or its symbols'
        names are ambiguous (two sympy symbols of one name)."""
        cached = _RECENT.get(expr) if isinstance(expr, sp.Basic) else None
        if cached is not None:
            return cached.subs({s: self.stand(s.orig) for s in cached.free_symbols
                                if hasattr(s, "orig")})
        if not exact(expr):
            return None
        expr = sp.sympify(expr)
        subs = {}
        for s in expr.free_symbols:
            if self.by_name.setdefault(s.name, s) != s:
                return None
            subs[self.se.Symbol(s.name)] = self.stand(s)
        return self.se.sympify(expr).subs(subs)

    def to_sympy(self, forms, evaluate: bool, remember: bool = False) -> list:
        """The sympy forms of symengine expressions ``forms`` (in the original or the
        renamed symbols). ``evaluate=False`` builds each tree as symengine holds it
        (canonical already) without sympy re-evaluating every node: 5-10x faster, the
        same expression; ``True`` gives sympy's own canonical form (what users see)."""
        if evaluate:
            out = [sp.sympify(e) for e in forms]
        else:
            with sp.evaluate(False):   # one block: entering it clears sympy's cache
                out = [sp.sympify(e) for e in forms]
        if remember and not self.rename and len(_RECENT) < _RECENT_MAX:
            _RECENT.update(zip(out, forms))
        return out

    def unevaluated(self, e) -> bool:
        return bool(e.atoms(self.se.Derivative, self.se.Subs))


def engine(rename=None):
    """An :class:`Engine`, or None when sympy is to be used (:func:`mode`)."""
    return Engine(rename) if mode() == "symengine" else None


def forget() -> None:
    """Drop the remembered symengine forms (a new derivation begins)."""
    _RECENT.clear()


class Differentiator:
    """Partial derivatives of sympy expressions, by symengine where it computes them
    exactly as sympy would, by ``fallback(terms, symbol)`` (sympy) elsewhere.

    Results are sympy, in sympy's own canonical form (``evaluate=False`` would convert
    2-6x faster, but leaves trees whose count_ops, equality and printing differ from
    sympy's: measured, symgd.calculus.check_size then costs more than was saved); each
    one's symengine form is kept so that second derivatives and code generation start
    from it without converting again.
    """

    def __init__(self, eng: Engine, fallback, evaluate: bool = True):
        self.eng = eng
        self.fallback = fallback   # fallback(terms, s): d(sum of terms)/ds by sympy
        self.evaluate = evaluate
        self.forms: dict = {}   # id of a sympy result -> (result, its symengine form)

    def _form(self, expr):
        known = self.forms.get(id(expr))
        if known is not None and known[0] is expr:
            return known[1]
        return self.eng.to_se(expr)

    def knows(self, expr) -> bool:
        """Whether ``expr`` is a result of this differentiator (its form is kept)."""
        known = self.forms.get(id(expr))
        return known is not None and known[0] is expr

    def partials(self, jobs) -> list:
        """[d(t_1 + ... + t_m)/ds for (terms, s) in jobs]: ``terms`` are sympy
        expressions (the terms of an expression that hold s, in symgd.calculus's
        grouped differentiation, or the expression itself)."""
        out, pending = [], []
        for terms, s in jobs:
            terms = list(terms)
            forms = [self._form(t) for t in terms]
            d = None
            if all(f is not None for f in forms):
                d = self.eng.se.Add(*[f.diff(self.eng.stand(s)) for f in forms])
                if d != 0 and self.eng.unevaluated(d):
                    d = None
            if d is None:
                out.append(self.fallback(terms, s))
            elif d == 0:
                out.append(sp.S.Zero)
            else:
                pending.append((len(out), d))
                out.append(None)
        converted = self.eng.to_sympy([d for _, d in pending], self.evaluate, remember=True)
        for (k, d), e in zip(pending, converted):
            out[k] = e
            self.forms[id(e)] = (e, d)
        return out


def cse(exprs, symbols, renamed):
    """Common subexpressions of ``exprs`` by symengine, for code generation.

    ``symbols[k]`` becomes ``renamed[k]`` in the results; the temporaries are
    symengine's x0, x1, ... (never a name of the generated code: variables are v0,
    v1, ... there, the arrays x, g, H, ...). Returns (replacements [(x_k, value)],
    reduced expressions) in sympy, as ``sympy.cse`` would, or None where sympy is to
    do it (symengine off or missing, or an expression it cannot take)."""
    eng = engine(dict(zip(symbols, renamed)))
    if eng is None:
        return None
    forms = [eng.to_se(e) for e in exprs]
    if any(f is None for f in forms):
        return None
    repl, reduced = eng.se.cse(forms)
    values = eng.to_sympy([v for _, v in repl] + list(reduced), evaluate=False)
    names = [sp.Symbol(str(t)) for t, _ in repl]
    return list(zip(names, values[:len(repl)])), values[len(repl):]
