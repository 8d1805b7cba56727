"""QRNN speed: the parallel-scan QRNN layer vs the same layer with a sequential loop vs ``nn.LSTM``.

Every contender runs forward + backward (the gradient of every weight and of the
input) on a batch of ``--batch`` sequences of ``--input-size`` features, with ``--hidden`` state
features, at every length of ``--lengths``:

- ``qrnn_scan``: :class:`absaction.models.qrnn.QRNNLayer` (fo-pooling by default) with the chunked
  parallel scan and its fused backward, the library's default;
- ``qrnn_loop``: the same layer with the same weights, pooling with a Python loop over time and plain
  autograd (``impl="loop"``);
- ``lstm``: ``torch.nn.LSTM(input_size, hidden, batch_first=True)``, one layer, one direction;
- ``linear``: the QRNN layer's convolution alone (its ``(B*T, k*I) @ (k*I, G*H)`` matrix product, forward
  and backward): the floor under any QRNN layer whatever its pooling, since both QRNN contenders pay it;
- ``pool_scan`` / ``pool_loop``: the pooling recurrence alone (``linear_scan`` vs
  ``linear_scan_reference`` on gates ``a = sigmoid(.)`` and inputs ``b`` of both signs), which isolates
  what the scan changes: in the layers above the matrix product of the convolution is the same for both.

Timing: two untimed warm-up calls per contender and length, then ``--repeats`` repeats interleaved
round-robin over the contenders (a slow moment of a shared machine hits all of them alike); the median
is reported, with min and max. Torch runs on ``--threads`` threads (default 2). The load average before
and after the run is recorded: compare numbers within one run only.

Targets (the layer's reason to exist): ``qrnn_scan`` faster than ``lstm`` at every T >= 128, and at
least 10x faster than ``qrnn_loop`` at T = 2048; both are judged in the printout and the JSON (the
scan-vs-loop ratio is also given for the pooling alone, and ``loop/linear``, the most any pooling could
gain over the loop layer).

Usage::

    python benchmarks/bench_qrnn.py                                 # T in 32, 128, 512, 2048; B 32; H 256
    python benchmarks/bench_qrnn.py --quick --out /tmp/qrnn_speed   # smoke test, a few seconds
    python benchmarks/bench_qrnn.py --device cuda --out benchmarks/results/qrnn_speed_cuda
    python benchmarks/bench_qrnn.py --hugepages                     # THP_MEM_ALLOC_ENABLE=1, see below

``--hugepages`` sets PyTorch's ``THP_MEM_ALLOC_ENABLE=1`` before torch is imported: large CPU tensors
are then backed by transparent huge pages. On Linux a fresh tensor of tens of MiB otherwise costs
thousands of page faults (as much time as several passes over it), which slows every contender at
long T; the flag is recorded in the JSON.

Writes ``OUT.csv`` (one row per contender and length), ``OUT.json`` (configuration, machine, load,
results, speedups, verdicts) and ``OUT.png`` (log-log time vs T); existing files are refused unless
``--force`` is given.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from rich.console import Console
from rich.table import Table

from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, check_new_output
from absaction.models.qrnn import QRNNLayer
from absaction.models.scan import linear_scan, linear_scan_reference

CONTENDERS: tuple[str, ...] = ("qrnn_scan", "qrnn_loop", "lstm", "linear", "pool_scan", "pool_loop")
WARMUP_CALLS = 2
"""Untimed calls of every contender before the timed repeats at each length."""
LABELS = {
    "qrnn_scan": "QRNN layer, parallel scan",
    "qrnn_loop": "QRNN layer, sequential loop",
    "lstm": "nn.LSTM",
    "linear": "QRNN's linear map alone (floor)",
    "pool_scan": "pooling only, parallel scan",
    "pool_loop": "pooling only, sequential loop",
}


@dataclasses.dataclass
class QRNNBenchConfig:
    """Configuration of one speed run (written to the JSON output)."""

    lengths: tuple[int, ...] = (32, 128, 512, 2048)
    """Sequence lengths T to time."""
    batch: int = 32
    """Sequences per batch B."""
    hidden: int = 256
    """State features H of the QRNN and the LSTM."""
    input_size: int = 256
    """Input features I."""
    window: int = 1
    """QRNN convolution window k."""
    mode: str = "fo"
    """QRNN pooling: f, fo or ifo."""
    repeats: int = 5
    """Timed repeats per contender and length (interleaved); the median is reported."""
    threads: int = 2
    """torch CPU threads."""
    device: str = "cpu"
    """cpu or cuda."""
    hugepages: bool = False
    """THP_MEM_ALLOC_ENABLE=1 (transparent huge pages for large CPU tensors)."""
    seed: int = 0
    """Seed of the weights and inputs."""


@dataclasses.dataclass
class Timing:
    device: str
    length: int
    contender: str
    median_ms: float
    min_ms: float
    max_ms: float
    repeats: int


def make_cases(config: QRNNBenchConfig, length: int) -> dict[str, Callable[[], None]]:
    """One closure per contender running forward + backward at sequence length ``length``."""

    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    scan_layer = QRNNLayer(config.input_size, config.hidden, config.window, config.mode, "scan")  # type: ignore[arg-type]
    loop_layer = QRNNLayer(config.input_size, config.hidden, config.window, config.mode, "loop")  # type: ignore[arg-type]
    loop_layer.load_state_dict(scan_layer.state_dict())
    lstm = torch.nn.LSTM(config.input_size, config.hidden, batch_first=True)
    for module in (scan_layer, loop_layer, lstm):
        module.to(device)
    shape = (config.batch, length)
    x = torch.randn(*shape, config.input_size, device=device, requires_grad=True)
    grad_h = torch.randn(*shape, config.hidden, device=device)
    a = torch.sigmoid(torch.randn(*shape, config.hidden, device=device)).requires_grad_()
    b = torch.randn(*shape, config.hidden, device=device, requires_grad=True)

    def clear(*tensors: torch.Tensor) -> None:
        for tensor in tensors:
            tensor.grad = None

    def layer_case(module: torch.nn.Module) -> Callable[[], None]:
        params = list(module.parameters())

        def case() -> None:
            clear(x, *params)
            out = module(x)[0]
            out.backward(grad_h)

        return case

    def linear_case() -> Callable[[], None]:
        linear = torch.nn.Linear(scan_layer.weight.shape[1], scan_layer.weight.shape[0]).to(device)
        params = list(linear.parameters())
        grad_gates = torch.randn(*shape, scan_layer.weight.shape[0], device=device)

        def case() -> None:
            clear(x, *params)
            linear(scan_layer.windows(x)).backward(grad_gates)

        return case

    def pool_case(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def case() -> None:
            clear(a, b)
            fn(a, b).backward(grad_h)

        return case

    return {
        "qrnn_scan": layer_case(scan_layer),
        "qrnn_loop": layer_case(loop_layer),
        "lstm": layer_case(lstm),
        "linear": linear_case(),
        "pool_scan": pool_case(linear_scan),
        "pool_loop": pool_case(linear_scan_reference),
    }


def time_once(case: Callable[[], None], device: str) -> float:
    """Seconds of one call, waiting for the GPU when there is one."""

    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    case()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run(config: QRNNBenchConfig, progress: bool = True) -> list[Timing]:
    """Time every contender at every length of ``config``."""

    torch.set_num_threads(config.threads)
    timings: list[Timing] = []
    for length in config.lengths:
        cases = make_cases(config, length)
        for _ in range(WARMUP_CALLS):  # allocator, thread pool, lazy initialisation of the kernels
            for case in cases.values():
                time_once(case, config.device)
        seconds: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(config.repeats):
            for name, case in cases.items():
                seconds[name].append(time_once(case, config.device))
        for name in cases:
            ms = [1e3 * s for s in seconds[name]]
            timings.append(
                Timing(config.device, length, name, statistics.median(ms), min(ms), max(ms), len(ms))
            )
        if progress:
            done = {t.contender: t.median_ms for t in timings if t.length == length}
            print(f"T={length}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in done.items()), file=sys.stderr)
    return timings


def speedups(timings: Sequence[Timing]) -> list[dict[str, Any]]:
    """Per length: the time ratios that the targets are about (> 1 means the scan is faster)."""
    rows = []
    for length in sorted({t.length for t in timings}):
        ms = {t.contender: t.median_ms for t in timings if t.length == length}
        rows.append(
            {
                "length": length,
                "lstm_over_qrnn_scan": ms["lstm"] / ms["qrnn_scan"],
                "qrnn_loop_over_qrnn_scan": ms["qrnn_loop"] / ms["qrnn_scan"],
                "pool_loop_over_pool_scan": ms["pool_loop"] / ms["pool_scan"],
                # if pooling cost nothing, the layer could be at most this much faster than the loop layer
                "qrnn_loop_over_linear": ms["qrnn_loop"] / ms["linear"],
                "qrnn_scan_over_linear": ms["qrnn_scan"] / ms["linear"],
            }
        )
    return rows


def verdicts(ratios: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The two speed targets, judged on the lengths that were run (None when a length is missing)."""
    long = [r for r in ratios if r["length"] >= 128]
    at_2048 = next((r for r in ratios if r["length"] == 2048), None)
    return {
        "faster_than_lstm_at_every_T_ge_128": (
            all(r["lstm_over_qrnn_scan"] > 1.0 for r in long) if long else None
        ),
        "layer_10x_over_loop_at_T_2048": None
        if at_2048 is None
        else at_2048["qrnn_loop_over_qrnn_scan"] >= 10,
        "pooling_10x_over_loop_at_T_2048": None
        if at_2048 is None
        else at_2048["pool_loop_over_pool_scan"] >= 10,
    }


