"""Quasi-recurrent neural network (QRNN, Bradbury et al. 2017) in plain PyTorch.

A QRNN layer splits an RNN into a part that is parallel over time and a cheap recurrence:

1. a *causal* convolution of window ``k`` over time produces, at every step t and from the inputs
   ``x_{t-k+1} .. x_t`` only, a candidate ``z_t = tanh(.)`` and gates ``f_t, o_t, i_t = sigmoid(.)``;
2. *pooling* mixes them along time with an element-wise linear recurrence:

   - ``"f"``:   ``c_t = f_t * c_{t-1} + (1 - f_t) * z_t``, ``h_t = c_t``
   - ``"fo"``:  the same ``c_t``, ``h_t = o_t * c_t``
   - ``"ifo"``: ``c_t = f_t * c_{t-1} + i_t * z_t``, ``h_t = o_t * c_t``

The recurrence ``c_t = a_t * c_{t-1} + b_t`` is solved by the chunked parallel scan of
:mod:`absaction.models.scan`. The convolution (one matrix product over all steps), the gate
activations, the pooling and their exact gradients run in one autograd function whose backward is a
reverse scan, which keeps the number of large temporary tensors small (see :class:`QRNNLayer`).

Variable-length batches are padded at the end and described by ``lengths``: at a padded step the forget
gate is forced to 1 and the candidate to 0, so the state is carried unchanged to the end of the tensor
(the returned final state is each sequence's own last state), and the output there is 0. The backward
direction of a bidirectional QRNN reverses every sequence within its own length, so it starts at that
sequence's last real step.

>>> import torch
>>> qrnn = QRNN(input_size=2, hidden_size=16, num_layers=2, window=2, bidirectional=True)
>>> out, state = qrnn(torch.randn(4, 50, 2), lengths=torch.tensor([50, 30, 12, 1]))
>>> tuple(out.shape), tuple(state.shape)      # (B, T, 2 * H), (num_layers * 2, B, H)
((4, 50, 32), (4, 4, 16))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from absaction.errors import AbsactionError, check_choice
from absaction.models.configs import POOLING_MODES
from absaction.models.scan import linear_scan_reference, reverse_scan_, scan_

__all__ = [
    "POOLING_IMPLS",
    "POOLING_MODES",
    "QRNN",
    "QRNNLayer",
    "QRNNState",
    "padding_mask",
    "reverse_padded",
]

PoolingMode = Literal["f", "fo", "ifo"]
PoolingImpl = Literal["scan", "loop"]
POOLING_IMPLS: tuple[str, ...] = ("scan", "loop")
"""``"scan"``: parallel chunked scan with a fused backward; ``"loop"``: sequential loop, plain autograd."""
_N_GATES = {"f": 2, "fo": 3, "ifo": 4}  # gate blocks along the last dim, in the order z, f, o, i

# The derivative of sigmoid / tanh written from their outputs, in one fused kernel with an ``out=``
# variant (the kernels autograd itself uses); the composed ``g * s * (1 - s)`` would take three passes.
_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward.grad_input


# --------------------------------------------------------------------------------------- masking
def padding_mask(lengths: Tensor, length: int) -> Tensor:
    """``(B, T, 1)`` bool mask, True at padded steps ``t >= lengths[b]``."""
    steps = torch.arange(length, device=lengths.device)
    return (steps[None, :] >= lengths[:, None])[..., None]


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse every sequence of ``x`` (B, T, ...) within its own length; padded steps stay in place.

    Step t < lengths[b] goes to lengths[b] - 1 - t. The map is its own inverse, so applying it twice
    restores ``x``. With ``lengths=None`` all sequences are full and this is ``x.flip(1)``.
    """
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    lengths = lengths.to(x.device)[:, None]  # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
    index = index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


