"""Macro actions: one agent decision runs a chunk of primitive steps in the inner env.

:class:`MacroActionWrapper` holds the one piece of logic every macro action shares: execute a chunk of
primitive actions, stop at the first termination or truncation, and turn the primitive rewards into one
macro reward. Subclasses only say how an agent's action becomes a chunk:

- :class:`ActionRepeatWrapper` repeats the action ``k`` times (the temporal-extension baseline),
- :class:`absaction.wrappers.LatentActionWrapper` decodes a latent ``z`` into a learned action sequence.

Reward semantics (the same for both, so that comparisons are fair)
------------------------------------------------------------------
With primitive rewards ``r_0 .. r_{n-1}`` of the ``n <= k`` executed steps, the macro reward is
``sum_i gamma**i * r_i`` (``discount_within_chunk=True``) or the plain sum ``sum_i r_i``. With the
discounted sum, an agent that should optimise the primitive-step return discounted by ``gamma`` must use
``gamma**k`` as *its* discount per decision (semi-MDP discounting); ``info["discount"]`` carries the
exact ``gamma**n`` of the step (``n < k`` only when the episode ended inside the chunk, where no
bootstrapping happens anyway).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError


def require_box(env: gym.Env[Any, Any], wrapper: str) -> gym.spaces.Box:
    """``env``'s action space if it is a 1-D Box with finite bounds (what every macro-action wrapper
    executes); else :class:`AbsactionError` naming ``wrapper`` (the class that needs it) and the fix."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise AbsactionError(
            f"{wrapper} needs an env with a 1-D Box action space, got {space}",
            "macro actions are sequences of continuous actions; use an env with a Box(low, high, (A,))",
        )
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise AbsactionError(
            f"{wrapper} needs finite action bounds, got low={space.low} high={space.high}",
            "wrap the env in gymnasium.wrappers.ClipAction/RescaleAction with finite bounds first",
        )
    return space


