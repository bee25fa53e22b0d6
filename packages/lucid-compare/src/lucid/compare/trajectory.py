"""The trajectory check: started from PyTorch's initial weights, does Lucid follow PyTorch's
per-batch loss as closely as PyTorch follows itself?

Runs of the check (the same batches, ``steps`` of them): the reference (PyTorch from its
initial weights), Lucid from the same weights, and the controls: PyTorch again from those
weights moved by one float32 ULP (every weight up, every weight down, every other weight
up). For a run ``r`` and batch ``k`` the divergence is

    d_r(k) = |loss_r(k) - loss_ref(k)| / max(1, |loss_ref(k)|).

Float32 training amplifies a difference of one rounding step until it saturates, so the
controls' curves grow, then level off. The controls give a band per batch,
``[min_c d_c(k), max_c d_c(k)]``, and two phases:

- plateau level ``L``: the median of every control's divergence over the last half of the
  batches; the growth phase is batches ``1 .. P - 1``, where ``P`` is the first batch at
  which the controls' median divergence reaches ``L / 2``; the plateau is ``P .. steps``;
- the plateau is only called one when the controls' median over the last quarter is at
  most twice that over the third quarter, and ``L`` is above ``FLOOR`` (otherwise: "no
  plateau within the steps run", and the whole run is the growth phase).

Lucid's batch ``k`` is inside the band when ``d_lucid(k) <= MARGIN * max_c d_c(k)`` or
``d_lucid(k) <= FLOOR`` (being closer than every control is inside too). A phase is
followed when at least ``SHARE`` of its batches are inside. The comparison speaks for the
growth phase: once the controls' own gap is at its plateau, a framework difference smaller
than that gap cannot show.
"""

from __future__ import annotations

import math

import numpy as np

#: how far above the highest control Lucid may be at a batch: one decade
MARGIN = 10.0
#: a divergence this small (a few float32 rounding steps of the loss) is inside at any batch
FLOOR = 1e-6
#: share of a phase's batches that must be inside for the phase to count as followed
SHARE = 0.9
#: the controls: run-name suffix -> (direction, which weights), as ``perturb_ulp`` takes them
CONTROLS = {"up": ("up", "all"), "down": ("down", "all"), "even": ("up", "even")}
#: the initialisation names the histories record for them
CONTROL_INITS = {name: f"torch{'+' if d == 'up' else '-'}1ulp" + ("" if w == "all" else f"-{w}")
                 for name, (d, w) in CONTROLS.items()}


