"""docs/methods.md, generated from the method registry so that it cannot drift.

    python -m symgd.docgen > docs/methods.md

Everything listed comes from the code: the methods, their summaries, flags and
defaults from :data:`symgd.methods.REGISTRY`; the common options from
:data:`symgd.methods.COMMON_OPTIONS`; the data-fit options from
:data:`symgd.methods.DATA_OPTIONS`; the optimizers and schedules from their modules.
Only the one-line description of each option lives here, in :data:`OPTION_HELP`
(or :data:`METHOD_OPTION_HELP` where a method reads an option its own way): an option
added to the registry without a description makes :func:`generate` fail with the name
to add, and tests/test_docs.py checks that docs/methods.md is what this prints.
"""
from __future__ import annotations

import sys

from symgd.errors import InputError

REGENERATE = "python -m symgd.docgen > docs/methods.md"

# One line per option name, in our words; method options and common options alike.
OPTION_HELP = {
    # common
    "max_iter": "most iterations before the run stops with status max_iter",
    "tol": "tolerance of the convergence test for the problem's kind (see below)",
    "ctol": "constraints: largest violation, and complementarity (the largest product of "
            "a multiplier and its constraint's value), allowed at a converged point "
            "(absolute)",
    "penalty": "auglag's initial penalty rho (default: ALGENCAN's choice from f and the "
               "violation at the start, within [1e-8, 1e8])",
    "typical_x": "typical size of the variables in the relative gradient test",
    "typical_f": "typical size of the objective in the relative gradient test",
    "time_limit": "wall-clock seconds for the whole solve (derivation, compilation, closed "
                  "form, iterations); none: no limit",
    "seed": "seed of the random numbers; none: seed 0, so runs repeat exactly",
    "device": "where the heavy passes run: cpu, or cuda (data fits by lm, newton, bfgs, "
              "lbfgs, gd, linesearch or sgd; a newton multistart of up to 16 variables)",
    "timeout": "seconds for the closed-form attempt; none: {timeout:g} for polynomial "
               "systems, {nonpolynomial_timeout:g} otherwise",
    "starts": "multistart: runs from the start and starts - 1 seeded points (uniform in "
              "the bounds, else in a box of half-width 10 max(1, abs(x0_i)) around the "
              "start); the best converged run is the result, every run is in runs",
    "history": "keep the per-iteration history (result.history: f, gradient norm, step, "
               "learning rate, x for up to 20 variables); false skips it",
    # steps and line searches
    "learning_rate": "step size, the base value the schedule scales",
    "schedule": "learning-rate schedule: a name, or a mapping {{name: ..., parameter: "
                "value}} (see Schedules)",
    "line_search": "armijo (backtracking), wolfe (strong Wolfe conditions) or exact "
                   "(polynomial objectives: the minimiser along the direction)",
    "c1": "sufficient-decrease constant of the line search (0 < c1 < 1)",
    "c2": "curvature constant of the Wolfe conditions (c1 < c2 < 1)",
    "memory": "how many of the newest curvature pairs (s, y) L-BFGS keeps (1 to 1000)",
    # derivative-free baselines
    "samples": "how many points to try (the budget); none: max_iter",
    "radius": "where a variable lacks a finite bound on either side, points are drawn "
              "from the start +- radius max(1, abs(x0_i)), cut by the bound there is",
    "step": "initial step size sigma, relative to the scale of each variable (the width "
            "of its bounds, or max(1, abs(x0_i)), whichever is smaller)",
    # optimizers
    "optimizer": "how gradients become steps: {optimizers} (see Optimizers)",
    "momentum": "momentum coefficient (momentum, nesterov)",
    "beta1": "decay of the running mean of gradients (adam, adamw)",
    "beta2": "decay of the running mean of squared gradients (adam, adamw)",
    "eps": "added to the denominator of the adaptive steps; none: 1e-10 for adagrad, "
           "1e-8 otherwise",
    "weight_decay": "decoupled weight decay (adamw only)",
    "decay": "decay of RMSProp's running mean of squared gradients (its rho)",
    # data fits
    "damping": "initial Levenberg-Marquardt damping lambda, relative to the scaled diagonal",
    "batch_size": "samples per minibatch",
    "epochs": "passes over the data",
    "patience": "early stopping: stop after this many epochs without a relative "
                "improvement of min_delta; none: no early stopping",
    "min_delta": "relative improvement that counts for patience and the plateau schedule",
    "swa_start": "epoch from which the parameters are averaged (stochastic weight "
                 "averaging); none: no averaging",
    "delta": "threshold of the huber loss (the loss is quadratic within it)",
    "cluster": "where a fit's data passes run: auto (a local Dask cluster when the data "
               "do not fit in memory), local or off; a scheduler's address only at run "
               "time (--cluster, cluster=, SYMGD_DASK_SCHEDULER)",
    "validation": "the fraction of the samples held out (seeded by seed); early stopping, "
                  "the plateau schedule and the restored best parameters then watch its "
                  "mean loss, recorded per epoch in history val_loss; none: no split",
}

