"""Evaluate a trained action VAE on a dataset: reconstruction, KL, disentanglement; write the report.

`evaluate_model` encodes every sequence once (posterior means and log-variances, all ladders
concatenated, ladder 1 first), decodes the means, and measures

- reconstruction: MSE in the dataset's action units (overall and per action dimension), the distance
  between the end points of the input and reconstructed paths, and the Gaussian NLL the model was
  trained on (normalised actions, the training ``sigma``), in nats per sequence, with its constant
  (``nll``) and without it (``recon_loss``, the term training minimises and logs in ``metrics.csv``);
- KL of every latent dimension (closed form, averaged over the data) and the active units;
- with ground-truth factors: MIG over all latents and over the active ones, per-factor MIG with the
  latent (and ladder) that carries each factor, SAP and DCI (`absaction.analysis.metrics`), and the
  latent x factor mutual-information matrix.

`write_report` turns the result into ``report.json``, ``report.md`` and ``mi_heatmap.png``
(`absaction.analysis.skill_report` does the same for a skill model's evaluation, with `plain_json` and
`format_value` from here).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from absaction.analysis import metrics
from absaction.analysis.traversal import latent_names
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from absaction.train.runs import recorded_data

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from absaction.data import ActionDataset
    from absaction.models.base import ActionVAE

HEATMAP_FILE = "mi_heatmap.png"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"


# --------------------------------------------------------------------------------------------------
# what to evaluate on


@dataclass(frozen=True)
class EvaluationData:
    """The sequences of a dataset, shaped for a model.

    Attributes:
        actions: (N, T, A) float32 in the dataset's action units; for a variable-length model, episodes
            padded with zeros to the longest.
        lengths: (N,) int64 true lengths for a variable-length model, else None.
        factors: (N, K) ground-truth factors of each sequence's episode, or None.
        factor_names: the K factor names.
        episodes: number of source episodes.
        window_length: steps per window (fixed-length model), None for whole variable-length episodes.
    """

    actions: np.ndarray
    lengths: np.ndarray | None
    factors: np.ndarray | None
    factor_names: tuple[str, ...]
    episodes: int
    window_length: int | None


def check_compatible(model: ActionVAE, dataset: ActionDataset) -> None:
    """One-line `AbsactionError` when the model cannot read the dataset's sequences."""
    if dataset.action_dim != model.action_dim:
        raise AbsactionError(
            f"the model reads {model.action_dim}-D actions but the dataset {dataset.path} has "
            f"{dataset.action_dim}-D actions",
            "evaluate the model on data from the environment it was trained on",
        )
    if model.seq_len is not None:
        shortest = int(dataset.episode_lengths().min())
        if shortest < model.seq_len:
            raise AbsactionError(
                f"the model reads windows of {model.seq_len} steps but the dataset {dataset.path} has "
                f"episodes of only {shortest} steps",
                f"use a dataset whose episodes have at least {model.seq_len} steps, or retrain on this one",
            )


def evaluation_data(model: ActionVAE, dataset: ActionDataset) -> EvaluationData:
    """Every sequence of ``dataset`` the model can read: non-overlapping windows of ``model.seq_len``
    steps from every episode (whole episodes when the lengths match), or whole padded episodes for a
    variable-length model."""
    check_compatible(model, dataset)
    if model.seq_len is not None:
        windows = dataset.action_windows(length=model.seq_len)  # stride = length: non-overlapping
        return EvaluationData(
            actions=windows.actions,
            lengths=None,
            factors=windows.factors,
            factor_names=windows.factor_names,
            episodes=len(dataset),
            window_length=model.seq_len,
        )
    episodes = dataset.episode_actions()
    lengths = np.array([len(a) for a in episodes], dtype=np.int64)
    padded = np.zeros((len(episodes), int(lengths.max()), dataset.action_dim), dtype=np.float32)
    for i, a in enumerate(episodes):
        padded[i, : len(a)] = a
    factors = dataset.factor_array()
    return EvaluationData(
        actions=padded,
        lengths=lengths,
        factors=factors,
        factor_names=dataset.factor_names if factors is not None else (),
        episodes=len(dataset),
        window_length=None,
    )