# ----------------------------------------------------------------------------- fused layer function
class _QRNNFunction(torch.autograd.Function):
    """Linear map to gates, activations, masking and pooling of one layer, with a hand-written backward.

    Inputs: windows ``(B, T, K)`` (the ``k`` input vectors each step sees, concatenated), weight
    ``(G*H, K)``, bias ``(G*H,)`` or None, ``c0 (B, H)`` or None, ``pad (B, T, 1)`` bool or None, the
    pooling mode and the scan's chunk length. Outputs: ``h (B, T, H)`` and the final state ``(B, H)``.

    Only four tensors of size (B, T, H) or larger are created in the forward pass (gates, c, h and the
    flattened input when it is not contiguous) and two in the backward pass (gate gradients, input
    gradient); everything else is done in place on them.
    """

    @staticmethod
    def forward(
        ctx: Any,
        windows: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        c0: Tensor | None,
        pad: Tensor | None,
        mode: str,
        chunk: int | None,
    ) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        batch, length, width = windows.shape
        hidden = weight.shape[0] // _N_GATES[mode]
        flat = windows.reshape(batch * length, width)  # (B*T, K), a view when possible
        if bias is None:
            gates = torch.mm(flat, weight.t())
        else:
            gates = torch.addmm(bias, flat, weight.t())
        gates = gates.view(batch, length, -1)  # (B, T, G*H): pre-activations, turned into gates in place
        z, f = gates[..., :hidden], gates[..., hidden : 2 * hidden]
        z.tanh_()
        gates[..., hidden:].sigmoid_()  # f, o, i
        if pad is not None:  # padded steps: f = 1 and z = 0 carry the state; o = i = 0 silence them
            f.masked_fill_(pad, 1.0)
            z.masked_fill_(pad, 0.0)
            gates[..., 2 * hidden :].masked_fill_(pad, 0.0)
        c = torch.empty(batch, length, hidden, dtype=gates.dtype, device=gates.device)
        if mode == "ifo":
            torch.mul(gates[..., 3 * hidden :], z, out=c)  # b_t = i_t * z_t
        else:
            torch.addcmul(z, f, z, value=-1.0, out=c)  # b_t = (1 - f_t) * z_t
        scan_(f, c, c0, chunk)  # c_t = f_t * c_{t-1} + b_t, in place
        if mode == "f":
            h = c if pad is None else c.masked_fill(pad, 0.0)
        else:
            h = gates[..., 2 * hidden : 3 * hidden] * c
        ctx.save_for_backward(flat, weight, gates, c, c0, pad)
        ctx.mode, ctx.chunk, ctx.has_bias, ctx.shape = mode, chunk, bias is not None, windows.shape
        return h, c[:, -1].clone()  # padded steps carried the state to the last step

    @staticmethod
    def backward(ctx: Any, grad_h: Tensor | None, grad_last: Tensor | None) -> tuple[Tensor | None, ...]:
        flat, weight, gates, c, c0, pad = ctx.saved_tensors
        mode: str = ctx.mode
        hidden = c.shape[-1]
        z, f = gates[..., :hidden], gates[..., hidden : 2 * hidden]
        o = gates[..., 2 * hidden : 3 * hidden]
        grad = torch.empty_like(gates)  # (B, T, G*H): gradient of the pre-activations
        dz, df, do = grad[..., :hidden], grad[..., hidden : 2 * hidden], grad[..., 2 * hidden : 3 * hidden]

        # dL/dc_t from the outputs alone; dz holds it until it is turned into dL/dz_pre below.
        if grad_h is None:
            dz.zero_()
        elif mode == "f":
            dz.copy_(grad_h)
            if pad is not None:
                dz.masked_fill_(pad, 0.0)
        else:
            torch.mul(grad_h, o, out=dz)  # o = 0 at padded steps
        if grad_last is not None:
            dz[:, -1] += grad_last
        reverse_scan_(f, dz, ctx.chunk)  # d_t = dL/dc_t in total: + f_{t+1} * d_{t+1}
        grad_c0 = f[:, 0] * dz[:, 0] if c0 is not None and ctx.needs_input_grad[3] else None

        if mode != "f":  # h = o * c
            if grad_h is None:
                do.zero_()
            else:
                torch.mul(grad_h, c, out=do)
                _sigmoid_backward(do, o, grad_input=do)
        # dc_t/df_t = c_{t-1} - z_t (f, fo) or c_{t-1} (ifo).
        if mode == "ifo":
            df[:, 1:].copy_(c[:, :-1])
            df[:, 0] = 0.0 if c0 is None else c0
        else:
            torch.sub(c[:, :-1], z[:, 1:], out=df[:, 1:])
            torch.neg(z[:, 0], out=df[:, 0])
            if c0 is not None:
                df[:, 0] += c0
        df.mul_(dz)
        _sigmoid_backward(df, f, grad_input=df)  # f = 1 at padded steps: zero gradient there
        if mode == "ifo":  # dc_t/di_t = z_t, dc_t/dz_t = i_t
            i = gates[..., 3 * hidden :]
            di = grad[..., 3 * hidden :]
            torch.mul(dz, z, out=di)
            _sigmoid_backward(di, i, grad_input=di)
            dz.mul_(i)
        else:  # dc_t/dz_t = 1 - f_t
            dz.addcmul_(dz, f, value=-1.0)
        _tanh_backward(dz, z, grad_input=dz)

        flat_grad = grad.view(-1, grad.shape[-1])  # (B*T, G*H)
        grad_windows = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_windows = torch.mm(flat_grad, weight).view(ctx.shape)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.mm(flat_grad.t(), flat)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = flat_grad.sum(0)
        return grad_windows, grad_weight, grad_bias, grad_c0, None, None, None


