"""Small statistics for the report, in plain Python and NumPy (no SciPy).

- ``betainc(a, b, x)``: the regularised incomplete beta function I_x(a, b), by the
  continued fraction of Numerical Recipes (modified Lentz), using the symmetry
  I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
- ``student_t_two_sided(t, df)``: P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
- ``welch_t_test(a, b)``: t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b) and the
  Welch-Satterthwaite degrees of freedom
  df = (s_a^2/n_a + s_b^2/n_b)^2 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)).
- ``student_t_quantile(q, df)``: the t with P(T <= t) = q, by bisection on the p-value.
- ``effect_size(a, b)``: the difference of means d = mean_a - mean_b, its 95% confidence
  interval d -+ t_{0.975, df} * se (se = sqrt(s_a^2/n_a + s_b^2/n_b), Welch df), and the
  smallest difference detectable at power 0.8, alpha 0.05 two-sided:
  (t_{0.975, df} + t_{0.8, df}) * se (the usual shifted-t approximation of the power).
- ``detrended_std(values, window)``: the batch-loss noise, the standard deviation of the
  batch losses minus their centred moving average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_EPS = 3e-16
_TINY = 1e-300


def _betacf(a: float, b: float, x: float, max_iter: int = 500) -> float:
    """Continued fraction of I_x(a, b) (Lentz's method)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))  # even step
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))  # odd step
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"betainc: continued fraction did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc: a and b must be positive, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: x must be in [0, 1], got {x}")
    if x == 0.0 or x == 1.0:
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_two_sided(t: float, df: float) -> float:
    """Two-sided p-value of Student's t with ``df`` degrees of freedom."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    return min(1.0, betainc(df / 2.0, 0.5, df / (df + t * t)))


def student_t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (0 < q < 1).

    For q > 1/2, t solves p(t) = 2 (1 - q), p the two-sided p-value (decreasing in t), by
    bisection to double precision; t(q) = -t(1 - q) below.
    """
    if math.isnan(q) or math.isnan(df) or df <= 0:
        return math.nan
    if not 0.0 < q < 1.0:
        raise ValueError(f"student_t_quantile: q must be in (0, 1), got {q}")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -student_t_quantile(1.0 - q, df)
    target = 2.0 * (1.0 - q)
    lo, hi = 0.0, 1.0
    while student_t_two_sided(hi, df) > target:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if student_t_two_sided(mid, df) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p: float
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    n_a: int
    n_b: int


def welch_t_test(a, b) -> WelchResult:
    """Welch's unequal-variances t-test of the means of samples ``a`` and ``b`` (two-sided).

    Standard deviations use ``ddof=1``. With fewer than two values in a sample, or both
    variances zero, t, df and p are NaN (or t = +-inf and p = 0 for different constants).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    na, nb = len(a), len(b)
    ma = float(a.mean()) if na else math.nan
    mb = float(b.mean()) if nb else math.nan
    if na < 2 or nb < 2:
        return WelchResult(math.nan, math.nan, math.nan, ma, mb, math.nan, math.nan, na, nb)
    va, vb = float(a.var(ddof=1)), float(b.var(ddof=1))
    sa, sb = va / na, vb / nb
    se2 = sa + sb
    if se2 == 0.0:
        if ma == mb:
            return WelchResult(math.nan, math.nan, math.nan, ma, mb, 0.0, 0.0, na, nb)
        t = math.copysign(math.inf, ma - mb)
        return WelchResult(t, math.nan, 0.0, ma, mb, 0.0, 0.0, na, nb)
    t = (ma - mb) / math.sqrt(se2)
    df = se2 * se2 / (sa * sa / (na - 1) + sb * sb / (nb - 1))
    return WelchResult(t, df, student_t_two_sided(t, df), ma, mb, math.sqrt(va),
                       math.sqrt(vb), na, nb)


@dataclass(frozen=True)
class EffectSize:
    """Difference of means ``diff`` = mean_a - mean_b, its confidence interval
    ``[ci_low, ci_high]``, and ``detectable``: the smallest difference found with
    probability ``power`` at level ``alpha`` with these sample sizes and spreads."""

    diff: float
    ci_low: float
    ci_high: float
    detectable: float
    se: float
    df: float
    n_a: int
    n_b: int
    confidence: float
    power: float


def effect_size(a, b, confidence: float = 0.95, power: float = 0.8) -> EffectSize:
    """Welch confidence interval of mean_a - mean_b and the minimum detectable difference.

    ci = d -+ t_{(1 + confidence) / 2, df} * se;  detectable = (t_{(1 + confidence) / 2, df}
    + t_{power, df}) * se, with se and df (Welch-Satterthwaite) as in ``welch_t_test``.
    NaN where a sample has fewer than two values; a zero se gives a zero-width interval.
    """
    w = welch_t_test(a, b)
    diff = w.mean_a - w.mean_b
    nan = math.nan
    if w.n_a < 2 or w.n_b < 2:
        return EffectSize(diff, nan, nan, nan, nan, nan, w.n_a, w.n_b, confidence, power)
    se = math.sqrt(w.std_a ** 2 / w.n_a + w.std_b ** 2 / w.n_b)
    if se == 0.0:
        return EffectSize(diff, diff, diff, 0.0, 0.0, nan, w.n_a, w.n_b, confidence, power)
    t_ci = student_t_quantile(0.5 + confidence / 2.0, w.df)
    t_pow = student_t_quantile(power, w.df)
    return EffectSize(diff, diff - t_ci * se, diff + t_ci * se, (t_ci + t_pow) * se, se, w.df,
                      w.n_a, w.n_b, confidence, power)


def moving_average(values, window: int, centered: bool = False) -> np.ndarray:
    """Mean over the last ``window`` values (shorter at the start), or with ``centered`` over
    the ``window // 2`` values either side (shorter at both ends); NaNs are skipped."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    ok = np.isfinite(v)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
    ccnt = np.concatenate([[0], np.cumsum(ok)])
    w = max(1, int(window))
    if centered:
        i = np.arange(v.size)
        lo, idx = np.maximum(0, i - w // 2), np.minimum(v.size, i + w // 2 + 1)
    else:
        idx = np.arange(1, v.size + 1)
        lo = np.maximum(0, idx - w)
    cnt = ccnt[idx] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (csum[idx] - csum[lo]) / np.maximum(cnt, 1), np.nan)


def noise_window(n: int) -> int:
    """Window of the detrending moving average: 25 batches, fewer for short runs (odd, >= 3)."""
    w = min(25, max(3, n // 5))
    return w if w % 2 else w + 1


def detrended_std(values, window: int | None = None) -> float:
    """Std of ``values`` minus their centred moving average of ``window`` (the batch-loss
    noise); the first and last ``window // 2`` values, lacking a full window, are left out."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    w = window or noise_window(len(v))
    if len(v) < w + 2:
        return math.nan
    trend = np.convolve(v, np.ones(w) / w, mode="valid")
    half = w // 2
    resid = v[half: half + len(trend)] - trend
    return float(resid.std())


def mean_std(values) -> tuple[float, float]:
    """Mean and sample std (ddof=1; NaN std for one value)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan
