"""Skill models: windows, the play world, the model's options, its loss terms, training, rollouts, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import absaction  # registers the envs
from absaction.analysis.skills import prior_rollouts, reconstruction
from absaction.data.skill_windows import dataset_skill_windows, flatten_dict_observations, make_skill_windows
from absaction.envs import NEW_GOAL_MARGIN, ObsLayout, make_expert
from absaction.envs.variants import NEW_GOALS
from absaction.errors import AbsactionError
from absaction.models import load
from absaction.models.capacity import make_capacity
from absaction.models.skill import SkillConfig, SkillModel, kl_gaussians, skill_loss
from absaction.train.optim import Adam
from absaction.train.skill_loop import SkillTrainConfig, fit_skills


def test_windows_select_columns_and_stride() -> None:
    obs = [np.arange(12, dtype=np.float32).reshape(6, 2) * [1, 10]]  # (T + 1 = 6, 2)
    act = [np.arange(5, dtype=np.float32).reshape(5, 1)]
    w = make_skill_windows(obs, act, horizon=3, stride=1, field_names=("x", "y"), skill_obs=["y"])
    assert w.observations.shape == (3, 3, 1) and w.actions.shape == (3, 3, 1)
    assert w.observations[1, :, 0].tolist() == [30.0, 50.0, 70.0]  # y of steps 1..3
    assert w.actions[2, :, 0].tolist() == [2.0, 3.0, 4.0]
    assert w.skill_obs == ("y",) and w.skill_indices == (1,)
    by_index = make_skill_windows(obs, act, horizon=3, stride=2, skill_obs=[1])
    assert by_index.starts.tolist() == [0, 2] and by_index.skill_obs == ("obs_1",)


def test_dict_observations_are_flattened_with_a_layout() -> None:
    flat, layout = flatten_dict_observations(
        {"pos": np.zeros((4, 2)), "goal": np.ones((4, 2)), "t": np.ones(4)}
    )
    assert flat.shape == (4, 5) and layout.to_dict() == {"goal": [0, 2], "pos": [2, 4], "t": [4, 5]}
    assert layout.names == ("goal[0]", "goal[1]", "pos[0]", "pos[1]", "t")
    assert layout.resolve(["t", "goal[1]", 0]) == [4, 1, 0]
    w = make_skill_windows(
        [{"pos": np.full((4, 2), 3.0), "goal": np.ones((4, 2))}], [np.zeros((3, 2))], 2, skill_obs=["pos"]
    )
    assert w.skill_indices == (2, 3) and np.all(w.observations == 3.0)


@pytest.mark.parametrize(
    ("obs", "horizon", "skill_obs", "message"),
    [
        ([np.zeros((5, 2))], 9, None, "longer than every episode"),
        ([np.zeros((5, 2))], 2, ["goal"], "no column or key 'goal'"),
        ([np.zeros((5, 2))], 2, [7], "index 7"),
        ([None], 2, None, "no observations"),
        ([np.full((5, 2), np.nan)], 2, None, "NaN"),
    ],
)
def test_window_errors_are_one_line(obs: list, horizon: int, skill_obs: list | None, message: str) -> None:
    with pytest.raises(AbsactionError, match=message) as info:
        make_skill_windows(obs, [np.zeros((4, 2))], horizon, skill_obs=skill_obs)
    assert "\n" not in str(info.value)


def test_play_world_is_diverse_and_avoids_new_goals() -> None:
    env = gym.make("absaction/Reach2DPlay-v0")
    expert = make_expert(env)
    starts, goals, successes = [], [], []
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        expert.reset(obs, info, np.random.default_rng([seed, 1]))
        starts.append(obs[:2].copy())
        goals.append(obs[2:4].copy())
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            done = terminated or truncated
        successes.append(info["is_success"])
    goals_arr = np.array(goals)
    assert all(successes)
    assert np.std(np.array(starts), axis=0).min() > 0.3  # varied starts
    distances = np.linalg.norm(goals_arr[:, None] - np.array(NEW_GOALS)[None], axis=2)
    assert distances.min() >= NEW_GOAL_MARGIN - 1e-6
    again = gym.make("absaction/Reach2DPlay-v0").reset(seed=3)[0]
    assert np.array_equal(again, gym.make("absaction/Reach2DPlay-v0").reset(seed=3)[0])


@pytest.mark.parametrize("encoder", ["gru", "mlp", "ladder"])
@pytest.mark.parametrize("decoder", ["closed", "open"])
def test_shapes_of_every_option(encoder: str, decoder: str) -> None:
    ladders = [2, 3] if encoder == "ladder" else [5]  # the ladder's top (abstract) group last
    model = SkillModel(
        SkillConfig(action_dim=2, seq_len=6, obs_dim=3, ladder_dims=ladders, encoder=encoder, decoder=decoder)
    )
    obs, act = torch.randn(4, 6, 3), torch.randn(4, 6, 2)
    mean, logvar = model.encode_windows(obs, act)
    prior_mean, prior_sigma = model.prior(obs[:, 0])
    assert mean.shape == logvar.shape == prior_mean.shape == prior_sigma.shape == (4, 5)
    assert model.decode_window(obs, mean).shape == (4, 6, 2)
    assert (model.horizon, model.z_dim, model.ladder_dims) == (6, 5, ladders)
    top_mean, top_sigma = model.prior_top(obs[:, 0])
    lower_mean, lower_sigma = model.prior_lower(obs[:, 0], top_mean)
    assert top_mean.shape == top_sigma.shape == (4, ladders[-1])
    assert lower_mean.shape == lower_sigma.shape == (4, 5 - ladders[-1])
    completed = model.complete_z(obs[:, 0], top_mean)
    assert completed.shape == (4, 5) and torch.equal(completed[:, 5 - ladders[-1] :], top_mean)
    assert torch.equal(completed[:, : 5 - ladders[-1]], lower_mean)
    assert torch.allclose(model.prior(obs[:, 0])[0], completed)  # the prior's mean chain
    if decoder == "closed":
        assert model.decode_step(obs[:, 0], mean).shape == (4, 2)
    else:
        with pytest.raises(AbsactionError, match="decode_window"):
            model.decode_step(obs[:, 0], mean)
    with pytest.raises(AbsactionError, match="columns"):
        model.prior(torch.randn(4, 7))


def test_prior_kl_matches_the_closed_form() -> None:
    mq, lq, mp, lp = (
        torch.tensor([[0.3]]),
        torch.tensor([[np.log(0.25)]]),
        torch.tensor([[-0.2]]),
        torch.tensor([[0.0]]),
    )
    # KL(N(0.3, 0.5^2) || N(-0.2, 1)) = log(1 / 0.5) + (0.25 + 0.25) / 2 - 0.5
    expected = np.log(2.0) + 0.5 / 2 - 0.5
    assert kl_gaussians(mq, lq, mp, lp).item() == pytest.approx(expected, rel=1e-6)
    samples = torch.distributions.Normal(0.3, 0.5)
    reference = torch.distributions.kl_divergence(samples, torch.distributions.Normal(-0.2, 1.0))
    assert kl_gaussians(mq, lq, mp, lp).item() == pytest.approx(reference.item(), rel=1e-6)


@pytest.mark.parametrize(("encoder", "ladders"), [("gru", [3]), ("ladder", [3, 2])])
def test_stop_gradient_prior_step_leaves_the_encoder_unchanged(encoder: str, ladders: list[int]) -> None:
    torch.manual_seed(0)
    model = SkillModel(SkillConfig(action_dim=2, seq_len=5, obs_dim=2, ladder_dims=ladders, encoder=encoder))
    obs, act = torch.randn(8, 5, 2), torch.randn(8, 5, 2)
    terms = skill_loss(model, obs, act, beta=0.0, sigma=1.0, prior_weight=1.0)
    terms.prior_kl.backward()  # only the prior's term
    encoder = [p for n, p in model.named_parameters() if n.startswith("encoder")]
    prior = [p for n, p in model.named_parameters() if n.startswith("prior")]
    assert encoder and all(p.grad is None or torch.all(p.grad == 0) for p in encoder)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in prior)  # both factors learn
    before = [p.detach().clone() for p in encoder]
    optimizer = Adam(prior, lr=0.1)
    optimizer.step()
    assert all(torch.equal(a, p) for a, p in zip(before, encoder, strict=True))


def test_factored_prior_kl_matches_the_closed_form() -> None:
    torch.manual_seed(1)
    model = SkillModel(
        SkillConfig(
            action_dim=2, seq_len=4, obs_dim=2, ladder_dims=[2, 3, 1], encoder="ladder", hidden_size=16
        )
    )
    obs, act = torch.randn(6, 4, 2), torch.randn(6, 4, 2)
    generator = torch.Generator().manual_seed(3)
    terms = skill_loss(model, obs, act, beta=0.0, sigma=1.0, generator=generator)
    # the same draw again: z = mean + sigma * eps, the top ladder is the last entry
    mean, logvar = model.posterior_normalized(obs, act)
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(3))
    z_top = (mean + torch.exp(0.5 * logvar) * eps)[:, 5:]
    # KL(q || p_top p_lower) = KL(q_top || p(z_top | s)) + KL(q_lower || p(z_lower | s, z_top)) of
    # diagonal Gaussians: sum over dims of log(sp / sq) + (sq^2 + (mq - mp)^2) / (2 sp^2) - 1/2
    top_mean, top_sigma = model.prior_top(obs[:, 0])
    lower_mean, lower_sigma = model.prior_lower(obs[:, 0], z_top)
    mp, sp = torch.cat([lower_mean, top_mean], 1).double(), torch.cat([lower_sigma, top_sigma], 1).double()
    mq, sq = mean.double(), torch.exp(0.5 * logvar).double()
    closed = (torch.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5).sum(1).mean()
    assert terms.prior_kl.item() == pytest.approx(closed.item(), rel=1e-5)
    assert terms.kl_ladders.shape == (3,) and terms.kl_ladders.sum().item() == pytest.approx(
        terms.kl_dims.sum().item(), rel=1e-6
    )


def test_flat_model_completes_z_with_itself() -> None:
    model = SkillModel(SkillConfig(action_dim=2, seq_len=4, obs_dim=2, ladder_dims=[3]))
    obs, z = torch.randn(5, 2), torch.randn(5, 3)
    assert model.ladder_dims == [3] and model.top_dim == 3
    assert torch.equal(model.complete_z(obs, z), z) and model.prior_lower(obs, z)[0].shape == (5, 0)
    with pytest.raises(AbsactionError, match="z_top has 2 entries"):
        model.complete_z(obs, torch.zeros(5, 2))
    with pytest.raises(AbsactionError, match="--skill-encoder ladder"):
        SkillConfig(action_dim=2, seq_len=4, ladder_dims=[2, 2], encoder="mlp").validate()


def test_capacity_shapes_the_kl_term() -> None:
    torch.manual_seed(0)
    model = SkillModel(SkillConfig(action_dim=2, seq_len=4, obs_dim=2, ladder_dims=[2, 2], encoder="ladder"))
    obs, act = torch.randn(8, 4, 2), torch.randn(8, 4, 2)
    capacity = make_capacity("linear:3,10,abs", 2)
    for _ in range(5):
        capacity.end_step()  # C = 3 * 5 / 10 = 1.5 nats
    plain = skill_loss(model, obs, act, 2.0, 1.0, 1.0, torch.Generator().manual_seed(0))
    shaped = skill_loss(model, obs, act, 2.0, 1.0, 1.0, torch.Generator().manual_seed(0), capacity)
    kl = plain.kl_dims.sum()
    assert plain.loss.item() == pytest.approx((plain.recon + 2.0 * kl + plain.prior_kl).item(), rel=1e-6)
    expected = plain.recon + 2.0 * (kl - 1.5).abs() + plain.prior_kl
    assert shaped.loss.item() == pytest.approx(expected.item(), rel=1e-6)


def _framed_model(frame: str) -> SkillModel:
    """A small untrained skill model with known normalisations, skill columns 3 and 1 of 5."""
    from absaction.data import Normalizer

    torch.manual_seed(1)
    model = SkillModel(
        SkillConfig(
            action_dim=2,
            seq_len=4,
            obs_dim=2,
            ladder_dims=[3],
            skill_indices=[3, 1],
            obs_fields=["a", "b", "c", "d", "e"],
            frame=frame,
        ),
        normalizer=Normalizer([0.1, -0.2], [0.5, 2.0]),
    )
    model.set_obs_normalizer(np.array([0.3, -1.0]), np.array([2.0, 0.25]))
    return model.eval()


def test_step_decoder_matches_decode_step() -> None:
    model = _framed_model("absolute")
    rng = np.random.default_rng(0)
    full = rng.normal(size=(7, 5)).astype(np.float32)
    z = rng.normal(size=(7, 3)).astype(np.float32)
    skill = full[:, [3, 1]]
    reference = model.decode_step(skill, z).numpy()
    step, whole = model.step_decoder(), model.step_decoder(full_observation=True)
    assert np.allclose(step(skill, z), reference, atol=1e-5)
    assert np.allclose(whole(full, z), reference, atol=1e-5) and whole.obs_width == 5
    assert np.allclose(step(skill[0], z[0]), reference[0], atol=1e-5)  # one observation at a time


def test_relative_frame_is_the_same_skill_anywhere_and_only_the_prior_sees_where() -> None:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 4, 2)).astype(np.float32)  # (B, H, O) windows
    act = rng.normal(size=(6, 4, 2)).astype(np.float32)
    moved = obs + np.array([5.0, -3.0], np.float32)  # every window translated by one offset
    z = rng.normal(size=(6, 3)).astype(np.float32)
    relative, absolute = _framed_model("relative"), _framed_model("absolute")
    for a, b in zip(relative.encode_windows(obs, act), relative.encode_windows(moved, act), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(relative.decode_window(obs, z), relative.decode_window(moved, z), atol=1e-5)
    assert not torch.allclose(absolute.decode_window(obs, z), absolute.decode_window(moved, z), atol=1e-3)
    assert not torch.allclose(relative.prior(obs[:, 0])[0], relative.prior(moved[:, 0])[0], atol=1e-3)
    # at its own origin the decoder sees exactly the zero input: the first step of a window
    first = relative.decode_step(obs[:, 0], z, origin=obs[:, 0])
    assert torch.allclose(first, relative.decode_window(obs, z)[:, 0], atol=1e-5)
    inputs = torch.cat([torch.zeros(6, 2), torch.as_tensor(z)], dim=-1)
    expected = relative.normalizer.inverse(relative.decoder_mlp(inputs))
    assert torch.allclose(first, expected, atol=1e-5)
    with pytest.raises(AbsactionError, match="no origin was given"):
        relative.decode_step(obs[:, 1], z)


def test_relative_step_decoder_matches_decode_step() -> None:
    model = _framed_model("relative")
    rng = np.random.default_rng(2)
    full, start = rng.normal(size=(2, 7, 5)).astype(np.float32)  # (B, D) now and at the skill's start
    z = rng.normal(size=(7, 3)).astype(np.float32)
    skill, origin = full[:, [3, 1]], start[:, [3, 1]]
    reference = model.decode_step(skill, z, origin).numpy()
    step, whole = model.step_decoder(), model.step_decoder(full_observation=True)
    assert np.allclose(step(skill, z, origin), reference, atol=1e-5)
    assert np.allclose(whole(full, z, start), reference, atol=1e-5)
    assert np.allclose(whole(full[0], z[0], start[0]), reference[0], atol=1e-5)
    with pytest.raises(AbsactionError, match="no origin was given"):
        step(skill, z)
    with pytest.raises(AbsactionError, match="unknown skill frame"):
        SkillConfig(action_dim=2, seq_len=4, frame="egocentric").validate()


def test_dataset_windows_use_the_recorded_dict_layout() -> None:
    from types import SimpleNamespace

    import gymnasium as gym

    box = gym.spaces.Box
    layout = ObsLayout.from_space(
        gym.spaces.Dict({"observation": box(-1, 1, (3,)), "goal": box(-1, 1, (2,))})
    )
    episode = SimpleNamespace(
        observations=np.arange(25, dtype=np.float32).reshape(5, 5), actions=np.zeros((4, 2))
    )
    dataset = SimpleNamespace(episodes=[episode], obs_layout=layout, env_id="PointMaze")
    w = dataset_skill_windows(dataset, horizon=2, skill_obs=["observation"])
    assert w.layout is layout and w.skill_indices == (2, 3, 4)
    assert w.skill_obs == ("observation[0]", "observation[1]", "observation[2]")
    assert w.observations[1, 0].tolist() == [7.0, 8.0, 9.0]  # step 1, columns 2..4


def test_closed_loop_decoder_reproduces_training_actions() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # 64 windows of 5 steps: the action is a fixed function of the state and a per-window direction
    obs = rng.uniform(-1, 1, (64, 5, 2)).astype(np.float32)
    direction = rng.uniform(-1, 1, (64, 1, 2)).astype(np.float32)
    act = (0.5 * direction - 0.3 * obs).astype(np.float32)
    model = SkillModel(SkillConfig(action_dim=2, seq_len=5, obs_dim=2, ladder_dims=[4], hidden_size=64))
    optimizer = Adam(model.parameters(), lr=3e-3)
    x, a = torch.from_numpy(obs), torch.from_numpy(act)
    for _ in range(600):
        terms = skill_loss(model, x, a, beta=1e-4, sigma=1.0)
        optimizer.zero_grad()
        terms.loss.backward()
        optimizer.step()
    model.eval()
    from absaction.data.skill_windows import SkillWindows

    windows = SkillWindows(
        obs,
        act,
        np.zeros(64, np.int64),
        np.zeros(64, np.int64),
        ("a", "b"),
        (0, 1),
        ObsLayout.from_names(["a", "b"]),
    )
    result = reconstruction(model, windows)
    assert result["rmse"] < 0.05, result  # actions have std ~0.35: under 15 % of it


@pytest.fixture(scope="module")
def play_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("play") / "play"
    from absaction.data.collect import CollectConfig, collect

    collect(CollectConfig(env_id="absaction/Reach2DPlay-v0", episodes=12, out=out, progress=False))
    return out


@pytest.mark.parametrize(
    "options",
    [
        {"encoder": "gru"},
        {"encoder": "ladder", "ladder_dims": [3, 2], "capacity": "adaptive:2"},
        {"encoder": "mlp", "frame": "relative"},
    ],
)
def test_resume_is_bit_identical(play_data: Path, tmp_path: Path, options: dict) -> None:
    config = SkillTrainConfig(epochs=4, checkpoint_every=2, batch_size=32, hidden_size=32, **options)
    straight = fit_skills(play_data, config, tmp_path / "straight")

    def stop(epoch: int, row: dict) -> None:
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_skills(play_data, config, tmp_path / "resumed", epoch_callback=stop)
    resumed = fit_skills(play_data, config, tmp_path / "resumed", resume=True)
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert [r["loss"] for r in straight.metrics] == [r["loss"] for r in resumed.metrics]
    assert [r["c_total"] for r in straight.metrics] == [r["c_total"] for r in resumed.metrics]
    assert straight.model.kl_per_dim is not None
    assert [len(k) for k in straight.model.kl_per_dim] == config.latent_dims  # per ladder, per dimension
    if config.capacity.startswith("adaptive"):  # C of epoch 3 = mean KL of epochs 1 and 2
        rows = straight.metrics
        assert rows[2]["c_l1"] == pytest.approx((rows[0]["kl_l1"] + rows[1]["kl_l1"]) / 2, rel=1e-5)
    loaded = load(tmp_path / "resumed")
    assert isinstance(loaded, SkillModel) and loaded.skill_obs_layout["names"] == ["x", "y"]
    assert loaded.config.frame == config.frame
    assert torch.equal(loaded.obs_std, resumed.model.obs_std)


def test_prior_rollouts_are_reproducible_by_seed(play_data: Path, tmp_path: Path) -> None:
    model = fit_skills(
        play_data, SkillTrainConfig(epochs=1, batch_size=64, hidden_size=16), tmp_path / "run"
    ).model
    first = prior_rollouts(model, episodes=3, seed=5)
    again = prior_rollouts(model, episodes=3, seed=5)
    other = prior_rollouts(model, episodes=3, seed=6)
    assert first["final_positions"] == again["final_positions"]
    assert first["final_positions"] != other["final_positions"]
    assert len(first["paths"][0]) == 33 and 0.0 <= first["success_rate"] <= 1.0


@pytest.mark.slow
def test_cli_collect_train_evaluate(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(absaction.__file__).parent.parent)}

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "absaction", *argv], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    assert (
        cli("collect", "--env", "absaction/Reach2DPlay-v0", "--episodes", "8", "--out", "play").returncode
        == 0
    )
    done = cli(
        "train",
        "--model",
        "skill",
        "--data",
        "play",
        "--out",
        "run",
        "--epochs",
        "2",
        "--horizon",
        "8",
        "--skill-encoder",
        "ladder",
        "--ladder-dims",
        "2,2",
        "--capacity",
        "adaptive:2",
        "--skill-frame",
        "relative",
    )
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (
        config["model"] == "skill"
        and config["model_config"]["seq_len"] == 8
        and config["epochs_completed"] == 2
        and config["model_config"]["ladder_dims"] == [2, 2]
        and config["model_config"]["frame"] == "relative"
        and config["train"]["capacity"] == "adaptive:2,signed"
    )
    flat_flag = cli("train", "--data", "play", "--out", "x", "--skill-encoder", "ladder")
    assert flat_flag.returncode == 2 and "apply only to skill models" in flat_flag.stderr
    bad = cli("train", "--model", "skill", "--data", "play", "--out", "bad", "--skill-obs", "speed")
    assert (
        bad.returncode == 2 and "no column or key 'speed'" in bad.stderr and not (tmp_path / "bad").exists()
    )
    assert cli("train", "--resume", "run", "--epochs", "3").returncode == 0
    report = cli("evaluate", "--model", "run", "--out", "report")
    assert report.returncode == 0, report.stderr
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    assert data["reconstruction"]["rmse"] >= 0 and "success_rate" in data["prior_rollouts"]
    assert (tmp_path / "report" / "prior_rollouts.png").is_file() and (
        tmp_path / "report" / "traversal.png"
    ).is_file()