# Where a method reads an option its own way.
METHOD_OPTION_HELP = {
    ("sgd", "max_iter"): "most epochs; none: epochs decides",
    ("auto", "memory"): "memory of lbfgs where auto runs it (above 50 variables, or when "
                        "newton's Hessian is too large to compile)",
    ("sgd", "seed"): "seed of the shuffling; none: seed 0, so runs repeat exactly",
    ("random_search", "max_iter"): "how many points to try when samples is none",
    ("local_search", "max_iter"): "how many points to try when samples is none",
    ("local_search", "tol"): "the run ends stalled when the step size sigma falls to tol",
    ("random_search", "tol"): "not read: random search has no test, it spends its budget",
    ("gd", "schedule"): "learning-rate schedule over iterations: a name, or a mapping "
                        "{{name: ..., parameter: value}} (see Schedules)",
    ("sgd", "schedule"): "learning-rate schedule over minibatch steps: a name, or a "
                         "mapping {{name: ..., parameter: value}} (see Schedules)",
}

OPTIMIZER_HELP = {
    "sgd": "plain steps, -learning_rate times the gradient",
    "momentum": "heavy-ball momentum (Polyak)",
    "nesterov": "Nesterov's accelerated gradient",
    "adagrad": "steps divided by the root of the summed squared gradients (Duchi et al.)",
    "rmsprop": "steps divided by the root of a running mean of squared gradients",
    "adam": "Adam (Kingma and Ba): running means of gradients and of their squares",
    "adamw": "Adam with decoupled weight decay (Loshchilov and Hutter)",
}


