"""A small Adam optimiser (Kingma & Ba 2015) over a fixed list of parameters.

Why not ``torch.optim.Adam``: constructing any ``torch.optim`` optimiser imports ``torch._dynamo``,
which costs about a second of start-up on the 2-core machines this toolkit targets, more than a
tenth of the whole 15-second training budget, and its per-step bookkeeping is sized for large models.
This one does the same update with a handful of multi-tensor (``torch._foreach_*``) kernels per step,
and its state is plain tensors plus one integer, which the resume file stores without pickle.

Update, with g the gradient, t the step count (1-based) and all operations element-wise::

    m = beta1 m + (1 - beta1) g
    v = beta2 v + (1 - beta2) g^2
    p = p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor


class Adam:
    """Adam with bias correction; no weight decay, no AMSGrad.

    Args:
        params: the parameters to optimise (their order defines the state layout).
        lr: learning rate.
        betas: decay rates of the first and second moment estimates.
        eps: added to the denominator for numerical stability.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.step_count = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update from the gradients in ``p.grad`` (parameters without a gradient are skipped)."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads: list[Tensor] = [p.grad for p in params if p.grad is not None]
        exp_avg = [self.exp_avg[i] for i in live]
        exp_avg_sq = [self.exp_avg_sq[i] for i in live]
        beta1, beta2 = self.betas
        self.step_count += 1
        correction1 = 1.0 - beta1**self.step_count
        correction2 = 1.0 - beta2**self.step_count
        torch._foreach_lerp_(exp_avg, grads, 1.0 - beta1)  # m = beta1 m + (1 - beta1) g
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1.0 - beta2)  # v = beta2 v + (1 - beta2) g^2
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(correction2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avg, denom, -self.lr / correction1)

    def state_tensors(self) -> dict[str, Tensor]:
        """The moment estimates, keyed ``exp_avg/<i>`` and ``exp_avg_sq/<i>`` (i = parameter index)."""
        state = {f"exp_avg/{i}": t for i, t in enumerate(self.exp_avg)}
        state.update({f"exp_avg_sq/{i}": t for i, t in enumerate(self.exp_avg_sq)})
        return state

    def load_state(self, tensors: dict[str, Tensor], step_count: int) -> None:
        """Restore the moment estimates from :meth:`state_tensors` and the step count."""
        for i, p in enumerate(self.params):
            for name, store in (("exp_avg", self.exp_avg), ("exp_avg_sq", self.exp_avg_sq)):
                value = tensors[f"{name}/{i}"]
                if value.shape != p.shape:
                    raise ValueError(
                        f"{name}/{i} has shape {tuple(value.shape)}, parameter has {tuple(p.shape)}"
                    )
                store[i].copy_(value)
        self.step_count = int(step_count)
