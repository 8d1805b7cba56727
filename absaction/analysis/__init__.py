"""Look inside a trained action VAE: disentanglement metrics, latent traversals, evaluation reports.

- `absaction.analysis.metrics` — MIG (all latents and active units), SAP, DCI, the latent x factor
  mutual-information matrix and the active-unit test, all on plain NumPy arrays.
- `absaction.analysis.traversal` — the paper's Fig. 4: decode a sequence with one latent swept over a
  range and draw the 2-D paths.
- `absaction.analysis.report` — `evaluate_model` (reconstruction, KL, metrics) and the report writer
  behind ``absaction evaluate``.
- `absaction.analysis.paths` — `plot_paths`, a dataset's paths (the paper's Fig. 3), and
  `plot_action_series`, actions over time for actions that trace no 2-D path.
- `absaction.analysis.skills` and `absaction.analysis.skill_report` — a skill model's evaluation:
  reconstruction, the prior's NLL, prior rollouts, traversal figures, and its report.

Names are imported lazily: ``import absaction.analysis`` pulls in neither matplotlib nor torch; the first
access to a figure or model function does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

# public name -> module that defines it (resolved on first access, PEP 562)
_LAZY: dict[str, str] = {
    # metrics (NumPy only)
    "ACTIVE_KL_THRESHOLD": "absaction.models.activity",
    "DEFAULT_BINS": "absaction.analysis.metrics",
    "active_units": "absaction.analysis.metrics",
    "dci": "absaction.analysis.metrics",
    "discretize": "absaction.analysis.metrics",
    "factor_entropies": "absaction.analysis.metrics",
    "mig": "absaction.analysis.metrics",
    "mutual_information_matrix": "absaction.analysis.metrics",
    "sap": "absaction.analysis.metrics",
    # traversal figures (torch + matplotlib)
    "active_grid": "absaction.analysis.traversal",
    "save_figure": "absaction.analysis.traversal",
    "traverse_latent": "absaction.analysis.traversal",
    "traversal_figure": "absaction.analysis.traversal",
    # evaluation report (torch + matplotlib)
    "encode_means": "absaction.analysis.report",
    "evaluate_model": "absaction.analysis.report",
    "mi_heatmap": "absaction.analysis.report",
    "write_report": "absaction.analysis.report",
    # dataset figure (owned by the data pipeline)
    "plot_paths": "absaction.analysis.paths",
}

__all__ = [
    "ACTIVE_KL_THRESHOLD",
    "DEFAULT_BINS",
    "active_grid",
    "active_units",
    "dci",
    "discretize",
    "encode_means",
    "evaluate_model",
    "factor_entropies",
    "mi_heatmap",
    "mig",
    "mutual_information_matrix",
    "plot_paths",
    "sap",
    "save_figure",
    "traversal_figure",
    "traverse_latent",
    "write_report",
]

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.analysis.metrics import (
        DEFAULT_BINS,
        active_units,
        dci,
        discretize,
        factor_entropies,
        mig,
        mutual_information_matrix,
        sap,
    )
    from absaction.analysis.paths import plot_paths
    from absaction.analysis.report import encode_means, evaluate_model, mi_heatmap, write_report
    from absaction.analysis.traversal import active_grid, save_figure, traversal_figure, traverse_latent
    from absaction.models.activity import ACTIVE_KL_THRESHOLD


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