def pick_sequence(model: ActionVAE, dataset: ActionDataset, index: int) -> np.ndarray:
    """The first ``model.seq_len`` steps of episode ``index`` (the whole episode for a variable-length
    model), (T, A) float32."""
    check_compatible(model, dataset)
    if not 0 <= index < len(dataset):
        raise AbsactionError(
            f"episode index {index} is out of range: the dataset has {len(dataset)} episodes",
            f"pass --index between 0 and {len(dataset) - 1}",
        )
    actions = dataset.episodes[index].actions
    return np.asarray(actions if model.seq_len is None else actions[: model.seq_len], dtype=np.float32)


def training_data_path(run_config: dict[str, Any], run_dir: str | os.PathLike[str]) -> str | None:
    """The dataset the run in ``run_dir`` was trained on, as recorded in its ``config.json`` (``data``
    entry, parsed as ``run_config``), or None (see :func:`absaction.train.runs.recorded_data`)."""
    return recorded_data(run_dir, run_config)


def load_data_of(model_dir: str | os.PathLike[str], given: str | None, run_config: dict[str, Any]) -> Any:
    """The dataset a command reads for the model in ``model_dir``: ``given`` (``--data``), else the
    run's recorded training data; one-line errors name ``--data`` as the fix when neither is there."""
    data_path = given or training_data_path(run_config, model_dir)
    if data_path is None:
        raise AbsactionError(f"the run {model_dir} does not record its training data", "pass --data DIR")
    if given is not None:
        return load_dataset(data_path)
    try:
        return load_dataset(data_path)
    except AbsactionError as err:
        raise AbsactionError(
            f"the training data of {model_dir} is not found ({err.problem})",
            "pass --data DIR (the dataset folder or Minari id) to use it from where it is now",
        ) from None


def training_sigma(run_config: dict[str, Any]) -> float | None:
    """The decoder sigma (normalised units) a run was trained with (``train.sigma``), or None."""
    train = run_config.get("train")
    sigma = train.get("sigma") if isinstance(train, dict) else None
    return float(sigma) if isinstance(sigma, (int, float)) and sigma > 0 else None


# --------------------------------------------------------------------------------------------------
# encoding