def to_csv(timings: Sequence[Timing]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=[f.name for f in dataclasses.fields(Timing)], lineterminator="\n"
    )
    writer.writeheader()
    for timing in timings:
        writer.writerow(dataclasses.asdict(timing))
    return buffer.getvalue()


def plot(timings: Sequence[Timing], config: QRNNBenchConfig) -> bytes:
    """Log-log median time vs T per contender (PNG bytes); layers solid, pooling alone dashed."""
    plt.switch_backend("Agg")  # headless: PNG bytes, never a window

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in CONTENDERS:
        points = sorted((t.length, t.median_ms) for t in timings if t.contender == name)
        if points:
            lengths, ms = zip(*points, strict=True)
            style = "--" if name.startswith("pool") else "-"
            ax.plot(lengths, ms, style, marker="o", label=LABELS[name])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T (steps)")
    ax.set_ylabel("forward + backward, median (ms)")
    where = config.device if config.device == "cuda" else f"{config.device}, {config.threads} threads"
    ax.set_title(
        f"QRNN ({config.mode}, k={config.window}) vs LSTM: B={config.batch}, "
        f"I={config.input_size}, H={config.hidden} ({where})",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()


def machine_info(config: QRNNBenchConfig) -> dict[str, Any]:

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"),
    }
    if config.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def print_table(timings: Sequence[Timing], ratios: Sequence[dict[str, Any]]) -> None:

    table = Table(title="forward + backward, median ms (speedup of the scan)")
    columns = ("T", *CONTENDERS, "lstm/scan", "loop/scan", "pool: loop/scan", "loop/linear")
    for column in columns:
        table.add_column(column, justify="right")
    for row in ratios:
        ms = {t.contender: t.median_ms for t in timings if t.length == row["length"]}
        table.add_row(
            str(row["length"]),
            *(f"{ms[name]:.1f}" for name in CONTENDERS),
            f"x{row['lstm_over_qrnn_scan']:.2f}",
            f"x{row['qrnn_loop_over_qrnn_scan']:.2f}",
            f"x{row['pool_loop_over_pool_scan']:.2f}",
            f"x{row['qrnn_loop_over_linear']:.2f}",
        )
    Console(width=max(140, shutil.get_terminal_size().columns)).print(table)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = QRNNBenchConfig()
    parser.add_argument(
        "--lengths", default=",".join(map(str, defaults.lengths)), help="comma-separated sequence lengths"
    )
    parser.add_argument("--batch", type=int, default=defaults.batch, help="sequences per batch")
    parser.add_argument("--hidden", type=int, default=defaults.hidden, help="state features H")
    parser.add_argument("--input-size", type=int, default=defaults.input_size, help="input features I")
    parser.add_argument("--window", type=int, default=defaults.window, help="QRNN convolution window k")
    parser.add_argument("--mode", choices=("f", "fo", "ifo"), default=defaults.mode, help="QRNN pooling")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="timed repeats (median)")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=defaults.device, help="where to run")
    parser.add_argument(
        "--hugepages", action="store_true", help="set THP_MEM_ALLOC_ENABLE=1 (huge pages for big CPU tensors)"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of weights and inputs")
    parser.add_argument("--quick", action="store_true", help="smoke test: T 16, 64; B 4; H 32; 3 repeats")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/qrnn_speed"),
        help="output path prefix: writes OUT.csv, OUT.json and OUT.png",
    )
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> QRNNBenchConfig:
    try:
        lengths = tuple(int(v) for v in args.lengths.split(","))
    except ValueError:
        raise AbsactionError(
            f"--lengths {args.lengths!r} is not a list of integers", "pass e.g. 32,128"
        ) from None
    numbers = {"--batch": args.batch, "--hidden": args.hidden, "--input-size": args.input_size}
    numbers |= {"--window": args.window, "--repeats": args.repeats, "--threads": args.threads}
    for flag, value in {**numbers, "--lengths": min(lengths)}.items():
        if value < 1:
            raise AbsactionError(f"{flag} must be >= 1, got {value}", f"pass a positive {flag}")
    config = QRNNBenchConfig(
        lengths=lengths,
        batch=args.batch,
        hidden=args.hidden,
        input_size=args.input_size,
        window=args.window,
        mode=args.mode,
        repeats=args.repeats,
        threads=args.threads,
        device=args.device,
        hugepages=args.hugepages,
        seed=args.seed,
    )
    if args.quick:
        config = dataclasses.replace(config, lengths=(16, 64), batch=4, hidden=32, input_size=32, repeats=3)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = make_config(args)
        outputs = {ext: args.out.with_name(args.out.name + ext) for ext in (".csv", ".json", ".png")}
        for path in outputs.values():
            check_new_output(path, args.force, what="output file")
        if config.hugepages:
            if "torch" in sys.modules:
                raise AbsactionError(
                    "--hugepages must be set before torch is imported", "run the script directly"
                )
            os.environ["THP_MEM_ALLOC_ENABLE"] = "1"  # read by torch's CPU allocator at its first use

        if config.device == "cuda" and not torch.cuda.is_available():
            raise AbsactionError(
                "--device cuda but torch sees no GPU", "run on a GPU machine or drop --device"
            )
        load_before = os.getloadavg()
        if config.device == "cpu" and load_before[0] > 0.5:
            print(
                f"warning: load average {load_before[0]:.2f} before the run: other processes compete for the "
                "CPU, and multi-threaded timings (LSTM above all) can be many times too slow",
                file=sys.stderr,
            )
        timings = run(config)
        load_after = os.getloadavg()
    except AbsactionError as err:
        print(f"bench_qrnn: error: {err}", file=sys.stderr)
        return 2
    ratios = speedups(timings)
    verdict = verdicts(ratios)
    print_table(timings, ratios)
    for name, met in verdict.items():
        judged = "not judged (length not run)" if met is None else ("met" if met else "NOT met")
        print(f"target {name}: {judged}")
    if args.quick:
        print("(--quick: tiny sizes, the verdicts above do not speak for the real configuration)")
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    atomic_write_text(outputs[".csv"], to_csv(timings))
    atomic_write_json(
        outputs[".json"],
        {
            "config": dataclasses.asdict(config),
            "quick": bool(args.quick),
            "machine": machine_info(config),
            "load_average_before": list(load_before),
            "load_average_after": list(load_after),
            "results": [dataclasses.asdict(t) for t in timings],
            "speedups": ratios,
            "targets": verdict,
        },
    )
    atomic_write_bytes(outputs[".png"], plot(timings, config))
    print(f"wrote {', '.join(str(p) for p in outputs.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