class MacroActionWrapper(gym.Wrapper[Any, np.ndarray, Any, np.ndarray]):
    """Base class: one ``step`` executes a chunk of up to ``chunk_steps`` primitive actions.

    Subclasses set :attr:`action_space` and implement :meth:`_chunk` (agent action -> primitive actions
    ``(k, A)`` in the inner env's units, already clipped to its bounds).

    Args:
        env: the inner env; must have a 1-D Box action space with finite bounds.
        chunk_steps: ``k``, the number of primitive steps per decision (fewer only when the episode ends).
        gamma: discount per primitive step used to sum rewards inside a chunk.
        discount_within_chunk: ``True``: macro reward ``sum_i gamma**i r_i``; ``False``: ``sum_i r_i``.

    ``info`` of every macro step is the inner env's info of the *last* executed primitive step (so
    ``is_success`` and a Monitor's ``episode`` entry pass through) plus:

    - ``primitive_steps`` (int): primitive steps executed, ``1 <= n <= k``;
    - ``executed_actions`` (float32 array ``(n, A)``): the actions actually sent to the inner env;
    - ``primitive_rewards`` (float64 array ``(n,)``): their rewards;
    - ``discount`` (float): ``gamma**n``, the discount to the next decision.
    """

    def __init__(
        self, env: gym.Env[Any, Any], chunk_steps: int, gamma: float, discount_within_chunk: bool
    ) -> None:
        super().__init__(env)
        self.inner_action_space = require_box(env, type(self).__name__)
        if int(chunk_steps) < 1:
            raise AbsactionError(f"chunk length must be >= 1, got {chunk_steps}", "pass a positive length")
        if not 0.0 < float(gamma) <= 1.0:
            raise AbsactionError(f"gamma must be in (0, 1], got {gamma}", "pass a discount such as 0.99")
        self.chunk_steps = int(chunk_steps)
        self.gamma = float(gamma)
        self.discount_within_chunk = bool(discount_within_chunk)
        # gamma**i for i < k, computed once: the per-step reward weights inside a chunk.
        self._weights = (
            self.gamma ** np.arange(self.chunk_steps, dtype=np.float64)
            if self.discount_within_chunk
            else np.ones(self.chunk_steps, dtype=np.float64)
        )
        self._rewards = np.zeros(self.chunk_steps, dtype=np.float64)  # reused buffer, copied into info

    # -- subclasses -------------------------------------------------------------------------------
    def _chunk(self, action: np.ndarray) -> np.ndarray:
        """Agent action -> primitive actions ``(k, A)`` (float32, within the inner bounds)."""
        raise NotImplementedError

    def preview_chunk(self, action: np.ndarray) -> np.ndarray:
        """The primitive actions ``(k, A)`` that ``step(action)`` would execute now (a copy), without
        executing them: what a planner that simulates candidate actions needs. Subclasses whose chunk
        depends on hidden state (sampled latents, a plan phase) override it."""
        return self._chunk(np.asarray(action)).copy()

    def chunk_return(self, rewards: np.ndarray) -> float:
        """The macro reward of primitive rewards ``(n,)``, ``n <= k``, as :meth:`step` sums them."""
        n = len(rewards)
        return float(np.dot(self._weights[:n], np.asarray(rewards, dtype=np.float64)))

    # -- gymnasium API ----------------------------------------------------------------------------
    def step(self, action: np.ndarray) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        chunk = self._chunk(np.asarray(action))  # (k, A)
        return self._execute(chunk)

    def _execute(self, chunk: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Run ``chunk`` (k, A) in the inner env, stopping at the first termination/truncation."""
        obs: Any = None
        info: dict[str, Any] = {}
        terminated = truncated = False
        n = 0
        for n, primitive_action in enumerate(chunk, start=1):  # n is used after the loop
            obs, reward, terminated, truncated, info = self.env.step(primitive_action)
            self._rewards[n - 1] = float(reward)
            if terminated or truncated:
                break
        macro_reward = self.chunk_return(self._rewards[:n])
        info = dict(info)  # never mutate the inner env's dict
        info["primitive_steps"] = n
        info["executed_actions"] = chunk[:n].copy()
        info["primitive_rewards"] = self._rewards[:n].copy()
        info["discount"] = self.gamma**n
        return obs, macro_reward, bool(terminated), bool(truncated), info

    def macro_settings(self) -> dict[str, Any]:
        """JSON-able settings that rebuild this wrapper (stored with trained agents)."""
        return {
            "chunk_steps": self.chunk_steps,
            "gamma": self.gamma,
            "discount_within_chunk": self.discount_within_chunk,
        }


class ActionRepeatWrapper(MacroActionWrapper, gym.utils.RecordConstructorArgs):
    """Repeat each action ``repeat`` times: the macro baseline with no learned structure.

    It answers "is a latent agent's gain just temporal extension?": with the same ``repeat`` as the
    latent wrapper's chunk, both agents decide equally often and get identically summed rewards.

    Args:
        env: inner env with a 1-D Box action space (the action space is kept as it is).
        repeat: primitive steps per decision, ``k >= 1``.
        gamma: discount per primitive step inside a chunk; the agent's own discount should be ``gamma**k``.
        discount_within_chunk: discounted (default) or plain sum of the primitive rewards.

    Example::

        >>> import gymnasium as gym
        >>> from absaction.wrappers import ActionRepeatWrapper
        >>> env = ActionRepeatWrapper(gym.make("Pendulum-v1"), repeat=4, gamma=0.99)
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> info["primitive_steps"], info["executed_actions"].shape
        (4, (4, 1))
    """

    def __init__(
        self, env: gym.Env[Any, Any], repeat: int, gamma: float = 0.99, discount_within_chunk: bool = True
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, repeat=repeat, gamma=gamma, discount_within_chunk=discount_within_chunk
        )
        MacroActionWrapper.__init__(self, env, repeat, gamma, discount_within_chunk)
        box = self.inner_action_space
        self.action_space = gym.spaces.Box(box.low, box.high, box.shape, box.dtype)
        self._buffer = np.zeros((self.chunk_steps, *box.shape), dtype=box.dtype)  # (k, A)

    def _chunk(self, action: np.ndarray) -> np.ndarray:
        box = self.inner_action_space
        self._buffer[:] = np.clip(action.reshape(box.shape), box.low, box.high)  # broadcast (A,) -> (k, A)
        return self._buffer

    def macro_settings(self) -> dict[str, Any]:
        return {"wrapper": "repeat", **super().macro_settings()}