def encode_means(
    model: ActionVAE, actions: np.ndarray, lengths: np.ndarray | None = None, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior means and log-variances of every sequence, and the decoded means.

    Args:
        model: an ``ActionVAE``.
        actions: (N, T, A) in environment units.
        lengths: (N,) true lengths for a variable-length model, else None.
        batch_size: sequences per forward pass.

    Returns:
        ``(means (N, D), logvars (N, D), reconstruction (N, T, A))`` float64 / float64 / float32, with the
        ladders concatenated in order (ladder 1 first), D = sum of ``model.ladder_dims``.
    """
    import torch

    means, logvars = model.posterior(actions, lengths, batch_size)  # (N, D) float32 each
    length = int(np.shape(actions)[1])
    recons = []
    with torch.no_grad():
        for start in range(0, len(means), batch_size):
            latents = model.split_ladders(means[start : start + batch_size])
            recons.append(model.decode(latents, length).float().cpu().numpy())
    return means.astype(np.float64), logvars.astype(np.float64), np.concatenate(recons)


# --------------------------------------------------------------------------------------------------
# the evaluation


def _step_mask(actions: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """(N, T) 1.0 on real steps, 0.0 on padding."""
    n, t = actions.shape[:2]
    if lengths is None:
        return np.ones((n, t))
    return (np.arange(t)[None, :] < lengths[:, None]).astype(np.float64)


def _reconstruction(
    model: ActionVAE,
    actions: np.ndarray,
    recon: np.ndarray,
    lengths: np.ndarray | None,
    sigma: float | None,
    step_size: float | None,
) -> dict[str, Any]:
    import torch

    from absaction.models.losses import gaussian_nll

    mask = _step_mask(actions, lengths)  # (N, T)
    sq = (actions.astype(np.float64) - recon.astype(np.float64)) ** 2 * mask[..., None]  # (N, T, A)
    per_dim = sq.sum(axis=(0, 1)) / mask.sum()  # (A,)
    # end point of each path: the sum of its (real) steps, scaled like the traversal figures
    scale = 1.0 if step_size is None else step_size
    end_in = (actions * mask[..., None]).sum(axis=1) * scale  # (N, A)
    end_out = (recon * mask[..., None]).sum(axis=1) * scale
    result: dict[str, Any] = {
        "mse": float(per_dim.mean()),
        "rmse": float(math.sqrt(per_dim.mean())),
        "mse_per_action_dim": per_dim,
        "endpoint_error": float(np.linalg.norm(end_in - end_out, axis=1).mean()),
        "endpoint_units": f"env units, step size {step_size:g}" if step_size else "action units",
        "sigma": sigma,
        "nll": None,
        "recon_loss": None,
    }
    if sigma is not None:
        x = torch.as_tensor(model.normalizer.transform(actions.astype(np.float64)))
        x_hat = torch.as_tensor(model.normalizer.transform(recon.astype(np.float64)))
        m = None if lengths is None else torch.as_tensor(mask)
        result["nll"] = float(gaussian_nll(x, x_hat, sigma, mask=m))
        # the term training minimises (no constant), comparable with the run's metrics.csv
        result["recon_loss"] = float(gaussian_nll(x, x_hat, sigma, mask=m, include_constant=False))
    return result


def _dci_summary(result: metrics.DCIResult) -> dict[str, float]:
    return {
        "disentanglement": result["disentanglement"],
        "completeness": result["completeness"],
        "informativeness": result["informativeness"],
    }


def evaluate_model(
    model: ActionVAE,
    data: EvaluationData,
    sigma: float | None = None,
    step_size: float | None = None,
    active_threshold: float = metrics.ACTIVE_KL_THRESHOLD,
    n_bins: int = metrics.DEFAULT_BINS,
    factors: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Measure ``model`` on ``data``; see the module docstring for what is measured.

    Args:
        model: an ``ActionVAE``.
        data: from `evaluation_data`.
        sigma: the decoder standard deviation of training (normalised units) for the NLL; None skips it.
        step_size: the env's displacement per unit action, for the end-point error (None: action units).
        active_threshold: KL (nats) above which a latent is active (`metrics.active_units`).
        n_bins: histogram bins per latent for the MI estimate.
        factors: the factor names to score (default all); the overall MIG/SAP/DCI average over them.
        seed: seed of the held-out split of SAP and DCI.
        batch_size: sequences per forward pass.

    Returns:
        A JSON-able dictionary (NumPy arrays inside; `write_report` serialises them), with keys
        ``sequences``, ``latents``, ``ladder_of_latent``, ``reconstruction``, ``kl``, ``metrics`` (None
        without factors) and ``notes``.
    """
    import torch

    from absaction.models.losses import kl_normal

    means, logvars, recon = encode_means(model, data.actions, data.lengths, batch_size)
    kl = kl_normal(torch.as_tensor(means), torch.as_tensor(logvars)).mean(dim=0).numpy()  # (D,)
    active = metrics.active_units(kl, active_threshold)  # (D,)
    ladder_dims = list(model.ladder_dims)
    bounds = np.cumsum([0, *ladder_dims])
    notes: list[str] = []
    report: dict[str, Any] = {
        "sequences": len(data.actions),
        "latents": latent_names(ladder_dims),
        "ladder_of_latent": [ladder + 1 for ladder, d in enumerate(ladder_dims) for _ in range(d)],
        "reconstruction": _reconstruction(model, data.actions, recon, data.lengths, sigma, step_size),
        "kl": {
            "per_dim": [kl[bounds[i] : bounds[i + 1]] for i in range(len(ladder_dims))],
            "per_ladder": [float(kl[bounds[i] : bounds[i + 1]].sum()) for i in range(len(ladder_dims))],
            "total": float(kl.sum()),
            "active": [active[bounds[i] : bounds[i + 1]] for i in range(len(ladder_dims))],
            "n_active": int(active.sum()),
            "active_threshold": active_threshold,
            "variance_of_means": means.var(axis=0),
        },
        "metrics": None,
        "notes": notes,
    }
    if sigma is None:
        notes.append("NLL skipped: the run records no reconstruction sigma")
    if data.factors is None or not data.factor_names:
        notes.append("the dataset has no ground-truth factors: MIG, SAP, DCI and the MI heat map are skipped")
        return report

    names = list(data.factor_names)
    chosen = names if factors is None else list(factors)
    unknown = [f for f in chosen if f not in names]
    if unknown:
        raise AbsactionError(
            f"unknown factor(s) {', '.join(unknown)} (this dataset's factors: {', '.join(names)})",
            "pass --factors with names from that list",
        )
    columns = [names.index(f) for f in chosen]
    y = data.factors[:, columns]  # (N, K)
    if len(y) < 4:
        notes.append(f"only {len(y)} sequences: too few for MIG, SAP and DCI; metrics skipped")
        return report
    mig_all = metrics.mig(means, y, n_bins=n_bins)
    mig_active = metrics.mig(means, y, n_bins=n_bins, active=active)
    sap_result = metrics.sap(means, y, seed=seed)
    dci_result = metrics.dci(means, y, seed=seed)
    # SAP and DCI share MIG's blind spot (a per-latent classifier and standardised codes ignore scale),
    # so they are also reported on the active units alone
    sap_active: float | None = None
    dci_active: dict[str, float] | None = None
    if active.any():
        sap_active = metrics.sap(means[:, active], y, seed=seed)["sap"]
        dci_active = _dci_summary(metrics.dci(means[:, active], y, seed=seed))
    constant = [chosen[k] for k, h in enumerate(mig_all["entropy"]) if h == 0]
    if constant:
        notes.append(f"constant factor(s) {', '.join(constant)}: MIG undefined (entropy 0), not averaged")
    if not active.any():
        notes.append(f"no latent has a mean KL above {active_threshold:g} nats: active-unit MIG is 0")
    ladder_of = report["ladder_of_latent"]
    per_factor = []
    for k, name in enumerate(chosen):
        top, top_active = int(mig_all["top_latent"][k]), int(mig_active["top_latent"][k])
        per_factor.append(
            {
                "factor": name,
                "entropy": mig_all["entropy"][k],
                "mig": mig_all["per_factor"][k],
                "latent": report["latents"][top],
                "ladder": ladder_of[top],
                "mig_active": mig_active["per_factor"][k],
                "latent_active": report["latents"][top_active] if top_active >= 0 else None,
                "ladder_active": ladder_of[top_active] if top_active >= 0 else None,
                "sap": sap_result["per_factor"][k],
                "sap_latent": report["latents"][int(sap_result["top_latent"][k])],
                "dci_completeness": dci_result["per_factor_completeness"][k],
                "dci_informativeness": dci_result["per_factor_informativeness"][k],
            }
        )
    report["metrics"] = {
        "factors": chosen,
        "n_bins": n_bins,
        "mig": mig_all["mig"],
        "mig_active": mig_active["mig"],
        "sap": sap_result["sap"],
        "sap_active": sap_active,
        "dci": _dci_summary(dci_result),
        "dci_active": dci_active,
        "per_factor": per_factor,
        "mutual_info": mig_all["mutual_info"],
        "entropy": mig_all["entropy"],
        "sap_score": sap_result["score"],
        "dci_importance": dci_result["importance"],
        "dci_per_latent_disentanglement": dci_result["per_latent_disentanglement"],
    }
    return report


# --------------------------------------------------------------------------------------------------
# writing


def plain_json(obj: Any) -> Any:
    """NumPy -> Python, NaN/inf -> None, so ``report.json`` is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): plain_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain_json(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def mi_heatmap(
    mutual_info: np.ndarray,
    entropy: np.ndarray,
    latents: Sequence[str],
    factor_names: Sequence[str],
    ladder_dims: Sequence[int],
    active: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """Heat map of ``MI(latent, factor) / H(factor)`` (D x K), annotated with the values.

    Rows are latents (ladder 1 first), separated by a line at every ladder boundary; active latents are
    marked ``*``. Normalising by the factor's entropy puts every column on [0, 1] (1 = the latent
    determines the factor).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    mi = np.asarray(mutual_info, dtype=np.float64)
    h = np.asarray(entropy, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(h[None, :] > 0, mi / np.where(h > 0, h, 1.0)[None, :], 0.0)  # (D, K)
    d, k = norm.shape
    fig = Figure(figsize=(max(4.5, 2.6 + 1.1 * k), max(3.2, 1.6 + 0.32 * d)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for i in range(d):
        for j in range(k):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if norm[i, j] > 0.6 else "white")  # fmt: skip
    marks = active if active is not None else np.zeros(d, dtype=bool)
    ax.set_yticks(range(d), [f"{name}{' *' if on else ''}" for name, on in zip(latents, marks, strict=True)])
    ax.set_xticks(range(k), list(factor_names), rotation=30, ha="right")
    for boundary in np.cumsum(ladder_dims)[:-1]:
        ax.axhline(boundary - 0.5, color="white", lw=2.0)
    ax.tick_params(labelsize=8)
    ax.set_xlabel("factor")
    ax.set_ylabel("latent (* = active)")
    fig.colorbar(image, ax=ax, label="MI / H(factor)")
    ax.set_title(title or "MI(latent; factor) / H(factor); white lines separate ladders", fontsize=9)
    return fig


def format_value(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """A readable ``report.md`` from a `plain_json`-ed report."""
    model, data = report.get("model", {}), report.get("data", {})
    rec, kl = report["reconstruction"], report["kl"]
    lines = ["# absaction evaluate", ""]
    if model or data:
        lines += [
            f"- model: `{model.get('run_dir')}` ({model.get('name')}, ladders {model.get('ladder_dims')}, "
            f"sequence length {model.get('seq_len')}, env {model.get('env_id')})",
            f"- data: `{data.get('path')}` ({data.get('episodes')} episodes, {report['sequences']} sequences "
            f"of {data.get('window_length') or 'variable'} steps, env {data.get('env_id')})",
            "",
        ]
    lines += [
        "## Reconstruction (posterior means decoded)",
        "",
        "| MSE (action units) | RMSE | end-point error | NLL (nats / sequence, sigma) | training loss term |",
        "| --- | --- | --- | --- | --- |",
        f"| {format_value(rec['mse'], 5)} | {format_value(rec['rmse'], 4)} "
        f"| {format_value(rec['endpoint_error'], 4)} "
        f"({rec['endpoint_units']}) | {format_value(rec['nll'], 2)} (sigma {format_value(rec['sigma'])}) "
        f"| {format_value(rec['recon_loss'], 2)} |",
        "",
        f"## KL per latent (nats, mean over the data; active above {kl['active_threshold']:g} nats)",
        "",
        "| latent | ladder | KL | active | variance of mean |",
        "| --- | --- | --- | --- | --- |",
    ]
    flat_kl = [v for ladder in kl["per_dim"] for v in ladder]
    flat_active = [v for ladder in kl["active"] for v in ladder]
    for i, name in enumerate(report["latents"]):
        lines.append(
            f"| {name} | {report['ladder_of_latent'][i]} | {format_value(flat_kl[i])} "
            f"| {'yes' if flat_active[i] else ''} | {format_value(kl['variance_of_means'][i], 4)} |"
        )
    per_ladder = ", ".join(format_value(v) for v in kl["per_ladder"])
    lines += ["", f"KL per ladder: {per_ladder}; active units: {kl['n_active']}", ""]
    m = report.get("metrics")
    if m:
        lines += [
            "## Disentanglement",
            "",
            "| latents | MIG | SAP | DCI disentanglement | DCI completeness | DCI informativeness |",
            "| --- | --- | --- | --- | --- | --- |",
            *[
                f"| {label} | {format_value(mig_value)} | {format_value(sap_value)} | "
                + " | ".join(
                    format_value((dci or {}).get(key))
                    for key in ("disentanglement", "completeness", "informativeness")
                )
                + " |"
                for label, mig_value, sap_value, dci in (
                    ("all", m["mig"], m["sap"], m["dci"]),
                    ("active units", m["mig_active"], m["sap_active"], m["dci_active"]),
                )
            ],
            "",
            "Per factor (MIG over all latents and over the active units, the latent that holds the most "
            "information about the factor and its ladder; SAP and DCI over all latents):",
            "",
            "| factor | H (nats) | MIG | latent (ladder) | active-unit MIG | latent (ladder) | SAP | "
            "DCI completeness | DCI informativeness |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in m["per_factor"]:
            active_latent = "none"
            if row["latent_active"]:
                active_latent = f"{row['latent_active']} ({row['ladder_active']})"
            lines.append(
                f"| {row['factor']} | {format_value(row['entropy'])} | {format_value(row['mig'])} "
                f"| {row['latent']} ({row['ladder']}) | {format_value(row['mig_active'])} | {active_latent} "
                f"| {format_value(row['sap'])} "
                f"| {format_value(row['dci_completeness'])} | {format_value(row['dci_informativeness'])} |"
            )
        lines += [
            "",
            f"![latent x factor mutual information]({HEATMAP_FILE})",
            "",
            "How to read it: MIG (Chen et al. 2018) is the gap between the two latents that share the most "
            "information with a factor, over the factor's entropy. The estimator bins each latent mean into "
            f"{m['n_bins']} equal-width bins over its own range, so it ignores scale: a collapsed (inactive) "
            "latent whose mean barely moves can still look informative. The active-unit scores let only "
            "active latents compete; a large difference between the two rows means inactive latents fake "
            "information. SAP (Kumar et al. 2018): held-out accuracy of the best single latent minus the "
            "second best (1-D nearest-class-mean classifier). DCI (Eastwood & Williams 2018): from the "
            "importance of each latent in an additive cubic least-squares model of each factor.",
            "",
        ]
    if report["notes"]:
        lines += ["## Notes", "", *[f"- {note}" for note in report["notes"]], ""]
    return "\n".join(lines)


def write_report(
    report: dict[str, Any], out_dir: str | os.PathLike[str], ladder_dims: Sequence[int]
) -> list[Path]:
    """Write ``report.json``, ``report.md`` and (with factors) ``mi_heatmap.png`` into ``out_dir``
    (an existing folder, usually the temporary one of `absaction.files.atomic_dir`)."""
    out = Path(out_dir)
    written = []
    m = report.get("metrics")
    if m:
        flat_active = np.concatenate([np.asarray(a, dtype=bool) for a in report["kl"]["active"]])
        fig = mi_heatmap(
            m["mutual_info"], m["entropy"], report["latents"], m["factors"], ladder_dims, flat_active
        )
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=150)
        atomic_write_bytes(out / HEATMAP_FILE, buffer.getvalue())
        report["files"] = {"heatmap": HEATMAP_FILE}
        written.append(out / HEATMAP_FILE)
    plain = plain_json(report)
    atomic_write_json(out / REPORT_JSON, plain)
    atomic_write_text(out / REPORT_MD, render_markdown(plain))
    return [out / REPORT_JSON, out / REPORT_MD, *written]
