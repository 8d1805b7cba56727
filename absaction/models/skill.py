"""Skills: short-horizon, state-conditioned action models with a learned prior p(z | s) (SPiRL / OPAL style).

A skill is H steps of behaviour named by one latent z:

- posterior ``q(z | s_{t:t+H}, a_{t:t+H})``: a GRU (default), an MLP, or the TCVLAE's convolutional
  ladder (``ladder``) over the window of skill observations and actions;
- decoder, ``closed`` (default): ``pi(a_t | s_t, z)``, an MLP on the *current* skill observation and z,
  applied at every step (so the state corrects the motion, as SPiRL's second version and OPAL found
  necessary); ``open``: z -> all H actions at once (the latent chunks' design, for comparison);
- prior ``p(z | s_t)``: a Gaussian MLP on the first skill observation of the window, trained beside the
  posterior on ``KL(sg(q) || p)``: the posterior's parameters are detached in that term, so fitting the
  prior never moves the encoder.

**Frames** (``frame``): with ``absolute`` (default) the posterior and the decoder see the skill
observation s_t; with ``relative`` they see s_t - s_0, what changed since the skill began, and only the
prior sees s_0 itself. A relative skill is the same motion wherever it starts, so it transfers to places
no demonstration visited (Reach2D's chain of goals runs past the data's workspace), at the price of not
knowing where it is (walls at fixed places are the prior's and the agent's business then). The
normalised relative input is ``(s_t - s_0) / obs_std``: the difference of the two normalised states.

**Ladder skills** (``encoder="ladder"``, several ``ladder_dims``): z is the ladders concatenated, ladder 1
(nearest the input, the concrete one) first and the top (abstract) ladder last. The prior is factored as
``p(z_top | s) p(z_lower | s, z_top)`` (``z_lower``: every ladder below the top, one Gaussian), so an agent
may choose only ``z_top`` and take the rest from :meth:`SkillModel.complete_z`. In training the lower
factor is conditioned on the posterior's sampled (and detached) ``z_top``, so the prior's KL is a one-sample
estimate of ``KL(q_top || p_top) + E_{q_top} KL(q_lower || p_lower(. | s, z_top))``. A flat model has one
ladder (``ladder_dims == [z_dim]``, no lower factor).

Loss per window (see :func:`skill_loss`)::

    sum_{t,a} (a - a_hat)^2 / (2 sigma^2) + capacity(KL(q || N(0, I)) per ladder, beta)
        + prior_weight * KL(sg(q) || p)

(the capacity schedules of :mod:`absaction.models.capacity`; ``none`` is ``beta * KL``).

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

from absaction.errors import AbsactionError, check_choice
from absaction.models.base import ActionVAE, ModelConfig, reparameterize
from absaction.models.capacity import Capacity
from absaction.models.configs import SKILL_DECODERS, SKILL_ENCODERS, SKILL_FRAMES
from absaction.models.losses import gaussian_nll, kl_normal
from absaction.models.tcvlae import conv_ladder_encode, conv_ladder_encoder


@dataclasses.dataclass
class SkillConfig(ModelConfig):
    """Options of a skill model (``seq_len`` is the horizon H)."""

    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [8])
    """latent size of every ladder, ladder 1 (concrete) first, the top last; ``[z_dim]`` unless
    ``encoder="ladder"``"""
    obs_dim: int = 2
    """size O of the skill observation"""
    skill_obs: list[str] = dataclasses.field(default_factory=list)
    """names of the skill-observation columns (e.g. ``["x", "y"]``)"""
    skill_indices: list[int] = dataclasses.field(default_factory=list)
    """their indices in the flat full observation (empty = the first ``obs_dim`` columns)"""
    obs_fields: list[str] = dataclasses.field(default_factory=list)
    """names of every column of the full observation the model was trained on (its layout)"""
    encoder: str = "gru"
    """posterior network over the window: gru | mlp | ladder (the TCVLAE's convolutional ladder)"""
    decoder: str = "closed"
    """closed: pi(a_t | s_t, z) at every step | open: z -> H actions"""
    frame: str = "absolute"
    """what the posterior and the closed-loop decoder see of the skill observation: ``absolute`` s_t, or
    ``relative`` s_t - s_0, the change since the skill began (the prior always sees s_0 itself)"""
    hidden_size: int = 128
    """units of every hidden layer"""
    prior_layers: int = 3
    """hidden layers of the prior MLP p(z | s) (and of p(z_lower | s, z_top))"""
    channels: int = 16
    """ladder encoder: channels of the first convolution (each further one doubles them)"""
    layers_per_ladder: int = 1
    """ladder encoder: convolutions before ladder 1 and between two ladders"""

    def validate(self) -> None:
        super().validate()
        if self.seq_len is None or self.seq_len < 1:
            raise AbsactionError(
                f"a skill model needs a horizon >= 1, got {self.seq_len}", "pass --horizon 1 or more"
            )
        if len(self.ladder_dims) != 1 and self.encoder != "ladder":
            raise AbsactionError(
                f"a {self.encoder} skill encoder has one latent group, got ladder sizes {self.ladder_dims}",
                "pass --z-dim 8, or --skill-encoder ladder for ladders",
            )
        check_choice(self.encoder, SKILL_ENCODERS, "skill encoder")
        check_choice(self.decoder, SKILL_DECODERS, "skill decoder")
        check_choice(self.frame, SKILL_FRAMES, "skill frame")
        for name in ("obs_dim", "hidden_size", "prior_layers", "channels", "layers_per_ladder"):
            if getattr(self, name) < 1:
                raise AbsactionError(
                    f"{name} must be >= 1, got {getattr(self, name)}", f"pass {name}=1 or more"
                )
        if self.skill_indices and len(self.skill_indices) != self.obs_dim:
            raise AbsactionError(
                f"{len(self.skill_indices)} skill indices for obs_dim {self.obs_dim}", "retrain the model"
            )


def _required_origin(origin: Any) -> Any:
    """``origin``, where a relative-frame skill began; its absence is a caller's mistake (one line)."""
    if origin is None:
        raise AbsactionError(
            "a relative-frame skill acts on the change since the skill began; no origin was given",
            "pass origin= the observation at the skill's first step",
        )
    return origin


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
            config.obs_dim, config.action_dim, sum(config.ladder_dims), config.hidden_size, config.seq_len
        )  # fmt: skip
        assert horizon is not None  # validated
        top = config.ladder_dims[-1]
        self.register_buffer("obs_mean", torch.zeros(obs))
        self.register_buffer("obs_std", torch.ones(obs))
        if config.encoder == "gru":
            self.encoder_rnn = nn.GRU(obs + act, hidden, batch_first=True)
            self.encoder_head = nn.Linear(hidden, 2 * z)
        elif config.encoder == "mlp":
            self.encoder_mlp = _mlp([horizon * (obs + act), hidden, hidden, 2 * z])
        else:  # the TCVLAE's ladder over the window's (observation, action) channels
            self.encoder_convs, self.encoder_heads, self._depths = conv_ladder_encoder(
                obs + act, horizon, config.channels, config.ladder_dims, config.layers_per_ladder
            )
            self.encoder_activation = nn.ELU()
        if config.decoder == "closed":
            self.decoder_mlp = _mlp([obs + z, hidden, hidden, act])
        else:
            self.decoder_mlp = _mlp([z, hidden, hidden, horizon * act])
        # p(z_top | s); for a flat model the top is all of z
        self.prior_mlp = _mlp([obs] + [hidden] * config.prior_layers + [2 * top])
        if z > top:  # p(z_lower | s, z_top)
            self.prior_lower_mlp = _mlp([obs + top] + [hidden] * config.prior_layers + [2 * (z - top)])

    # ----------------------------------------------------------------------------- properties
    @property
    def horizon(self) -> int:
        """Steps H of one skill."""
        assert self.config.seq_len is not None
        return self.config.seq_len

    @property
    def z_dim(self) -> int:
        """Size of the whole skill latent (every ladder)."""
        return sum(self.config.ladder_dims)

    @property
    def top_dim(self) -> int:
        """Size of the top (abstract) ladder, the last ``top_dim`` entries of z (all of z when flat)."""
        return self.config.ladder_dims[-1]

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

    @property
    def relative(self) -> bool:
        """Whether the posterior and the decoder see s_t - s_0 (``frame="relative"``)."""
        return self.config.frame == "relative"

    # ----------------------------------------------------------------------- normalised networks
    def _framed(self, obs_n: Tensor) -> Tensor:
        """Normalised windows (B, H, O) as the posterior and decoder see them: as given, or minus their
        first step (relative frame; (s_t - s_0) / std is the difference of the normalised states)."""
        return obs_n - obs_n[:, :1] if self.relative else obs_n

    def posterior_normalized(self, obs_n: Tensor, act_n: Tensor) -> tuple[Tensor, Tensor]:
        """``(mean, logvar)``, each (B, z), of normalised windows (B, H, O) and (B, H, A)."""
        x = torch.cat([self._framed(obs_n), act_n], dim=-1)  # (B, H, O + A)
        if self.config.encoder == "ladder":
            ladders = conv_ladder_encode(
                self.encoder_convs, self.encoder_heads, self._depths, self.encoder_activation, x
            )  # [((B, d_l), (B, d_l)) per ladder] -> (B, z) each, ladder 1 first
            return torch.cat([m for m, _ in ladders], dim=-1), torch.cat([lv for _, lv in ladders], dim=-1)
        if self.config.encoder == "gru":
            _, last = self.encoder_rnn(x)  # (1, B, hidden)
            stats = self.encoder_head(last[0])
        else:
            stats = self.encoder_mlp(x.flatten(1))  # (B, H (O + A)) -> (B, 2z)
        mean, logvar = stats.chunk(2, dim=-1)
        return mean, logvar

    def prior_normalized(self, obs_n: Tensor, z_top: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Prior ``(mean, logvar)``, each (B, z), at normalised skill observations (B, O).

        With ladders the lower part is ``p(z_lower | s, z_top)`` at the given ``z_top`` (B, top_dim), or
        at the top prior's mean when None."""
        top_mean, top_logvar = self.prior_mlp(obs_n).chunk(2, dim=-1)  # (B, top) each
        if self.z_dim == self.top_dim:
            return top_mean, top_logvar
        lower_mean, lower_logvar = self.prior_lower_normalized(obs_n, top_mean if z_top is None else z_top)
        return torch.cat([lower_mean, top_mean], dim=-1), torch.cat([lower_logvar, top_logvar], dim=-1)

    def prior_lower_normalized(self, obs_n: Tensor, z_top: Tensor) -> tuple[Tensor, Tensor]:
        """``p(z_lower | s, z_top)`` as ``(mean, logvar)``, each (B, z - top_dim); (B, 0) when flat."""
        if self.z_dim == self.top_dim:
            empty = obs_n.new_zeros(obs_n.shape[0], 0)
            return empty, empty
        mean, logvar = self.prior_lower_mlp(torch.cat([obs_n, z_top], dim=-1)).chunk(2, dim=-1)
        return mean, logvar

    def decode_window_normalized(self, obs_n: Tensor, z: Tensor) -> Tensor:
        """Normalised actions (B, H, A): closed loop on the given states (B, H, O), the first being the
        skill's start, or open loop from z."""
        if self.config.decoder == "closed":
            zs = z[:, None, :].expand(-1, obs_n.shape[1], -1)  # (B, z) -> (B, H, z)
            return self.decoder_mlp(torch.cat([self._framed(obs_n), zs], dim=-1))  # (B, H, A)
        return self.decoder_mlp(z).view(z.shape[0], self.horizon, self.action_dim)

    def skill_forward(
        self, obs_n: Tensor, act_n: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """One training pass: ``(a_hat_n (B, H, A), posterior (mean, logvar), prior (mean, logvar))``; with
        ladders the prior's lower part is conditioned on the sampled ``z_top``, detached (the
        stop-gradient)."""
        mean, logvar = self.posterior_normalized(obs_n, act_n)
        z = reparameterize(mean, logvar, generator)
        prior = self.prior_normalized(obs_n[:, 0], z[:, self.z_dim - self.top_dim :].detach())
        return self.decode_window_normalized(obs_n, z), (mean, logvar), prior

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
    def prior(
        self, skill_obs: Tensor | np.ndarray, z_top: Tensor | np.ndarray | None = None
    ) -> tuple[Tensor, Tensor]:
        """Prior ``(mean, sigma)``, each (B, z), at skill observations (B, O), environment units. With
        ladders the lower part is conditioned on ``z_top`` (B, top_dim), by default the top prior's mean."""
        top = None if z_top is None else self._top(z_top)
        mean, logvar = self.prior_normalized(self.normalize_obs(skill_obs), top)
        return mean, torch.exp(0.5 * logvar)

    @torch.no_grad()
    def prior_top(self, skill_obs: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """``p(z_top | s)`` as ``(mean, sigma)``, each (B, top_dim), at skill observations (B, O); the
        whole prior for a flat model."""
        mean, logvar = self.prior_mlp(self.normalize_obs(skill_obs)).chunk(2, dim=-1)
        return mean, torch.exp(0.5 * logvar)

    @torch.no_grad()
    def prior_lower(
        self, skill_obs: Tensor | np.ndarray, z_top: Tensor | np.ndarray
    ) -> tuple[Tensor, Tensor]:
        """``p(z_lower | s, z_top)`` as ``(mean, sigma)``, each (B, z_dim - top_dim): the ladders below the
        top, ladder 1 first, at skill observations (B, O) and chosen ``z_top`` (B, top_dim); (B, 0) flat."""
        mean, logvar = self.prior_lower_normalized(self.normalize_obs(skill_obs), self._top(z_top))
        return mean, torch.exp(0.5 * logvar)

    @torch.no_grad()
    def complete_z(self, skill_obs: Tensor | np.ndarray, z_top: Tensor | np.ndarray) -> Tensor:
        """The whole z (B, z_dim) for a chosen top ladder: the lower ladders at the conditional prior's
        mean ``E[z_lower | s, z_top]``, then ``z_top`` (B, top_dim); z_top itself for a flat model."""
        top = self._top(z_top)
        lower, _ = self.prior_lower_normalized(self.normalize_obs(skill_obs), top)
        return torch.cat([lower, top], dim=-1)

    def _top(self, z_top: Tensor | np.ndarray) -> Tensor:
        top = self._tensor(z_top)
        if top.shape[-1] != self.top_dim:
            raise AbsactionError(
                f"z_top has {top.shape[-1]} entries, the model's top ladder {self.top_dim}",
                f"pass (B, {self.top_dim}) (ladder sizes {self.ladder_dims}, the top last)",
            )
        return top

    @torch.no_grad()  # not inference_mode: callers may mix the action into autograd (a residual's loss)
    def decode_step(
        self,
        skill_obs: Tensor | np.ndarray,
        z: Tensor | np.ndarray,
        origin: Tensor | np.ndarray | None = None,
    ) -> Tensor:
        """The closed-loop action (B, A), environment units (not clipped), at skill observations (B, O).

        ``origin`` (B, O): the skill observation where the skill began; a relative-frame model needs it
        (it acts on ``skill_obs - origin``), an absolute one ignores it. For one action at a time in an
        environment loop :meth:`step_decoder` is several times faster."""
        if self.config.decoder != "closed":
            raise AbsactionError(
                "an open-loop skill has no per-step decoder", "call decode_window(observations, z)"
            )
        obs_n = self.normalize_obs(skill_obs)
        if self.relative:
            obs_n = obs_n - self.normalize_obs(_required_origin(origin))
        inputs = torch.cat([obs_n, self._tensor(z)], dim=-1)
        return self.normalizer.inverse(self.decoder_mlp(inputs))

    def step_decoder(self, full_observation: bool = False) -> StepDecoder:
        """A NumPy copy of the closed-loop decoder for acting one step at a time (see :class:`StepDecoder`):
        a snapshot of the current weights, with the normalisations folded in. ``full_observation``: it
        takes the env's whole flat observation (D,) and picks the skill columns itself."""
        if self.config.decoder != "closed":
            raise AbsactionError(
                "an open-loop skill has no per-step decoder", "call decode_window(observations, z)"
            )
        return StepDecoder(self, full_observation)

    @torch.no_grad()
    def decode_window(self, observations: Tensor | np.ndarray, z: Tensor | np.ndarray) -> Tensor:
        """Actions (B, H, A): closed loop on recorded skill observations (B, H, O), or open loop."""
        obs_n = self.normalize_obs(observations)
        return self.normalizer.inverse(self.decode_window_normalized(obs_n, self._tensor(z)))


class StepDecoder:
    """The closed-loop decoder ``pi(a | s, z)`` as plain NumPy, for one action per call.

    The observation standardisation is folded into the first layer
    (``W (s - m) / sd = (W / sd) s - W m / sd``,
    for a relative-frame model the mean term cancels (``W (s - s_0) / sd``, the origin passed per call),
    and with ``full_observation`` the skill columns are scattered into a matrix over the whole observation,
    the other columns' weights 0), the action de-standardisation into the last (``sd_a (W h + b) + m_a``), and
    every array is float32 and contiguous, so a call is three small matrix-vector products and two ReLUs with
    no torch dispatch (torch's per-call overhead is most of the cost at this size).

    Example:
        >>> import numpy as np
        >>> model = SkillModel(SkillConfig(action_dim=2, seq_len=4, obs_dim=3, ladder_dims=[2]))
        >>> step = model.step_decoder()
        >>> obs, z = np.ones(3, np.float32), np.zeros(2, np.float32)
        >>> bool(np.allclose(step(obs, z), model.decode_step(obs[None], z[None])[0].numpy(), atol=1e-5))
        True
    """

    def __init__(self, model: SkillModel, full_observation: bool = False) -> None:
        linears = [m for m in model.decoder_mlp if isinstance(m, nn.Linear)]
        weights = [lin.weight.detach().double().cpu().numpy() for lin in linears]  # (out, in) each
        biases = [lin.bias.detach().double().cpu().numpy() for lin in linears]
        obs_dim = model.obs_dim
        mean = model.obs_mean.double().cpu().numpy()
        std = model.obs_std.double().cpu().numpy()
        w_obs = weights[0][:, :obs_dim] / std  # (h, O)
        self.relative = model.relative
        """whether a call needs the skill's origin (a relative-frame model)"""
        if not self.relative:
            biases[0] = biases[0] - w_obs @ mean
        if full_observation:
            fields = model.config.obs_fields
            width = len(fields) if fields else max(model.skill_obs_layout["indices"]) + 1
            scattered = np.zeros((w_obs.shape[0], width))
            scattered[:, model.skill_obs_layout["indices"]] = w_obs
            w_obs = scattered  # (h, D)
        self.obs_width = int(w_obs.shape[1])
        """columns of the observation a call takes (O, or D with ``full_observation``)"""
        action_mean, action_std = model.normalizer.mean, model.normalizer.std
        weights[-1] = weights[-1] * action_std[:, None]
        biases[-1] = biases[-1] * action_std + action_mean
        f32 = np.float32
        self._w_obs = np.ascontiguousarray(w_obs.T, f32)  # (O or D, h): x @ W^T
        self._w_z = np.ascontiguousarray(weights[0][:, obs_dim:].T, f32)  # (z, h)
        self._hidden = [
            (np.ascontiguousarray(w.T, f32), b.astype(f32))
            for w, b in zip(weights[1:], biases[1:], strict=True)
        ]
        self._b0 = biases[0].astype(f32)

    def __call__(
        self, observation: np.ndarray, z: np.ndarray, origin: np.ndarray | None = None
    ) -> np.ndarray:
        """The action (A,) or (B, A), environment units (not clipped), at an observation (O,) or (B, O)
        (the whole observation with ``full_observation``) and skill latent (z,) or (B, z), float32;
        ``origin``, shaped like ``observation``, is where the skill began (needed by a relative frame)."""
        if self.relative:
            observation = observation - _required_origin(origin)
        h = observation @ self._w_obs
        h += z @ self._w_z
        h += self._b0
        for weight, bias in self._hidden:
            np.maximum(h, 0.0, out=h)  # ReLU between the layers, none after the last
            h = h @ weight
            h += bias
        return h


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
    kl_ladders: Tensor
    """(L,) KL(q || N(0, I)) of every ladder"""
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
    capacity: Capacity | None = None,
) -> SkillLoss:
    """``recon + beta * KL(q || N(0, I)) + prior_weight * KL(sg(q) || p)`` of normalised windows; with a
    ``capacity`` schedule the KL term is ``capacity.penalty(KL per ladder, beta)`` instead."""
    act_hat, (mean, logvar), (prior_mean, prior_logvar) = model.skill_forward(obs_n, act_n, generator)
    recon = gaussian_nll(act_n, act_hat, sigma, include_constant=False)
    kl_dims = kl_normal(mean, logvar).mean(dim=0)  # (z,)
    kl_ladders = torch.stack([part.sum() for part in kl_dims.split(model.ladder_dims)])  # (L,)
    # the stop-gradient: the prior follows the posterior, never the other way round
    prior_kl = kl_gaussians(mean.detach(), logvar.detach(), prior_mean, prior_logvar).sum(dim=1).mean()
    penalty = beta * kl_dims.sum() if capacity is None else capacity.penalty(kl_ladders, beta)
    loss = recon + penalty + prior_weight * prior_kl
    return SkillLoss(loss, recon, kl_dims, kl_ladders, prior_kl)