def divergence(losses, reference) -> np.ndarray:
    """``|a - b| / max(1, |b|)`` per batch over the batches both have (NaN where missing)."""
    n = min(len(losses), len(reference))
    a = np.array([math.nan if v is None else v for v in losses[:n]], dtype=np.float64)
    b = np.array([math.nan if v is None else v for v in reference[:n]], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.abs(a - b) / np.maximum(1.0, np.abs(b))


def phases(controls: list[np.ndarray]) -> dict:
    """The plateau level, the first plateau batch ``P`` (1-based) and whether the controls
    levelled off at all, from the controls' divergence curves."""
    n = min(len(c) for c in controls)
    stack = np.vstack([c[:n] for c in controls])
    median = np.nanmedian(stack, axis=0) if n else np.array([])
    if n < 4:
        return {"plateau_level": None, "plateau_start": None, "levelled": False, "batches": n}
    level = float(np.nanmedian(stack[:, n // 2:]))
    q3 = float(np.nanmedian(median[n // 2: 3 * n // 4]))
    q4 = float(np.nanmedian(median[3 * n // 4:]))
    # at rounding level nothing was amplified: all of the run is still the growth phase
    levelled = level > FLOOR and q4 <= 2 * q3
    reached = np.flatnonzero(median >= level / 2)
    start = int(reached[0]) + 1 if reached.size and level > 0 else 1
    return {"plateau_level": level, "plateau_start": start if levelled else None,
            "levelled": levelled, "batches": n}


def _phase(inside: np.ndarray, lo: int, hi: int) -> dict | None:
    """Batches ``lo .. hi`` (1-based, inclusive)."""
    if hi < lo:
        return None
    part = inside[lo - 1:hi]
    share = float(part.mean())
    return {"first": lo, "last": hi, "batches": int(part.size), "inside": int(part.sum()),
            "share": share, "followed": share >= SHARE}


def check(lucid_losses, reference_losses, control_losses: dict) -> dict:
    """The whole check: curves, band, phases, per-phase shares and the verdict."""
    lucid = divergence(lucid_losses, reference_losses)
    ctl = {name: divergence(c, reference_losses) for name, c in control_losses.items()}
    n = min([len(lucid)] + [len(c) for c in ctl.values()])
    lucid = lucid[:n]
    ctl = {name: c[:n] for name, c in ctl.items()}
    stack = np.vstack(list(ctl.values())) if ctl else np.full((1, n), np.nan)
    hi = np.nanmax(stack, axis=0) if n else np.array([])
    lo = np.nanmin(stack, axis=0) if n else np.array([])
    with np.errstate(invalid="ignore"):
        inside = (lucid <= MARGIN * hi) | (lucid <= FLOOR)  # NaN: outside
    ph = phases(list(ctl.values())) if ctl and n else {
        "plateau_level": None, "plateau_start": None, "levelled": False, "batches": n}
    start = ph["plateau_start"]
    growth = _phase(inside, 1, (start - 1) if start else n)
    plateau = _phase(inside, start, n) if start else None
    outside = np.flatnonzero(~inside)
    followed = bool(n) and all(p["followed"] for p in (growth, plateau) if p)
    return {
        "batches": n, "controls": sorted(ctl), "lucid": _listed(lucid),
        "control_curves": {k: _listed(v) for k, v in ctl.items()},
        "band_low": _listed(lo), "band_high": _listed(hi),
        "margin": MARGIN, "floor": FLOOR, "share_needed": SHARE,
        "plateau_level": ph["plateau_level"], "plateau_start": start,
        "levelled": ph["levelled"], "growth": growth, "plateau": plateau,
        "first_outside": int(outside[0]) + 1 if outside.size else None,
        "followed": followed,
        "speaks_for": (start - 1) if start else n,
    }


def _listed(a: np.ndarray) -> list:
    return [None if not np.isfinite(v) else float(v) for v in a]


def _phase_words(name: str, p: dict | None) -> str:
    if p is None:
        return f"{name}: none"
    return (f"{name}, batches {p['first']}-{p['last']}: {p['inside']}/{p['batches']} inside "
            f"({100 * p['share']:.0f}%)")


def verdict(t: dict) -> str:
    """One sentence: follows or not, the phases, and how many steps the check speaks for."""
    if not t or not t["batches"]:
        return "not checked (no trajectory runs)"
    k = len(t["controls"])
    parts = "; ".join(_phase_words(n, t[n]) for n in ("growth", "plateau") if t[n])
    if not t["plateau"]:
        parts += "; the controls do not level off within the steps run"
    if t["followed"]:
        head = (f"Lucid follows PyTorch: from PyTorch's initial weights its per-batch loss "
                f"stays inside the band of {k} PyTorch-vs-PyTorch one-ULP controls")
    else:
        head = (f"Lucid does NOT follow PyTorch: from PyTorch's initial weights its per-batch "
                f"loss leaves the band of {k} one-ULP controls at batch {t['first_outside']}")
    speaks = (f"the check speaks for the first {t['speaks_for']} steps (after that the "
              f"controls' own gap is at its plateau, {t['plateau_level']:.1e})"
              if t["plateau"] else f"the check speaks for all {t['batches']} steps")
    return f"{head} ({parts}); {speaks}"


def perturbation(init: str) -> tuple[str, str] | None:
    """``(direction, weights)`` for ``perturb_ulp`` from a run's initialisation name
    (``"torch+1ulp"``, ``"torch-1ulp"``, ``"torch+1ulp-even"``), None for no nudge."""
    for name, nudge in CONTROLS.items():
        if CONTROL_INITS[name] == init:
            return nudge
    return None
