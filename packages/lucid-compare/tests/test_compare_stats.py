"""Statistics of the report: the incomplete beta function, Student's t, Welch's test, noise."""

import math

import numpy as np
import pytest
from lucid.compare.stats import (
    betainc,
    detrended_std,
    mean_std,
    moving_average,
    student_t_two_sided,
    welch_t_test,
)


@pytest.mark.parametrize("a", [0.5, 1.0, 2.5, 7.0])
@pytest.mark.parametrize("x", [0.01, 0.3, 0.5, 0.77, 0.999])
def test_betainc_closed_forms(a, x):
    # I_x(a, 1) = x^a and I_x(1, b) = 1 - (1 - x)^b
    assert betainc(a, 1.0, x) == pytest.approx(x**a, rel=1e-12, abs=1e-15)
    assert betainc(1.0, a, x) == pytest.approx(1 - (1 - x) ** a, rel=1e-12, abs=1e-15)


def test_betainc_known_values_and_symmetry():
    # I_0.5(2, 3) = 11/16; I_x(1/2, 1/2) = (2/pi) asin(sqrt x)
    assert betainc(2, 3, 0.5) == pytest.approx(0.6875, rel=1e-13)
    for x in (0.1, 0.3, 0.9):
        assert betainc(0.5, 0.5, x) == pytest.approx(2 / math.pi * math.asin(math.sqrt(x)),
                                                     rel=1e-12)
    # I_x(a, b) = 1 - I_{1-x}(b, a), both branches of the continued fraction
    for a, b, x in ((10, 20, 0.3), (5, 0.5, 0.9), (100, 0.5, 0.99), (1.5, 7.25, 0.1)):
        assert betainc(a, b, x) == pytest.approx(1 - betainc(b, a, 1 - x), abs=1e-13)
    # integer a, b: I_x(a, b) = P(Binomial(a + b - 1, x) >= a)
    a, b, x = 4, 6, 0.35
    n = a + b - 1
    tail = sum(math.comb(n, k) * x**k * (1 - x) ** (n - k) for k in range(a, n + 1))
    assert betainc(a, b, x) == pytest.approx(tail, rel=1e-12)
    assert betainc(3, 4, 0.0) == 0.0 and betainc(3, 4, 1.0) == 1.0


def test_betainc_rejects_bad_arguments():
    with pytest.raises(ValueError, match="positive"):
        betainc(0, 1, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        betainc(1, 1, 1.5)


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, -4.0, 30.0])
def test_student_t_closed_forms(t):
    # df = 1 (Cauchy): p = 1 - 2 atan(|t|) / pi;  df = 2: p = 1 - |t| / sqrt(2 + t^2)
    assert student_t_two_sided(t, 1) == pytest.approx(1 - 2 * math.atan(abs(t)) / math.pi,
                                                      rel=1e-11, abs=1e-15)
    assert student_t_two_sided(t, 2) == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t),
                                                      rel=1e-11, abs=1e-15)


def test_student_t_table_values():
    # two-sided 5% and 1% critical values of Student's t (standard tables)
    assert student_t_two_sided(2.228138852, 10) == pytest.approx(0.05, abs=1e-9)
    assert student_t_two_sided(2.085963447, 20) == pytest.approx(0.05, abs=1e-9)
    assert student_t_two_sided(3.169272673, 10) == pytest.approx(0.01, abs=1e-9)
    assert student_t_two_sided(math.inf, 5) == 0.0


def test_welch_reference_example():
    # Welch's t-test, first example of the Wikipedia article: t = -2.46, df = 25.0, p = 0.021
    a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7,
         21.4]
    b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5,
         24.4]
    r = welch_t_test(a, b)
    assert r.t == pytest.approx(-2.4554, abs=1e-4)
    assert r.df == pytest.approx(24.9885, abs=1e-4)
    assert r.p == pytest.approx(0.02138, abs=1e-5)
    assert r.mean_a == pytest.approx(np.mean(a)) and r.std_b == pytest.approx(np.std(b, ddof=1))


def test_welch_formula_on_unequal_samples():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 5), rng.normal(1, 3, 9)
    va, vb = a.var(ddof=1) / 5, b.var(ddof=1) / 9
    r = welch_t_test(a, b)
    assert r.t == pytest.approx((a.mean() - b.mean()) / math.sqrt(va + vb))
    assert r.df == pytest.approx((va + vb) ** 2 / (va**2 / 4 + vb**2 / 8))
    assert r.p == pytest.approx(student_t_two_sided(r.t, r.df))
    assert welch_t_test(b, a).p == pytest.approx(r.p)


def test_welch_degenerate_samples():
    assert math.isnan(welch_t_test([1.0], [2.0, 3.0]).p)
    same = welch_t_test([1.0, 1.0], [1.0, 1.0])
    assert math.isnan(same.t) and math.isnan(same.p)
    apart = welch_t_test([1.0, 1.0], [2.0, 2.0])
    assert apart.t == -math.inf and apart.p == 0.0


def test_detrended_std_removes_the_trend():
    n = 400
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.05, n)
    trend = 2.3 * np.exp(-np.arange(n) / 150)
    est = detrended_std(trend + noise)
    assert est == pytest.approx(0.05, rel=0.15)
    assert detrended_std(trend) < 2e-3  # a smooth curve has (almost) no noise
    assert math.isnan(detrended_std([1.0, 2.0]))
    assert detrended_std([*(trend + noise), None]) == pytest.approx(est)


def test_moving_average_and_mean_std():
    assert moving_average([1, 2, 3, 4], 2).tolist() == [1, 1.5, 2.5, 3.5]
    assert moving_average([1, float("nan"), 3], 2).tolist() == [1, 1, 3]
    m, s = mean_std([1.0, 2.0, 3.0])
    assert (m, s) == (2.0, 1.0)
    assert math.isnan(mean_std([4.0])[1])


def test_centred_moving_average():
    assert moving_average([1, 2, 3, 4, 5], 3, centered=True).tolist() == [1.5, 2, 3, 4, 4.5]
    ramp = np.arange(50.0)
    assert np.allclose(moving_average(ramp, 9, centered=True)[4:-4], ramp[4:-4])  # no lag
