"""absaction.models.scan and absaction.models.qrnn: the parallel scan against the sequential loop,
closed forms, gradients, every option's shapes, masking of padded steps, causality, stepping, bad input."""

from __future__ import annotations

import pytest
import torch

from absaction.errors import AbsactionError
from absaction.models.qrnn import QRNN, QRNNLayer, _QRNNFunction, padding_mask, reverse_padded
from absaction.models.scan import default_chunk, linear_scan, linear_scan_reference, reverse_scan_, scan_


def random_recurrence(
    batch: int, length: int, hidden: int, dtype: torch.dtype = torch.float32, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """a in (0, 1), b and c0 standard normal (both signs), all requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, length, hidden, generator=gen, dtype=dtype).requires_grad_()
    b = torch.randn(batch, length, hidden, generator=gen, dtype=dtype).requires_grad_()
    c0 = torch.randn(batch, hidden, generator=gen, dtype=dtype).requires_grad_()
    return a, b, c0


def grads(out: torch.Tensor, inputs: list[torch.Tensor], seed: int = 1) -> list[torch.Tensor]:
    """Gradients of <out, w> for a fixed random weight w."""
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return list(torch.autograd.grad((out * w).sum(), inputs))


def max_diff(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> float:
    return max(float((x - y).detach().abs().max()) for x, y in zip(xs, ys, strict=True))


# ------------------------------------------------------------------------------------------- scan
def test_scan_closed_form() -> None:
    # a = 1/2, b = 1, c0 = 0: c_t = sum_{s<=t} 2^-s = 2 (1 - 2^-(t+1)); with c0 = 4: plus 4 * 2^-(t+1).
    t = torch.arange(40, dtype=torch.float64)
    a = torch.full((1, 40, 1), 0.5, dtype=torch.float64)
    b = torch.ones(1, 40, 1, dtype=torch.float64)
    expected = 2 * (1 - 0.5 ** (t + 1))
    for chunk in (None, 1, 3, 40):
        torch.testing.assert_close(linear_scan(a, b, chunk=chunk)[0, :, 0], expected, rtol=0, atol=1e-15)
        c0 = torch.full((1, 1), 4.0, dtype=torch.float64)
        out = linear_scan(a, b, c0, chunk=chunk)[0, :, 0]
        torch.testing.assert_close(out, expected + 4 * 0.5 ** (t + 1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("length", [1, 2, 15, 16, 17, 100, 2048])
@pytest.mark.parametrize("chunk", [None, 2, 7])
def test_scan_matches_sequential_reference_float32(length: int, chunk: int | None) -> None:
    a, b, c0 = random_recurrence(3, length, 4)
    out = linear_scan(a, b, c0, chunk=chunk)
    ref = linear_scan_reference(a, b, c0)
    assert max_diff([out], [ref]) < 1e-5
    assert max_diff(grads(out, [a, b, c0]), grads(ref, [a, b, c0])) < 1e-5


def test_scan_without_initial_state_starts_from_zero() -> None:
    a, b, _ = random_recurrence(2, 33, 3)
    out = linear_scan(a, b, chunk=4)
    torch.testing.assert_close(out, linear_scan_reference(a, b, torch.zeros(2, 3)), rtol=0, atol=1e-6)
    torch.testing.assert_close(out[:, 0], b[:, 0], rtol=0, atol=0)


def test_scan_is_safe_at_the_edges_of_the_gate_range() -> None:
    # Long products underflow to 0 (a tiny or exactly 0), a = 1 accumulates, b of both signs and large:
    # no division or logarithm is involved, so the scan stays finite and equals the float64 loop.
    gen = torch.Generator().manual_seed(3)
    length = 2048
    a = torch.rand(2, length, 5, generator=gen)
    a[:, ::3, 0] = 0.0
    a[:, :, 1] = 1e-30
    a[:, :, 2] = 1.0
    a[:, :, 3] = 1.0 - 1e-7
    b = 1e3 * torch.randn(2, length, 5, generator=gen)
    out = linear_scan(a, b)
    ref = linear_scan_reference(a.double(), b.double())
    assert torch.isfinite(out).all()
    scale = float(ref.abs().max())
    assert float((out.double() - ref).abs().max()) < 1e-6 * scale
    # exact zeros cut the history: c_t = b_t wherever a_t = 0
    torch.testing.assert_close(out[:, ::3, 0], b[:, ::3, 0], rtol=0, atol=0)


def test_scan_gradcheck_float64() -> None:
    for length, chunk in ((11, 3), (16, None), (5, 1)):
        a, b, c0 = random_recurrence(2, length, 3, torch.float64)
        assert torch.autograd.gradcheck(lambda a, b, c0, k=chunk: linear_scan(a, b, c0, chunk=k), (a, b, c0))


def test_reverse_scan_is_the_reverse_of_the_scan() -> None:
    # d_t = g_t + a_{t+1} d_{t+1} is the forward scan of the time-reversed sequences with a shifted.
    gen = torch.Generator().manual_seed(4)
    a = torch.rand(2, 37, 3, generator=gen, dtype=torch.float64)
    g = torch.randn(2, 37, 3, generator=gen, dtype=torch.float64)
    shifted = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)
    expected = linear_scan_reference(shifted.flip(1), g.flip(1)).flip(1)
    for chunk in (None, 1, 4, 37):
        torch.testing.assert_close(reverse_scan_(a, g.clone(), chunk), expected, rtol=0, atol=1e-12)


def test_scan_works_in_place_on_strided_views() -> None:
    # The QRNN scans one gate's slice of a (B, T, G*H) tensor in place.
    gen = torch.Generator().manual_seed(5)
    gates = torch.randn(2, 50, 3 * 4, generator=gen)
    a, x = gates[..., 4:8].sigmoid(), gates[..., :4]
    expected = linear_scan_reference(a, x.clone())
    scan_(a, x, chunk=6)
    torch.testing.assert_close(gates[..., :4], expected, rtol=0, atol=1e-6)


def test_default_chunk() -> None:
    assert default_chunk(8) == 8  # short: one chunk, a plain loop
    assert default_chunk(1024) == 32  # sqrt(1024)
    assert all(2 <= default_chunk(t) <= t for t in range(16, 5000, 97))


def test_scan_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="share one"):
        linear_scan(torch.rand(2, 3, 4), torch.rand(2, 3, 5))
    with pytest.raises(ValueError, match="c0 must have shape"):
        linear_scan(torch.rand(2, 3, 4), torch.rand(2, 3, 4), torch.zeros(4))


# ------------------------------------------------------------------------------------ QRNN layers
def test_fo_pooling_by_hand() -> None:
    # One unit, window 1, input x: z = tanh(x), f = sigmoid(0) = 1/2, o = sigmoid(ln 3) = 3/4.
    layer = QRNNLayer(1, 1, window=1, mode="fo").double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0], [0.0], [0.0]]))
        layer.bias.copy_(torch.tensor([0.0, 0.0, torch.log(torch.tensor(3.0))]))
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    h, c_last = layer(x.view(1, 3, 1))
    c, expected = 0.0, []
    for value in x.tolist():
        c = 0.5 * c + 0.5 * torch.tanh(torch.tensor(value)).item()
        expected.append(0.75 * c)
    torch.testing.assert_close(h.view(3), torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(c_last.view(()), torch.tensor(c, dtype=torch.float64))


def test_ifo_and_f_pooling_by_hand() -> None:
    # window 2, x = (1, 2): step 0 sees (0, 1), step 1 sees (1, 2). All gate weights pick the newest input.
    x = torch.tensor([1.0, 2.0], dtype=torch.float64).view(1, 2, 1)
    for mode, blocks in (("f", 2), ("ifo", 4)):
        layer = QRNNLayer(1, 1, window=2, mode=mode).double()  # type: ignore[arg-type]
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([[0.0, 1.0]] * blocks))
            layer.bias.zero_()
        h, _ = layer(x)
        c = torch.tensor(0.0, dtype=torch.float64)
        expected = []
        for value in (1.0, 2.0):
            v = torch.tensor(value, dtype=torch.float64)
            s, z = torch.sigmoid(v), torch.tanh(v)
            c = s * c + (s * z if mode == "ifo" else (1 - s) * z)
            expected.append(c if mode == "f" else s * c)
        torch.testing.assert_close(h.view(2), torch.stack(expected))


@pytest.mark.parametrize("mode", ["f", "fo", "ifo"])
@pytest.mark.parametrize("window", [1, 3])
def test_layer_gradcheck_float64(mode: str, window: int) -> None:
    gen = torch.Generator().manual_seed(6)
    blocks = {"f": 2, "fo": 3, "ifo": 4}[mode]
    x = torch.randn(2, 9, window * 2, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(blocks * 3, window * 2, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(blocks * 3, generator=gen, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    pad = padding_mask(torch.tensor([9, 5]), 9)

    def run(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, c0: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out: tuple[torch.Tensor, ...] = _QRNNFunction.apply(x, w, b, c0, pad, mode, 4)
        return out

    assert torch.autograd.gradcheck(run, (x, weight, bias, c0))


@pytest.mark.parametrize("mode", ["f", "fo", "ifo"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("window", [1, 2])
def test_scan_layer_matches_loop_layer_float32(mode: str, bidirectional: bool, window: int) -> None:
    torch.manual_seed(7)
    fast = QRNN(3, 6, num_layers=2, window=window, mode=mode, bidirectional=bidirectional)  # type: ignore[arg-type]
    slow = QRNN(3, 6, num_layers=2, window=window, mode=mode, bidirectional=bidirectional, impl="loop")  # type: ignore[arg-type]
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(4, 70, 3, requires_grad=True)
    state = torch.randn(2 * fast.num_directions, 4, 6, requires_grad=True)
    lengths = torch.tensor([70, 64, 9, 1])
    for lens in (None, lengths):
        out_f, last_f = fast(x, state, lens)
        out_s, last_s = slow(x, state, lens)
        assert max_diff([out_f, last_f], [out_s, last_s]) < 1e-5
        inputs_f = [x, state, *fast.parameters()]
        inputs_s = [x, state, *slow.parameters()]
        total_f = torch.cat([out_f.flatten(), last_f.flatten()])
        total_s = torch.cat([out_s.flatten(), last_s.flatten()])
        assert max_diff(grads(total_f, inputs_f), grads(total_s, inputs_s)) < 1e-5


@pytest.mark.parametrize("mode", ["f", "fo", "ifo"])
@pytest.mark.parametrize("used", ["outputs", "final states"])
def test_gradients_when_only_one_output_is_used(mode: str, used: str) -> None:
    # The fused backward gets None for an unused output (no zero tensor is materialised).
    torch.manual_seed(14)
    fast = QRNN(3, 5, num_layers=2, window=2, mode=mode)  # type: ignore[arg-type]
    slow = QRNN(3, 5, num_layers=2, window=2, mode=mode, impl="loop")  # type: ignore[arg-type]
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 30, 3, requires_grad=True)
    pick = 0 if used == "outputs" else 1
    grads_fast = grads(fast(x, lengths=[30, 17])[pick], [x, *fast.parameters()])
    grads_slow = grads(slow(x, lengths=[30, 17])[pick], [x, *slow.parameters()])
    assert max_diff(grads_fast, grads_slow) < 1e-5


@pytest.mark.parametrize("mode", ["f", "fo", "ifo"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("window", [1, 2, (3, 1, 2)])
def test_shapes_of_every_option(mode: str, bidirectional: bool, window: int | tuple[int, ...]) -> None:
    qrnn = QRNN(5, 7, num_layers=3, window=window, mode=mode, bidirectional=bidirectional, dropout=0.1)  # type: ignore[arg-type]
    dirs = 2 if bidirectional else 1
    out, state = qrnn(torch.randn(4, 11, 5), torch.randn(3 * dirs, 4, 7), torch.tensor([11, 3, 1, 8]))
    assert out.shape == (4, 11, 7 * dirs) and qrnn.output_size == 7 * dirs
    assert state.shape == (3 * dirs, 4, 7)
    windows = [window] * 3 if isinstance(window, int) else list(window)
    gates = {"f": 2, "fo": 3, "ifo": 4}[mode]
    for index, layer in enumerate(qrnn.layers):
        size = 5 if index < dirs else 7 * dirs
        assert layer.weight.shape == (gates * 7, windows[index // dirs] * size)


def test_initial_state_is_used_and_default_is_zero() -> None:
    torch.manual_seed(8)
    qrnn = QRNN(2, 4, num_layers=2)
    x = torch.randn(3, 6, 2)
    out0, _ = qrnn(x)
    out_zero, _ = qrnn(x, torch.zeros(2, 3, 4))
    torch.testing.assert_close(out0, out_zero, rtol=0, atol=0)
    out_state, _ = qrnn(x, torch.ones(2, 3, 4))
    assert float((out_state - out0).detach().abs().max()) > 1e-3


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_changes_nothing_at_real_steps(bidirectional: bool) -> None:
    torch.manual_seed(9)
    qrnn = QRNN(3, 5, num_layers=2, window=2, bidirectional=bidirectional).double()
    lengths = [9, 4, 1, 6]
    sequences = [torch.randn(n, 3, dtype=torch.float64) for n in lengths]
    batch = 1e3 * torch.randn(4, 12, 3, dtype=torch.float64)  # garbage everywhere, then the sequences
    for b, seq in enumerate(sequences):
        batch[b, : len(seq)] = seq
    state = torch.randn(2 * qrnn.num_directions, 4, 5, dtype=torch.float64)
    out, final = qrnn(batch, state, torch.tensor(lengths))
    for b, seq in enumerate(sequences):
        alone, alone_final = qrnn(seq[None], state[:, b : b + 1])
        torch.testing.assert_close(out[b, : len(seq)], alone[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(final[:, b], alone_final[:, 0], rtol=0, atol=1e-12)
        assert bool((out[b, len(seq) :] == 0).all())  # padded outputs are 0


def test_padding_gets_no_gradient() -> None:
    torch.manual_seed(10)
    qrnn = QRNN(2, 4, num_layers=2, window=2, bidirectional=True)
    x = torch.randn(2, 8, 2, requires_grad=True)
    out, final = qrnn(x, lengths=[8, 5])
    (out.sum() + final.sum()).backward()
    assert x.grad is not None
    assert float(x.grad[1, 5:].abs().max()) == 0.0
    assert float(x.grad[1, :5].abs().min()) > 0.0


def test_forward_direction_is_causal() -> None:
    torch.manual_seed(11)
    qrnn = QRNN(2, 4, num_layers=3, window=3).double()
    x = torch.randn(2, 20, 2, dtype=torch.float64)
    changed = x.clone()
    changed[:, 12] += 1.0
    with torch.no_grad():
        out, _ = qrnn(x)
        out2, _ = qrnn(changed)
    torch.testing.assert_close(out2[:, :12], out[:, :12], rtol=0, atol=0)  # the past cannot see step 12
    assert float((out2[:, 12:] - out[:, 12:]).abs().amin(dim=(0, 2)).min()) > 0  # every later step can


def test_backward_direction_reads_each_sequence_from_its_end() -> None:
    # The backward half of a bidirectional layer is the same layer run forward on each sequence reversed.
    torch.manual_seed(12)
    qrnn = QRNN(2, 3, num_layers=1, window=2, bidirectional=True).double()
    forward_only = QRNN(2, 3, num_layers=1, window=2).double()
    forward_only.layers[0].load_state_dict(qrnn.layers[1].state_dict())
    seq = torch.randn(5, 2, dtype=torch.float64)
    batch = torch.zeros(1, 8, 2, dtype=torch.float64)
    batch[0, :5] = seq
    out, final = qrnn(batch, lengths=[5])
    expected, expected_final = forward_only(seq.flip(0)[None])
    torch.testing.assert_close(out[0, :5, 3:], expected[0].flip(0))
    torch.testing.assert_close(final[1, 0], expected_final[0, 0])


def test_reverse_padded_is_an_involution() -> None:
    x = torch.arange(2 * 5, dtype=torch.float32).view(2, 5, 1)
    lengths = torch.tensor([5, 3])
    rev = reverse_padded(x, lengths)
    assert rev[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]
    torch.testing.assert_close(reverse_padded(rev, lengths), x)
    torch.testing.assert_close(reverse_padded(x, None), x.flip(1))


@pytest.mark.parametrize("mode", ["f", "fo", "ifo"])
def test_step_by_step_equals_whole_sequence(mode: str) -> None:
    torch.manual_seed(13)
    qrnn = QRNN(3, 4, num_layers=2, window=(3, 2), mode=mode).double()  # type: ignore[arg-type]
    x = torch.randn(2, 10, 3, dtype=torch.float64)
    c0 = torch.randn(2, 2, 4, dtype=torch.float64)
    out, final = qrnn(x, c0)
    state = qrnn.initial_step_state(2, c0)
    steps = []
    for t in range(10):
        h, state = qrnn.step(x[:, t], state)
        steps.append(h)
    torch.testing.assert_close(torch.stack(steps, dim=1), out)
    torch.testing.assert_close(state.c, final)


def test_bad_input_raises_one_line_errors() -> None:
    qrnn = QRNN(2, 3, num_layers=2)
    x = torch.randn(2, 5, 2)
    cases = [
        (lambda: qrnn(torch.randn(2, 5, 3)), "expected \\(B, T, 2\\)"),
        (lambda: qrnn(torch.randn(2, 0, 2)), "zero time steps"),
        (lambda: qrnn(x, lengths=[5]), "lengths must be 2 integers"),
        (lambda: qrnn(x, lengths=torch.tensor([5.0, 2.0])), "lengths must be 2 integers"),
        (lambda: qrnn(x, lengths=[5, 0]), "lengths must lie in 1..5"),
        (lambda: qrnn(x, lengths=[6, 2]), "lengths must lie in 1..5"),
        (lambda: qrnn(x, torch.zeros(1, 2, 3)), "initial state has shape"),
        (lambda: QRNN(2, 3, mode="g"), "unknown QRNN pooling mode"),  # type: ignore[arg-type]
        (lambda: QRNN(2, 3, window=0), "window must be >= 1"),
        (lambda: QRNN(2, 3, num_layers=2, window=[1]), "2 layers"),
        (lambda: QRNN(2, 3, bidirectional=True).initial_step_state(1), "forward in time only"),
    ]
    for call, pattern in cases:
        with pytest.raises(AbsactionError, match=pattern) as info:
            call()
        assert "\n" not in str(info.value)