def _describe(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        # 1e-8 rather than 1e-08
        return f"{value:g}".replace("e-0", "e-").replace("e+0", "e+")
    return str(value)


def _help(method: str | None, option: str, context: dict) -> str:
    text = METHOD_OPTION_HELP.get((method, option)) or OPTION_HELP.get(option)
    if text is None:
        where = f"method '{method}'" if method else "the common options"
        raise InputError(f"option '{option}' of {where} has no description: add one to "
                         f"OPTION_HELP in symgd/docgen.py, then run {REGENERATE}",
                         field=option, kind="docs")
    return text.format(**context)


def _table(rows, header) -> list:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def generate(registry=None, common=None, fit_options=None) -> str:
    """The text of docs/methods.md (arguments default to symgd's own tables).

    Raises:
        InputError: (kind ``docs``) an option without a description.
    """
    from symgd import closed_form, methods
    from symgd.methods import option_checks, schedules

    registry = methods.REGISTRY if registry is None else registry
    common = methods.COMMON_OPTIONS if common is None else common
    fit_options = methods.DATA_OPTIONS if fit_options is None else fit_options
    context = {"timeout": closed_form.DEFAULT_TIMEOUT,
               "nonpolynomial_timeout": closed_form.NONPOLYNOMIAL_TIMEOUT,
               "optimizers": ", ".join(option_checks.OPTIMIZERS)}
    available = [s for s in registry.values() if not (s.planned or s.internal)]
    planned = [s for s in registry.values() if s.planned]

    out = ["# Methods and their options", "",
           f"<!-- Generated from symgd.methods.REGISTRY by `{REGENERATE}`; do not edit by "
           "hand: tests/test_docs.py fails when this file and the registry differ. -->", "",
           "Choose a method with `method:` in the problem file, `--method` on the command "
           "line or `method=` in `symgd.solve`; set its options under `options:`, with "
           "`--set options.NAME=VALUE`, or as keyword arguments of `symgd.solve`. An option "
           "no method knows is an input error that names the valid ones. The problem file "
           "itself is described in [problem-files.md](problem-files.md).", "",
           "## Methods", ""]
    rows = []
    for s in available:
        rows.append([f"`{s.name}`", s.summary or "",
                     "yes" if s.accepts_data else "no",
                     "yes" if s.needs_hessian else "no",
                     "yes" if s.handles_constraints else "no",
                     _describe(s.default_max_iter) if s.default_max_iter else "-"])
    out += _table(rows, ["method", "what it does", "data fits", "uses the Hessian",
                         "enforces constraints", "default max_iter"])
    out += ["", "A `-` under default max_iter: `auto` uses that of the method it runs, "
            "`analytic` does not iterate, and `sgd` runs `epochs` passes.", ""]
    if planned:
        out += ["Planned, not available yet (asking for one is an input error that says "
                "so): " + "; ".join(f"`{s.name}` ({s.summary})" for s in planned) + ".", ""]

    out += ["## Options every method accepts", ""]
    out += _table([[f"`{k}`", _describe(v), _help(None, k, context)]
                   for k, v in common.items()], ["option", "default", "meaning"])
    out += ["", "Data fits (a `data` block) also accept:", ""]
    out += _table([[f"`{k}`", _describe(v), _help(None, k, context)]
                   for k, v in fit_options.items()], ["option", "default", "meaning"])
    out += ["", "`tol` is read by the test for the kind of problem: for general objectives "
            "the relative gradient max_i |g_i| max(|x_i|, typical_x) / max(|f|, typical_f) "
            "<= tol (Dennis and Schnabel); for least-squares fits MINPACK's test "
            "max_j |J_j^T r| / (||J_j|| ||r||) <= tol; `sgd` converges by its patience "
            "rule.", ""]

    for s in available:
        out += [f"## `{s.name}`", "", (s.summary[:1].upper() + s.summary[1:] + ".")
                if s.summary else "", ""]
        if not s.options:
            out += ["No options beyond the common ones.", ""]
            continue
        out += _table([[f"`{k}`", _describe(v), _help(s.name, k, context)]
                       for k, v in s.options.items()], ["option", "default", "meaning"])
        own = [k for k in common if (s.name, k) in METHOD_OPTION_HELP]
        if own:
            out += ["", f"Common options that `{s.name}` reads its own way: " + "; ".join(
                f"`{k}`: {_help(s.name, k, context)}" for k in own) + "."]
        out.append("")

    users = [s.name for s in available if "optimizer" in s.options]
    out += ["## Optimizers", "",
            f"The `optimizer` option of {', '.join(f'`{u}`' for u in users)}: an optimizer "
            "turns each gradient into a step, as in optax.", ""]
    out += _table([[f"`{name}`", OPTIMIZER_HELP.get(name, "")]
                   for name in option_checks.OPTIMIZERS], ["optimizer", "what it does"])
    missing = [n for n in option_checks.OPTIMIZERS if n not in OPTIMIZER_HELP]
    if missing:
        raise InputError(f"optimizer(s) {', '.join(missing)} have no description: add them "
                         f"to OPTIMIZER_HELP in symgd/docgen.py", kind="docs")

    users = [s.name for s in available if "schedule" in s.options]
    out += ["", "## Schedules", "",
            f"The `schedule` option of {', '.join(f'`{u}`' for u in users)}: a name, or a "
            "mapping with the name and any of its parameters, e.g. "
            "`schedule: {name: step, step_size: 50, gamma: 0.5}`. Parameters left out take "
            "these defaults (`cosine`'s t_max defaults to the run's length).", ""]
    rows = []
    for name, params in schedules.PARAMETERS.items():
        rows.append([f"`{name}`", ", ".join(
            f"{p} = {_describe(d) if d is not None else 'run length'}" for p, d in params)
            or "-"])
    out += _table(rows, ["schedule", "parameters (defaults)"])
    return "\n".join(out) + "\n"


def main() -> int:
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    sys.exit(main())