def _pool_reference(gates: Tensor, c0: Tensor | None, pad: Tensor | None, mode: str) -> tuple[Tensor, Tensor]:
    """The same as :class:`_QRNNFunction` after the linear map, in plain autograd with a sequential loop."""
    hidden = gates.shape[-1] // _N_GATES[mode]
    z = torch.tanh(gates[..., :hidden])
    f = torch.sigmoid(gates[..., hidden : 2 * hidden])
    o = torch.sigmoid(gates[..., 2 * hidden : 3 * hidden]) if mode != "f" else None
    i = torch.sigmoid(gates[..., 3 * hidden :]) if mode == "ifo" else None
    if pad is not None:
        f = f.masked_fill(pad, 1.0)
        z = z.masked_fill(pad, 0.0)
    b = i * z if i is not None else (1.0 - f) * z
    c = linear_scan_reference(f, b, c0)
    h = c if o is None else o * c
    if pad is not None:
        h = h.masked_fill(pad, 0.0)
    return h, c[:, -1]


# ------------------------------------------------------------------------------------------ layers
class QRNNState(NamedTuple):
    """What :meth:`QRNN.step` carries between steps.

    Attributes:
        c: pooling state of every layer, ``(num_layers, B, H)``.
        inputs: per layer, its last ``window - 1`` inputs ``(B, window - 1, input size)``, oldest first.
    """

    c: Tensor
    inputs: tuple[Tensor, ...]


