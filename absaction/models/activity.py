"""When a latent dimension counts as *active*: one threshold on its mean KL, shared by the models
(:meth:`~absaction.models.base.ActionVAE.active_dims`), the metrics
(:func:`~absaction.analysis.metrics.active_units`) and the CLI defaults. No torch here, so a parser can
show the default before torch is imported."""

from __future__ import annotations

ACTIVE_KL_THRESHOLD = 0.01
"""Mean KL (nats) above which a latent dimension counts as active (the default of every threshold).

A latent dimension's mean KL over the data upper-bounds the information it carries about the input
(mean KL = I(x; z_d) + KL(q(z_d) || p(z_d)) >= I(x; z_d)). Telling two equally likely values of a
factor apart needs ln 2 = 0.69 nats, so a dimension below 0.01 nats (1.4 % of that) cannot carry any
factor, while with beta = 100 collapsed dimensions settle orders of magnitude below it and active
ones well above 1 nat: the threshold separates the two groups without tuning."""
