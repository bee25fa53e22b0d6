"""The update rules of Lucid's optimizers, on MLX arrays, one function per algorithm.

Each rule maps one parameter ``p``, its gradient ``g``, its state arrays and the group's
hyper-parameters (0-d arrays, with every scalar known in advance, such as bias corrections,
computed in Python) to the new parameter and state:

    p, state = rule(p, g, state, hyper, **flags)

``flags`` are Python booleans fixed per parameter group (``nesterov``, ``amsgrad``, ...).
They choose which terms exist, so they are baked into the kernel rather than passed in.

``kernel(rule, **flags)`` returns the rule compiled with ``mx.compile``: MLX fuses the
element-wise chain into one kernel that reads each array once (on a 2-core CPU, an Adam
step over ResNet-18's 11M parameters took about half the time of the same rule op by
op). MLX builds the fused kernel once per rule, flags and dtype (on the CPU with the
system C++ compiler, cached on disk; without one it quietly runs op by op); contiguous
kernels are shared across shapes. The optimizers' ``compile=False`` runs the very same
rule op by op.

The formulas follow PyTorch's single-tensor implementations term for term, so results
agree to float32 rounding.
"""

from __future__ import annotations

import functools

import mlx.core as mx


def sgd(p, g, state, hyper, *, weight_decay, maximize, momentum, nesterov, first):
    """g' = -g if maximize;  g' += wd * p;  buf = g' (first step) or mu * buf + (1 - tau) * g';
    d = g' + mu * buf (Nesterov) or buf;  p -= lr * d.   hyper = [lr, wd, mu, 1 - tau]."""
    lr, wd, mu, one_minus_tau = hyper
    if maximize:
        g = -g
    if weight_decay:
        g = g + wd * p
    if momentum:
        buf = g if first else state[0] * mu + one_minus_tau * g
        g = g + mu * buf if nesterov else buf
        state = [buf]
    return p - lr * g, state


def adam(p, g, state, hyper, *, weight_decay, decoupled, maximize, amsgrad):
    """Adam / AdamW (``decoupled``):
    p *= 1 - lr * wd (AdamW);  g += wd * p (Adam's L2);  m += (1 - b1) * (g - m);
    v = b2 * v + (1 - b2) * g^2;  vmax = max(vmax, v) (AMSGrad);
    p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    hyper = [lr / (1 - b1^t), sqrt(1 - b2^t), 1 - b1, b2, 1 - b2, eps, wd, 1 - lr * wd]."""
    step_size, bc2_sqrt, one_minus_b1, b2, one_minus_b2, eps, wd, decay = hyper
    m, v = state[0], state[1]
    if maximize:
        g = -g
    if weight_decay:
        if decoupled:
            p = p * decay
        else:
            g = g + wd * p
    m = m + one_minus_b1 * (g - m)
    v = v * b2 + one_minus_b2 * g * g
    if amsgrad:
        vmax = mx.maximum(state[2], v)
        denom = mx.sqrt(vmax) / bc2_sqrt + eps
        state = [m, v, vmax]
    else:
        denom = mx.sqrt(v) / bc2_sqrt + eps
        state = [m, v]
    return p - step_size * (m / denom), state


def rmsprop(p, g, state, hyper, *, weight_decay, maximize, momentum, centered):
    """sq = alpha * sq + (1 - alpha) * g^2;  ga += (1 - alpha) * (g - ga) (centered);
    avg = sqrt(sq - ga^2) or sqrt(sq), plus eps;  buf = mu * buf + g / avg, p -= lr * buf
    (momentum) or p -= lr * g / avg.   hyper = [lr, wd, alpha, 1 - alpha, eps, mu];
    state = [square_avg, momentum_buffer?, grad_avg?]."""
    lr, wd, alpha, one_minus_alpha, eps, mu = hyper
    if maximize:
        g = -g
    if weight_decay:
        g = g + wd * p
    square_avg = state[0] * alpha + one_minus_alpha * g * g
    new_state = [square_avg]
    if centered:
        grad_avg = state[-1]
        grad_avg = grad_avg + one_minus_alpha * (g - grad_avg)
        avg = mx.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = mx.sqrt(square_avg) + eps
    if momentum:
        buf = state[1] * mu + g / avg
        new_state.append(buf)
        p = p - lr * buf
    else:
        p = p - lr * (g / avg)
    if centered:
        new_state.append(grad_avg)
    return p, new_state


def adagrad(p, g, state, hyper, *, weight_decay, maximize):
    """sum += g^2;  p -= clr * g / (sqrt(sum) + eps), clr = lr / (1 + (t - 1) * lr_decay).
    hyper = [clr, wd, eps]."""
    clr, wd, eps = hyper
    if maximize:
        g = -g
    if weight_decay:
        g = g + wd * p
    total = state[0] + g * g
    return p - clr * (g / (mx.sqrt(total) + eps)), [total]


@functools.cache
def kernel(rule, compiled: bool = True, **flags):
    """``rule`` with its ``flags`` fixed; fused by ``mx.compile`` unless ``compiled=False``."""
    fn = functools.partial(rule, **flags)
    return mx.compile(fn) if compiled else fn