class QRNNLayer(nn.Module):
    """One QRNN layer in one direction: causal convolution of window ``window``, then pooling.

    Args:
        input_size: features I of every input step.
        hidden_size: features H of the state and output.
        window: convolution window k >= 1 (steps t-k+1 .. t produce the gates of step t).
        mode: ``"f"``, ``"fo"`` or ``"ifo"`` pooling.
        impl: ``"scan"`` (parallel chunked scan, fused backward) or ``"loop"`` (the sequential reference).
        chunk: chunk length of the scan; None picks one from the sequence length.

    The convolution is one matrix product ``(B*T, k*I) @ (k*I, G*H)`` on the ``k`` time-shifted copies of
    the input concatenated along features (oldest first), with G = 2, 3 or 4 gate blocks (z, f, o, i).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        window: int = 1,
        mode: PoolingMode = "fo",
        impl: PoolingImpl = "scan",
        chunk: int | None = None,
    ) -> None:
        super().__init__()
        _check_options(input_size, hidden_size, window, mode, impl)
        self.input_size, self.hidden_size, self.window = input_size, hidden_size, window
        self.mode: PoolingMode = mode
        self.impl: PoolingImpl = impl
        self.chunk = chunk
        self.weight = nn.Parameter(torch.empty(_N_GATES[mode] * hidden_size, window * input_size))
        self.bias = nn.Parameter(torch.empty(_N_GATES[mode] * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s initialisation over the whole window: U(-1/sqrt(k*I), 1/sqrt(k*I))."""
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, window={self.window}, mode={self.mode!r}, "
            f"impl={self.impl!r}"
        )

    def windows(self, x: Tensor) -> Tensor:
        """``(B, T, I) -> (B, T, k*I)``: step t holds ``x_{t-k+1} .. x_t`` (zeros before the start)."""
        if self.window == 1:
            return x
        length = x.shape[1]
        padded = F.pad(x, (0, 0, self.window - 1, 0))  # (B, k-1+T, I), zeros in front: causal
        return torch.cat([padded[:, j : j + length] for j in range(self.window)], dim=-1)

    def forward(
        self, x: Tensor, c0: Tensor | None = None, pad: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Run the layer over whole sequences.

        Args:
            x: inputs ``(B, T, I)``, T >= 1.
            c0: initial state ``(B, H)``; None means zeros.
            pad: ``(B, T, 1)`` bool, True at padded steps (see :func:`padding_mask`); None for none.

        Returns:
            ``(h (B, T, H), c_last (B, H))``: outputs (0 at padded steps) and the final state.
        """
        windows = self.windows(x)
        if self.impl == "loop":
            gates = F.linear(windows, self.weight, self.bias)
            return _pool_reference(gates, c0, pad, self.mode)
        h, c_last = _QRNNFunction.apply(windows, self.weight, self.bias, c0, pad, self.mode, self.chunk)
        return h, c_last

    def step(self, x_t: Tensor, c: Tensor, previous: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step: ``x_t (B, I)``, state ``c (B, H)``, last ``k - 1`` inputs ``(B, k-1, I)``.

        Returns ``(h_t (B, H), c_t (B, H), the next (B, k-1, I) inputs)``; matches :meth:`forward`.
        """
        window = torch.cat([previous, x_t[:, None]], dim=1)  # (B, k, I), oldest first
        gates = F.linear(window.flatten(1), self.weight, self.bias)  # (B, G*H)
        hidden = self.hidden_size
        z = torch.tanh(gates[:, :hidden])
        f = torch.sigmoid(gates[:, hidden : 2 * hidden])
        if self.mode == "ifo":
            c = f * c + torch.sigmoid(gates[:, 3 * hidden :]) * z
        else:
            c = f * c + (1.0 - f) * z
        h = c if self.mode == "f" else torch.sigmoid(gates[:, 2 * hidden : 3 * hidden]) * c
        return h, c, window[:, 1:]


class QRNN(nn.Module):
    """A stack of QRNN layers, optionally bidirectional, on batch-first ``(B, T, features)`` tensors.

    Args:
        input_size: features I of the input.
        hidden_size: features H of every layer and direction.
        num_layers: stacked layers; layer l > 0 reads the outputs of layer l - 1 (both directions).
        window: convolution window k of every layer, or one per layer (e.g. ``(2, 1, 1)``).
        mode: ``"f"``, ``"fo"`` (default, as in the paper) or ``"ifo"`` pooling.
        bidirectional: add a second direction per layer that reads every sequence backwards from its
            last real step; outputs are concatenated ``[forward, backward]`` along features.
        dropout: dropout probability on the inputs of layers 2..num_layers (as ``nn.LSTM``).
        impl: ``"scan"`` (parallel chunked scan) or ``"loop"`` (sequential reference, slow).
        chunk: chunk length of the scan; None picks one from the sequence length.

    Example:
        >>> qrnn = QRNN(2, 8, num_layers=3)
        >>> out, state = qrnn(torch.randn(5, 20, 2))
        >>> tuple(out.shape), tuple(state.shape)
        ((5, 20, 8), (3, 5, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        window: int | Sequence[int] = 1,
        mode: PoolingMode = "fo",
        bidirectional: bool = False,
        dropout: float = 0.0,
        impl: PoolingImpl = "scan",
        chunk: int | None = None,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise AbsactionError(f"a QRNN needs at least one layer, got num_layers={num_layers}", "pass >= 1")
        windows = [window] * num_layers if isinstance(window, int) else list(window)
        if len(windows) != num_layers:
            raise AbsactionError(
                f"got {len(windows)} convolution windows for {num_layers} layers", "pass one window per layer"
            )
        if not 0.0 <= dropout < 1.0:
            raise AbsactionError(f"dropout must lie in [0, 1), got {dropout}", "pass e.g. dropout=0.1")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList()
        for index, k in enumerate(windows):
            size = input_size if index == 0 else hidden_size * self.num_directions
            for _ in range(self.num_directions):  # forward direction first, then backward
                self.layers.append(QRNNLayer(size, hidden_size, k, mode, impl, chunk))
        self.dropout = nn.Dropout(dropout)

    @property
    def stack(self) -> list[QRNNLayer]:
        """The layers, ``num_layers * num_directions`` of them, layer by layer, forward direction first."""
        return [cast(QRNNLayer, layer) for layer in self.layers]

    @property
    def output_size(self) -> int:
        """Features of the output: ``hidden_size * num_directions``."""
        return self.hidden_size * self.num_directions

    def forward(
        self, x: Tensor, state: Tensor | None = None, lengths: Tensor | Sequence[int] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Run the stack over whole (possibly padded) sequences.

        Args:
            x: inputs ``(B, T, I)``; steps at and after ``lengths[b]`` are padding (any values).
            state: initial states ``(num_layers * num_directions, B, H)`` ordered layer by layer,
                forward direction first (as ``nn.LSTM``); None means zeros.
            lengths: ``(B,)`` true lengths in ``1..T``; None means every sequence has T steps.

        Returns:
            ``(outputs (B, T, H * num_directions), final states (num_layers * num_directions, B, H))``:
            outputs are 0 at padded steps; a final state is the state after each sequence's last real
            step (for the backward direction: after its first step).
        """
        lengths_t, pad = self._check_inputs(x, state, lengths)
        finals: list[Tensor] = []
        stack = self.stack
        for layer_index in range(self.num_layers):
            if layer_index > 0:
                x = self.dropout(x)
            outputs = []
            for direction in range(self.num_directions):
                index = layer_index * self.num_directions + direction
                layer = stack[index]
                c0 = None if state is None else state[index]
                if direction == 0:
                    h, c_last = layer(x, c0, pad)
                else:
                    h, c_last = layer(reverse_padded(x, lengths_t), c0, pad)
                    h = reverse_padded(h, lengths_t)
                outputs.append(h)
                finals.append(c_last)
            x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        return x, torch.stack(finals)

    def initial_step_state(self, batch: int, c0: Tensor | None = None) -> QRNNState:
        """The state :meth:`step` starts from: ``c0 (num_layers, B, H)`` (zeros if None), no past inputs."""
        if self.bidirectional:
            raise AbsactionError("step() runs forward in time only", "use a QRNN with bidirectional=False")
        stack = self.stack
        weight = stack[0].weight
        if c0 is None:
            c0 = weight.new_zeros(self.num_layers, batch, self.hidden_size)
        inputs = tuple(weight.new_zeros(batch, layer.window - 1, layer.input_size) for layer in stack)
        return QRNNState(c0, inputs)

    def step(self, x_t: Tensor, state: QRNNState) -> tuple[Tensor, QRNNState]:
        """Advance a unidirectional stack by one step: ``x_t (B, I) -> h_t (B, H)``.

        Feeding ``x_0, x_1, ...`` one at a time from :meth:`initial_step_state` gives the same outputs as
        :meth:`forward` on the whole sequence (use it to generate, feeding back the model's own outputs).
        """
        cs, inputs = [], []
        h = x_t
        for index, layer in enumerate(self.stack):
            if index > 0:
                h = self.dropout(h)
            h, c, previous = layer.step(h, state.c[index], state.inputs[index])
            cs.append(c)
            inputs.append(previous)
        return h, QRNNState(torch.stack(cs), tuple(inputs))

    def _check_inputs(
        self, x: Tensor, state: Tensor | None, lengths: Tensor | Sequence[int] | None
    ) -> tuple[Tensor | None, Tensor | None]:
        """Validate shapes; return lengths as a tensor and the (B, T, 1) padding mask (None if unpadded)."""
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise AbsactionError(
                f"QRNN input has shape {tuple(x.shape)}, expected (B, T, {self.input_size})",
                "pass batch-first sequences (batch, time, features)",
            )
        batch, length = x.shape[0], x.shape[1]
        if length < 1:
            raise AbsactionError("QRNN input has zero time steps", "pass sequences of at least one step")
        layers = self.num_layers * self.num_directions
        if state is not None and tuple(state.shape) != (layers, batch, self.hidden_size):
            raise AbsactionError(
                f"QRNN initial state has shape {tuple(state.shape)}, "
                f"expected {(layers, batch, self.hidden_size)}",
                "pass (num_layers * num_directions, B, H) or None",
            )
        if lengths is None:
            return None, None
        lengths_t = torch.as_tensor(lengths, device=x.device)
        if lengths_t.shape != (batch,) or lengths_t.dtype.is_floating_point or lengths_t.dtype == torch.bool:
            raise AbsactionError(
                f"lengths must be {batch} integers (one per sequence), got shape {tuple(lengths_t.shape)} "
                f"and dtype {lengths_t.dtype}",
                "pass a (B,) integer tensor of true sequence lengths",
            )
        if batch and (int(lengths_t.min()) < 1 or int(lengths_t.max()) > length):
            raise AbsactionError(
                f"lengths must lie in 1..{length} (the padded length), "
                f"got {int(lengths_t.min())}..{int(lengths_t.max())}",
                "drop empty sequences and pad every sequence to the longest one",
            )
        if batch and int(lengths_t.min()) == length:
            return lengths_t, None  # nothing is padded: skip the masking work
        return lengths_t, padding_mask(lengths_t, length)


def _check_options(input_size: int, hidden_size: int, window: int, mode: str, impl: str) -> None:
    if input_size < 1 or hidden_size < 1:
        raise AbsactionError(
            f"QRNN sizes must be positive, got input_size={input_size}, hidden_size={hidden_size}",
            "pass positive integers",
        )
    if window < 1:
        raise AbsactionError(f"QRNN window must be >= 1, got {window}", "pass window=1 or more")
    check_choice(mode, POOLING_MODES, "QRNN pooling mode")
    check_choice(impl, POOLING_IMPLS, "QRNN pooling impl")
