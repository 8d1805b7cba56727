"""Skills: short-horizon, state-conditioned action models with a learned prior p(z | s) (SPiRL / OPAL style).

A skill is H steps of behaviour named by one latent z:

- posterior ``q(z | s_{t:t+H}, a_{t:t+H})``: a GRU (default) or an MLP over the window of skill
  observations and actions;
- decoder, ``closed`` (default): ``pi(a_t | s_t, z)``, an MLP on the *current* skill observation and z,
  applied at every step (so the state corrects the motion, as SPiRL's second version and OPAL found
  necessary); ``open``: z -> all H actions at once (the latent chunks' design, for comparison);
- prior ``p(z | s_t)``: a Gaussian MLP on the first skill observation of the window, trained beside the
  posterior on ``KL(sg(q) || p)``: the posterior's parameters are detached in that term, so fitting the
  prior never moves the encoder.

Loss per window (see :func:`skill_loss`)::

    sum_{t,a} (a - a_hat)^2 / (2 sigma^2) + beta * KL(q || N(0, I)) + prior_weight * KL(sg(q) || p)

Actions are standardised by the model's :class:`~absaction.data.Normalizer`, skill observations by its
``obs_mean`` / ``obs_std`` buffers (saved with the weights); every public method takes and returns
environment units.

>>> import torch
>>> from absaction.models.skill import SkillConfig, SkillModel
>>> model = SkillModel(SkillConfig(action_dim=2, seq_len=10, obs_dim=3, ladder_dims=[4]))
>>> obs, act = torch.randn(5, 10, 3), torch.randn(5, 10, 2)
>>> mu, logvar = model.encode_windows(obs, act)
>>> prior_mu, prior_sigma = model.prior(obs[:, 0])
>>> tuple(mu.shape), tuple(prior_sigma.shape), tuple(model.decode_step(obs[:, 0], mu).shape)
((5, 4), (5, 4), (5, 2))
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from absaction.errors import AbsactionError
from absaction.models.base import ActionVAE, ModelConfig, reparameterize
from absaction.models.losses import gaussian_nll, kl_normal

SKILL_ENCODERS: tuple[str, ...] = ("gru", "mlp")
SKILL_DECODERS: tuple[str, ...] = ("closed", "open")


@dataclasses.dataclass
class SkillConfig(ModelConfig):
    """Options of a skill model (``seq_len`` is the horizon H; ``ladder_dims`` is ``[z_dim]``)."""

    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [8])
    """``[z_dim]``: the size of the skill latent (one group)"""
    obs_dim: int = 2
    """size O of the skill observation"""
    skill_obs: list[str] = dataclasses.field(default_factory=list)
    """names of the skill-observation columns (e.g. ``["x", "y"]``)"""
    skill_indices: list[int] = dataclasses.field(default_factory=list)
    """their indices in the flat full observation (empty = the first ``obs_dim`` columns)"""
    obs_fields: list[str] = dataclasses.field(default_factory=list)
    """names of every column of the full observation the model was trained on (its layout)"""
    encoder: str = "gru"
    """posterior network over the window: gru | mlp"""
    decoder: str = "closed"
    """closed: pi(a_t | s_t, z) at every step | open: z -> H actions"""
    hidden_size: int = 128
    """units of every hidden layer"""
    prior_layers: int = 3
    """hidden layers of the prior MLP p(z | s)"""

    def validate(self) -> None:
        super().validate()
        if self.seq_len is None or self.seq_len < 1:
            raise AbsactionError(
                f"a skill model needs a horizon >= 1, got {self.seq_len}", "pass --horizon 10"
            )
        if len(self.ladder_dims) != 1:
            raise AbsactionError(
                f"a skill model has one latent group, got ladder sizes {self.ladder_dims}", "pass --z-dim 8"
            )
        if self.encoder not in SKILL_ENCODERS:
            raise AbsactionError(
                f"unknown skill encoder {self.encoder!r}", f"choose {' | '.join(SKILL_ENCODERS)}"
            )
        if self.decoder not in SKILL_DECODERS:
            raise AbsactionError(
                f"unknown skill decoder {self.decoder!r}", f"choose {' | '.join(SKILL_DECODERS)}"
            )
        for name in ("obs_dim", "hidden_size", "prior_layers"):
            if getattr(self, name) < 1:
                raise AbsactionError(
                    f"{name} must be >= 1, got {getattr(self, name)}", f"pass {name}=1 or more"
                )
        if self.skill_indices and len(self.skill_indices) != self.obs_dim:
            raise AbsactionError(
                f"{len(self.skill_indices)} skill indices for obs_dim {self.obs_dim}", "retrain the model"
            )


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of ``sizes`` with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SkillModel(ActionVAE):
    """Skill posterior, closed- or open-loop decoder and state-conditioned prior (see the module)."""

    name = "skill"
    config_class = SkillConfig
    config: SkillConfig
    obs_mean: Tensor
    obs_std: Tensor

    def __init__(self, config: SkillConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        obs, act, z, hidden, horizon = (
            config.obs_dim, config.action_dim, config.ladder_dims[0], config.hidden_size, config.seq_len
        )  # fmt: skip
        assert horizon is not None  # validated
        self.register_buffer("obs_mean", torch.zeros(obs))
        self.register_buffer("obs_std", torch.ones(obs))
        if config.encoder == "gru":
            self.encoder_rnn = nn.GRU(obs + act, hidden, batch_first=True)
            self.encoder_head = nn.Linear(hidden, 2 * z)
        else:
            self.encoder_mlp = _mlp([horizon * (obs + act), hidden, hidden, 2 * z])
        if config.decoder == "closed":
            self.decoder_mlp = _mlp([obs + z, hidden, hidden, act])
        else:
            self.decoder_mlp = _mlp([z, hidden, hidden, horizon * act])
        self.prior_mlp = _mlp([obs] + [hidden] * config.prior_layers + [2 * z])

    # ----------------------------------------------------------------------------- properties
    @property
    def horizon(self) -> int:
        """Steps H of one skill."""
        assert self.config.seq_len is not None
        return self.config.seq_len

    @property
    def z_dim(self) -> int:
        return self.config.ladder_dims[0]

    @property
    def obs_dim(self) -> int:
        return self.config.obs_dim

    @property
    def skill_obs_layout(self) -> dict[str, list[Any]]:
        """``{"names": skill columns, "indices": their indices in the full observation, "obs_fields": the
        full observation's columns}``: what an env's observation must match."""
        indices = self.config.skill_indices or list(range(self.obs_dim))
        return {
            "names": list(self.config.skill_obs),
            "indices": indices,
            "obs_fields": list(self.config.obs_fields),
        }

    def set_obs_normalizer(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Skill-observation statistics ``(O,)`` (a std near 0 becomes 1: that column is only centred)."""
        std = np.where(np.asarray(std) > 1e-6, std, 1.0)
        self.obs_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.obs_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    # ----------------------------------------------------------------------- normalised networks
    def posterior_normalized(self, obs_n: Tensor, act_n: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean, logvar)``, each (B, z), of normalised windows (B, H, O) and (B, H, A)."""
        x = torch.cat([obs_n, act_n], dim=-1)  # (B, H, O + A)
        if self.config.encoder == "gru":
            _, last = self.encoder_rnn(x)  # (1, B, hidden)
            stats = self.encoder_head(last[0])
        else:
            stats = self.encoder_mlp(x.flatten(1))  # (B, H (O + A)) -> (B, 2z)
        mean, logvar = stats.chunk(2, dim=-1)
        return mean, logvar

    def prior_normalized(self, obs_n: Tensor) -> tuple[Tensor, Tensor]:
        """Prior ``(mean, logvar)``, each (B, z), at normalised skill observations (B, O)."""
        mean, logvar = self.prior_mlp(obs_n).chunk(2, dim=-1)
        return mean, logvar

    def decode_window_normalized(self, obs_n: Tensor, z: Tensor) -> Tensor:
        """Normalised actions (B, H, A): closed loop on the given states (B, H, O), or open loop from z."""
        if self.config.decoder == "closed":
            zs = z[:, None, :].expand(-1, obs_n.shape[1], -1)  # (B, z) -> (B, H, z)
            return self.decoder_mlp(torch.cat([obs_n, zs], dim=-1))  # (B, H, A)
        return self.decoder_mlp(z).view(z.shape[0], self.horizon, self.action_dim)

    def skill_forward(
        self, obs_n: Tensor, act_n: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """One training pass: ``(a_hat_n (B, H, A), posterior (mean, logvar), prior (mean, logvar))``."""
        mean, logvar = self.posterior_normalized(obs_n, act_n)
        z = reparameterize(mean, logvar, generator)
        return self.decode_window_normalized(obs_n, z), (mean, logvar), self.prior_normalized(obs_n[:, 0])

    # ActionVAE's action-only interface: a skill needs the states, so these say which methods to use
    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        raise AbsactionError(
            "a skill model encodes windows of (observation, action)",
            "call encode_windows(observations, actions)",
        )

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        if self.config.decoder == "closed":
            raise AbsactionError(
                "a closed-loop skill decodes one step at a time from the state",
                "call decode_step(skill_obs, z)",
            )
        return self.decode_window_normalized(torch.empty(0), latents[0])

    # ------------------------------------------------------------------- public (env units)
    def _tensor(self, value: Tensor | np.ndarray) -> Tensor:
        return torch.as_tensor(value, dtype=torch.float32, device=self.obs_mean.device)

    def normalize_obs(self, skill_obs: Tensor | np.ndarray) -> Tensor:
        obs = self._tensor(skill_obs)
        if obs.shape[-1] != self.obs_dim:
            raise AbsactionError(
                f"skill observations have {obs.shape[-1]} columns, the model was trained on {self.obs_dim} "
                f"({', '.join(self.config.skill_obs) or 'unnamed'})",
                "pass the skill observation (skill_observation(obs) selects it from the env's observation)",
            )
        return (obs - self.obs_mean) / self.obs_std

    def skill_observation(self, observation: Tensor | np.ndarray) -> Tensor:
        """The skill columns of full env observations (..., D) -> (..., O)."""
        obs = self._tensor(observation)
        fields = self.config.obs_fields
        if fields and obs.shape[-1] != len(fields):
            raise AbsactionError(
                f"the observation has {obs.shape[-1]} columns, the skill model's data had {len(fields)} "
                f"({', '.join(fields)})",
                "use the environment the skill model was trained on (or one with its observation layout)",
            )
        return obs[..., self.skill_obs_layout["indices"]]

    @torch.no_grad()
    def encode_windows(
        self, observations: Tensor | np.ndarray, actions: Tensor | np.ndarray
    ) -> tuple[Tensor, Tensor]:
        """Posterior ``(mean, logvar)`` (B, z) of windows of skill observations (B, H, O) and actions
        (B, H, A), environment units."""
        act = self._tensor(actions)
        obs_n = self.normalize_obs(observations)
        if (
            act.ndim != 3
            or act.shape[1:] != (self.horizon, self.action_dim)
            or obs_n.shape[:2] != act.shape[:2]
        ):
            raise AbsactionError(
                f"skill windows must be (B, {self.horizon}, {self.obs_dim}) and (B, {self.horizon}, "
                f"{self.action_dim}), got {tuple(obs_n.shape)} and {tuple(act.shape)}",
                "cut windows of the model's horizon (absaction.data.skill_windows)",
            )
        return self.posterior_normalized(obs_n, self.normalizer.transform(act))

    @torch.no_grad()
    def prior(self, skill_obs: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """Prior ``(mean, sigma)``, each (B, z), at skill observations (B, O), environment units."""
        mean, logvar = self.prior_normalized(self.normalize_obs(skill_obs))
        return mean, torch.exp(0.5 * logvar)

    @torch.no_grad()
    def decode_step(self, skill_obs: Tensor | np.ndarray, z: Tensor | np.ndarray) -> Tensor:
        """The closed-loop action (B, A), environment units (not clipped), at skill observations (B, O)."""
        if self.config.decoder != "closed":
            raise AbsactionError(
                "an open-loop skill has no per-step decoder", "call decode_window(observations, z)"
            )
        inputs = torch.cat([self.normalize_obs(skill_obs), self._tensor(z)], dim=-1)
        return self.normalizer.inverse(self.decoder_mlp(inputs))

    @torch.no_grad()
    def decode_window(self, observations: Tensor | np.ndarray, z: Tensor | np.ndarray) -> Tensor:
        """Actions (B, H, A): closed loop on recorded skill observations (B, H, O), or open loop."""
        obs_n = self.normalize_obs(observations)
        return self.normalizer.inverse(self.decode_window_normalized(obs_n, self._tensor(z)))


def kl_gaussians(mean_q: Tensor, logvar_q: Tensor, mean_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL( N(mean_q, e^logvar_q) || N(mean_p, e^logvar_p) ) per sample and dimension (B, d), nats:
    ``0.5 (logvar_p - logvar_q + (e^logvar_q + (mean_q - mean_p)^2) / e^logvar_p - 1)``."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mean_q - mean_p).pow(2)) / logvar_p.exp() - 1.0)


@dataclasses.dataclass
class SkillLoss:
    """The terms of one batch's loss (batch means)."""

    loss: Tensor
    recon: Tensor
    """reconstruction NLL of the actions, nats per window (constant left out)"""
    kl_dims: Tensor
    """(z,) KL(q || N(0, I)) of every dimension"""
    prior_kl: Tensor
    """KL(sg(q) || p(z | s_0)), nats"""


def skill_loss(
    model: SkillModel,
    obs_n: Tensor,
    act_n: Tensor,
    beta: float,
    sigma: float,
    prior_weight: float = 1.0,
    generator: torch.Generator | None = None,
) -> SkillLoss:
    """``recon + beta * KL(q || N(0, I)) + prior_weight * KL(sg(q) || p)`` of normalised windows."""
    act_hat, (mean, logvar), (prior_mean, prior_logvar) = model.skill_forward(obs_n, act_n, generator)
    recon = gaussian_nll(act_n, act_hat, sigma, include_constant=False)
    kl_dims = kl_normal(mean, logvar).mean(dim=0)  # (z,)
    # the stop-gradient: the prior follows the posterior, never the other way round
    prior_kl = kl_gaussians(mean.detach(), logvar.detach(), prior_mean, prior_logvar).sum(dim=1).mean()
    loss = recon + beta * kl_dims.sum() + prior_weight * prior_kl
    return SkillLoss(loss, recon, kl_dims, prior_kl)
