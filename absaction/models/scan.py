"""Parallel-in-time solution of the linear recurrence ``c_t = a_t * c_{t-1} + b_t``.

This is the pooling step of a QRNN (Bradbury et al. 2017): every gate is known before the recurrence
starts, so only an element-wise first-order linear recurrence is left. It is associative, so it can be
solved without stepping through time one step at a time.

The method is a two-level chunked scan, chosen for CPUs (where one Python-level operation costs a few
microseconds and a pass over a long sequence costs milliseconds of memory traffic):

1. split time into ``N`` chunks of ``L`` steps: tensors ``(B, T, H)`` are viewed as ``(B, N, L, H)``
   without a copy;
2. run the recurrence inside *all* chunks at once from a zero state (``L`` vectorised steps, each over
   ``B * N * H`` numbers) and keep only each chunk's end value and the product of its ``a``;
3. walk the ``N`` chunk summaries sequentially to get the true state entering each chunk;
4. run the recurrence inside all chunks once more, now from the true entering state, in place.

About ``2L + 2N`` tensor operations instead of ``T`` (the ``2L`` in-chunk ones large enough to be
vectorised and multi-threaded), and no large temporary tensor (on Linux a fresh 64 MiB tensor costs as
much as several passes over it, because of page faults). Only products and sums of the inputs are formed,
never a division or a logarithm, so the scan is as accurate as the sequential loop for ``b`` of either
sign and for ``a`` anywhere in ``[0, 1]``, including exact zeros (products of many ``a`` underflow
gracefully to 0; nothing can overflow when ``|a| <= 1``).

The gradient of a linear recurrence is a linear recurrence backwards in time,
``d_t = g_t + a_{t+1} d_{t+1}`` (``g = dL/dc`` directly, ``d`` the total), so :class:`LinearScan` runs the
same chunked scheme in reverse instead of differentiating through hundreds of small operations.
:func:`linear_scan_reference` is the plain sequential loop that everything is tested against.

>>> import torch
>>> a, b = torch.rand(2, 100, 8), torch.randn(2, 100, 8)
>>> torch.allclose(linear_scan(a, b), linear_scan_reference(a, b), atol=1e-6)
True
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "LinearScan",
    "default_chunk",
    "linear_scan",
    "linear_scan_reference",
    "reverse_scan_",
    "scan_",
]


def default_chunk(length: int) -> int:
    """Chunk length ``L`` for a sequence of ``length`` steps.

    The scan takes about ``2L + 2N`` tensor operations with ``N = length / L`` chunks (one per step of a
    chunk in each of the two in-chunk passes, two per chunk in the pass over chunk summaries), fewest at
    ``L = sqrt(length)``; the memory traffic (two passes over the data) does not depend on L.
    """
    if length < 16:
        return length  # too short to be worth splitting: one chunk, i.e. a plain loop
    return max(2, round(math.sqrt(length)))


def _sequential_(a: Tensor, x: Tensor, state: Tensor | None, start: int, stop: int) -> Tensor | None:
    """In place, steps ``start..stop-1``: ``x_t <- a_t * x_{t-1} + x_t`` starting from ``state``."""
    for t in range(start, stop):
        if state is None:
            state = x[:, t]  # zero state entering: c_t = b_t
        else:
            state = torch.addcmul(x[:, t], a[:, t], state, out=x[:, t])
    return state


def scan_(a: Tensor, x: Tensor, c0: Tensor | None = None, chunk: int | None = None) -> Tensor:
    """Solve ``c_t = a_t * c_{t-1} + b_t`` in place, forward in time.

    Args:
        a: multipliers, shape ``(B, T, H)`` (any strides; typically a forget gate in ``[0, 1]``).
        x: on entry the inputs ``b`` ``(B, T, H)``, on exit the states ``c``. May be a strided view
            (e.g. one gate's slice of a ``(B, T, G * H)`` tensor); it is written in place.
        c0: state before the first step ``(B, H)``; ``None`` means zeros.
        chunk: chunk length ``L`` (default :func:`default_chunk`); ``chunk >= T`` is a plain loop.

    Returns:
        ``x``, now holding ``c``. Not differentiable: use :func:`linear_scan` for autograd.
    """
    _, length, _ = x.shape
    size = min(chunk or default_chunk(length), length) if length else 1
    n_chunks = length // size
    if size < 2 or n_chunks < 2:
        _sequential_(a, x, c0, 0, length)
        return x
    body = n_chunks * size
    av = a[:, :body].unflatten(1, (n_chunks, size))  # (B, N, L, H), views
    xv = x[:, :body].unflatten(1, (n_chunks, size))
    # Pass 1: every chunk from a zero state; keep the end value and the product of its multipliers.
    local_end = xv[:, :, 0].clone()  # (B, N, H)
    for j in range(1, size):
        torch.addcmul(xv[:, :, j], av[:, :, j], local_end, out=local_end)
    chunk_prod = torch.prod(av, dim=2)  # (B, N, H)
    # Pass 2: the true state entering each chunk, sequentially over the N chunk summaries.
    entering = torch.empty_like(local_end)
    state = torch.zeros_like(local_end[:, 0]) if c0 is None else c0.to(local_end.dtype)
    for k in range(n_chunks):
        entering[:, k] = state
        state = torch.addcmul(local_end[:, k], chunk_prod[:, k], state)
    # Pass 3: the recurrence inside every chunk again, from its true entering state, in place.
    prev: Tensor = entering
    for j in range(size):
        prev = torch.addcmul(xv[:, :, j], av[:, :, j], prev, out=xv[:, :, j])
    _sequential_(a, x, x[:, body - 1], body, length)  # the last T mod L steps
    return x


def reverse_scan_(a: Tensor, g: Tensor, chunk: int | None = None) -> Tensor:
    """In place, backwards in time: ``d_t = g_t + a_{t+1} * d_{t+1}`` with ``d_{T-1} = g_{T-1}``.

    This is the adjoint of :func:`scan_`: if ``c = scan(a, b)`` and ``g = dL/dc``, then ``d`` is
    ``dL/db``, ``dL/da_t = d_t * c_{t-1}`` and ``dL/dc_0 = a_0 * d_0``. Shapes as in :func:`scan_`; ``a_0``
    is not used.
    """
    _, length, _ = g.shape
    size = min(chunk or default_chunk(length), length) if length else 1
    n_chunks = length // size
    if size < 2 or n_chunks < 2:
        n_chunks, size = 0, 1  # everything goes through the sequential tail below
    body = n_chunks * size
    for t in range(length - 2, body - 1, -1):  # the last T mod L steps (or all of them), sequentially
        torch.addcmul(g[:, t], a[:, t + 1], g[:, t + 1], out=g[:, t])
    if n_chunks == 0:
        return g
    av = a[:, :body].unflatten(1, (n_chunks, size))  # (B, N, L, H), views
    gv = g[:, :body].unflatten(1, (n_chunks, size))
    # Pass 1: every chunk from a zero incoming gradient; keep its value at the chunk's first step and
    # the product of the multipliers a_1 .. a_{L-1} linking the chunk's last step to its first.
    local_start = gv[:, :, size - 1].clone()  # (B, N, H)
    for j in range(size - 2, -1, -1):
        torch.addcmul(gv[:, :, j], av[:, :, j + 1], local_start, out=local_start)
    chunk_prod = torch.prod(av[:, :, 1:], dim=2)
    # Pass 2: the gradient flowing into each chunk's last step from the chunk after it.
    incoming = torch.empty_like(local_start)
    flow = torch.mul(a[:, body], g[:, body]) if body < length else torch.zeros_like(local_start[:, 0])
    for k in range(n_chunks - 1, -1, -1):
        incoming[:, k] = flow
        first = torch.addcmul(local_start[:, k], chunk_prod[:, k], flow)  # d at the chunk's first step
        flow = av[:, k, 0] * first
    # Pass 3: the recurrence inside every chunk again, from its true incoming gradient, in place.
    gv[:, :, size - 1].add_(incoming)
    for j in range(size - 2, -1, -1):
        torch.addcmul(gv[:, :, j], av[:, :, j + 1], gv[:, :, j + 1], out=gv[:, :, j])
    return g


def _grad_multipliers(d: Tensor, c: Tensor, c0: Tensor | None) -> Tensor:
    """``dL/da_t = d_t * c_{t-1}`` for every t, ``(B, T, H)``, with ``c_{-1} = c0`` (or zeros)."""
    grad = torch.empty_like(c)
    torch.mul(d[:, 1:], c[:, :-1], out=grad[:, 1:])
    if c0 is None:
        grad[:, 0] = 0.0
    else:
        torch.mul(d[:, 0], c0, out=grad[:, 0])
    return grad


class LinearScan(torch.autograd.Function):
    """Autograd wrapper of :func:`scan_` whose backward is the reverse scan :func:`reverse_scan_`."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, c0: Tensor | None, chunk: int | None) -> Tensor:
        c = scan_(a, b.clone(memory_format=torch.contiguous_format), c0, chunk)
        ctx.save_for_backward(a, c, c0)
        ctx.chunk = chunk
        return c

    @staticmethod
    def backward(ctx: Any, grad_c: Tensor) -> tuple[Tensor | None, ...]:
        a, c, c0 = ctx.saved_tensors
        d = reverse_scan_(a, grad_c.clone(memory_format=torch.contiguous_format), ctx.chunk)
        grad_a = grad_c0 = None
        if ctx.needs_input_grad[0]:
            grad_a = _grad_multipliers(d, c, c0)
        if c0 is not None and ctx.needs_input_grad[2]:
            grad_c0 = a[:, 0] * d[:, 0]
        return grad_a, d, grad_c0, None


def linear_scan(a: Tensor, b: Tensor, c0: Tensor | None = None, *, chunk: int | None = None) -> Tensor:
    """All states of ``c_t = a_t * c_{t-1} + b_t`` (``t = 0..T-1``, ``c_{-1} = c0``), differentiable.

    Args:
        a: multipliers ``(B, T, H)``. Exact for any values; numerically benign for ``|a| <= 1``.
        b: inputs ``(B, T, H)``, either sign.
        c0: initial state ``(B, H)``; ``None`` means zeros.
        chunk: chunk length of the scan (default :func:`default_chunk`).

    Returns:
        ``c``, shape ``(B, T, H)``.
    """
    _check_scan_shapes(a, b, c0)
    out: Tensor = LinearScan.apply(a, b, c0, chunk)
    return out


def linear_scan_reference(a: Tensor, b: Tensor, c0: Tensor | None = None) -> Tensor:
    """The same as :func:`linear_scan` with a plain Python loop over time and ordinary autograd.

    The reference the scan is tested against, and the "sequential loop" of the speed benchmark.
    ``unbind`` (rather than indexing ``a[:, t]``) keeps the backward pass linear in T: the backward of an
    index materialises a zero tensor of the full input size at every step.
    """
    _check_scan_shapes(a, b, c0)
    state = torch.zeros_like(b[:, 0]) if c0 is None else c0
    states = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        state = torch.addcmul(b_t, a_t, state)
        states.append(state)
    return torch.stack(states, dim=1) if states else b.clone()


def _check_scan_shapes(a: Tensor, b: Tensor, c0: Tensor | None) -> None:
    if a.dim() != 3 or a.shape != b.shape:
        raise ValueError(f"a and b must share one (B, T, H) shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if c0 is not None and c0.shape != (b.shape[0], b.shape[2]):
        raise ValueError(f"c0 must have shape (B, H) = {(b.shape[0], b.shape[2])}, got {tuple(c0.shape)}")
