"""absaction.models: TCVLAE / flat TCVAE shapes for every option, the env-units interface, the registry,
and model folders (save, load, and every way loading can fail)."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from absaction.data import Normalizer
from absaction.errors import AbsactionError
from absaction.models import (
    MERGES,
    MODELS,
    TCVLAE,
    ActionVAE,
    FlatTCVAE,
    ModelConfig,
    build_model,
    load,
    model_class,
    save,
)

# --------------------------------------------------------------------------------------- shapes


def _conv(name: str, action_dim: int, seq_len: int, options: dict[str, Any] | None = None) -> TCVLAE:
    model = build_model(name, action_dim, seq_len, options)
    assert isinstance(model, TCVLAE)
    return model


@pytest.mark.parametrize("ladder_dims", [[3], [4, 2], [8, 4, 2], [2, 2, 2, 1]])
@pytest.mark.parametrize("merge", MERGES)
@pytest.mark.parametrize("seq_len", [16, 32, 64])
def test_tcvlae_shapes_for_every_option(ladder_dims: list[int], merge: str, seq_len: int) -> None:
    model = build_model("tcvlae", 3, seq_len, {"ladder_dims": ladder_dims, "merge": merge, "channels": 4})
    x = torch.randn(5, seq_len, 3)
    stats = model.encode(x)
    assert [tuple(m.shape) for m, _ in stats] == [(5, d) for d in ladder_dims]
    assert [tuple(lv.shape) for _, lv in stats] == [(5, d) for d in ladder_dims]
    assert model.decode([m for m, _ in stats]).shape == (5, seq_len, 3)
    x_hat, stats2, latents = model.forward_normalized(x)
    assert x_hat.shape == (5, seq_len, 3)
    assert [tuple(z.shape) for z in latents] == [(5, d) for d in ladder_dims]
    assert len(stats2) == len(ladder_dims)
    assert model.sample(7).shape == (7, seq_len, 3)
    assert model.reconstruct(x).shape == (5, seq_len, 3)


@pytest.mark.parametrize("layers_per_ladder", [1, 2])
def test_layers_per_ladder_deepens_both_sides(layers_per_ladder: int) -> None:
    model = _conv("tcvlae", 2, 64, {"ladder_dims": [2, 2], "layers_per_ladder": layers_per_ladder})
    convs = [m for m in model.encoder if isinstance(m, nn.Conv1d)]
    deconvs = [m for m in model.decoder if isinstance(m, nn.ConvTranspose1d)]
    assert len(convs) == len(deconvs) == 2 * layers_per_ladder
    assert model.decode([torch.zeros(1, 2), torch.zeros(1, 2)]).shape == (1, 64, 2)


def test_convolutions_follow_the_paper() -> None:
    model = _conv("tcvlae", 2, 32, {"channels": 16})
    assert [c.out_channels for c in model.encoder] == [16, 32, 64]  # doubling per layer
    for conv in model.encoder:
        assert (conv.kernel_size, conv.stride, conv.padding) == ((3,), (2,), (1,))
    for deconv in model.decoder:
        assert (deconv.kernel_size, deconv.stride, deconv.padding, deconv.output_padding) == (
            (3,),
            (2,),
            (1,),
            (1,),
        )
    # the decoder mirrors the encoder: decoder layer j maps level j+1 back to level j
    assert [(d.in_channels, d.out_channels) for d in model.decoder] == [(16, 2), (32, 16), (64, 32)]
    # ladder l reads the flattened features after l layers: channels * T / 2 = 256 numbers each
    assert [h.in_features for h in model.heads] == [256, 256, 256]
    assert [h.out_features for h in model.heads] == [16, 8, 4]  # 2 * [8, 4, 2] (mean, logvar)


def test_flat_tcvae_is_four_convolutions_and_one_latent_of_four() -> None:
    model = _conv("tcvae", 2, 32)
    assert isinstance(model, FlatTCVAE) and model.name == "tcvae"
    assert model.ladder_dims == [4]
    assert len(model.encoder) == len(model.decoder) == 4
    assert [c.out_channels for c in model.encoder] == [16, 32, 64, 128]
    assert [tuple(m.shape) for m, _ in model.encode(torch.zeros(3, 32, 2))] == [(3, 4)]
    assert model.decode([torch.zeros(3, 4)]).shape == (3, 32, 2)


def test_flat_tcvae_refuses_ladders() -> None:
    with pytest.raises(AbsactionError, match="one latent group"):
        build_model("tcvae", 2, 32, {"ladder_dims": [4, 2]})


@pytest.mark.parametrize("merge", ["gated", "concat"])
def test_merge_modes_have_their_parameters(merge: str) -> None:
    model = _conv("tcvlae", 2, 32, {"merge": merge, "channels": 4})
    assert len(model.merges) == 2  # every ladder but the top one
    parameters = {name: tuple(p.shape) for name, p in model.merges.named_parameters()}
    if merge == "gated":  # one gate per (channel, time step) of the feature map it joins
        assert parameters == {"0.gate": (4, 16), "1.gate": (8, 8)}
    else:  # a 1x1 convolution from the concatenated channels back to the original width
        assert parameters == {
            "0.mix.weight": (4, 8, 1),
            "0.mix.bias": (4,),
            "1.mix.weight": (8, 16, 1),
            "1.mix.bias": (8,),
        }


def test_sum_merge_adds_the_ladder_contribution() -> None:
    # with the ladder-1 projection zeroed, the output cannot depend on z1 (it enters only by the sum)
    torch.manual_seed(0)
    model = _conv("tcvlae", 2, 16, {"ladder_dims": [2, 2], "channels": 4})
    projection = model.projections[0]
    assert isinstance(projection, nn.Linear)
    with torch.no_grad():
        projection.weight.zero_()
    z2 = torch.randn(3, 2)
    a = model.decode([torch.zeros(3, 2), z2])
    b = model.decode([torch.randn(3, 2), z2])
    assert torch.allclose(a, b)


def test_length_that_does_not_divide_names_the_fix() -> None:
    with pytest.raises(AbsactionError) as err:
        build_model("tcvlae", 2, 30)
    message = str(err.value)
    assert "sequences of length 30 do not divide by 8" in message
    assert "(window=24)" in message and "--max-steps 32" in message  # Python names the argument
    with pytest.raises(AbsactionError, match="do not divide by 16"):
        build_model("tcvae", 2, 8)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("nope", {}, "unknown model 'nope'"),
        ("tcvlae", {"merge": "max"}, "unknown merge 'max'"),
        ("tcvlae", {"ladder_dims": [4, 0]}, "ladder sizes must be positive"),
        ("tcvlae", {"channels": 0}, "must be positive"),
        ("tcvlae", {"dropout": 0.1}, "unknown model option"),
    ],
)
def test_bad_model_options_name_the_problem(name: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(AbsactionError, match=match):
        build_model(name, 2, 32, options)


# -------------------------------------------------------------------------- environment units


def _scaled_model() -> ActionVAE:
    torch.manual_seed(0)
    normalizer = Normalizer(np.array([10.0, -3.0]), np.array([2.0, 0.5]))
    return build_model("tcvlae", 2, 16, {"ladder_dims": [2, 1], "channels": 4}, normalizer=normalizer)


def test_encode_normalises_and_decode_returns_env_units() -> None:
    model = _scaled_model()
    x = torch.randn(4, 16, 2) * torch.tensor([2.0, 0.5]) + torch.tensor([10.0, -3.0])
    x_norm = (x - torch.tensor([10.0, -3.0])) / torch.tensor([2.0, 0.5])
    for (m1, l1), (m2, l2) in zip(model.encode(x), model.encode_normalized(x_norm), strict=True):
        assert torch.allclose(m1, m2, atol=1e-6) and torch.allclose(l1, l2, atol=1e-6)
    latents = [torch.randn(4, 2), torch.randn(4, 1)]
    expected = model.decode_normalized(latents) * torch.tensor([2.0, 0.5]) + torch.tensor([10.0, -3.0])
    assert torch.allclose(model.decode(latents), expected, atol=1e-6)


def test_reconstruct_decodes_the_posterior_means() -> None:
    model = _scaled_model()
    x = torch.randn(3, 16, 2)
    means = [m for m, _ in model.encode(x)]
    assert torch.allclose(model.reconstruct(x), model.decode(means))
    assert torch.allclose(model.reconstruct(x.numpy()), model.decode(means))  # numpy input too


def test_posterior_is_encode_batched_into_numpy_and_split_ladders_inverts_it() -> None:
    model = _scaled_model()
    x = (torch.randn(7, 16, 2) * 2 + 10).numpy()
    means, logvars = model.posterior(x, batch_size=3)  # batches of 3, 3 and 1
    assert means.shape == logvars.shape == (7, 3) and means.dtype == np.float32
    stats = model.encode(torch.as_tensor(x))
    np.testing.assert_allclose(means, torch.cat([m for m, _ in stats], 1).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(logvars, torch.cat([lv for _, lv in stats], 1).detach().numpy(), atol=1e-6)
    latents = model.split_ladders(means)
    assert [tuple(z.shape) for z in latents] == [(7, 2), (7, 1)]
    assert torch.allclose(model.decode(latents), model.reconstruct(x), atol=1e-6)


def test_sample_uses_the_given_generator() -> None:
    model = _scaled_model()
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("shape", [(2, 16), (2, 8, 2), (2, 16, 3)])
def test_wrong_action_shapes_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(AbsactionError, match=r"expects actions of shape \(B, 16, 2\)"):
        _scaled_model().encode(torch.zeros(shape))


def test_wrong_latents_are_refused() -> None:
    model = _scaled_model()
    with pytest.raises(AbsactionError, match="2 ladders"):
        model.decode([torch.zeros(1, 2)])
    with pytest.raises(AbsactionError, match=r"ladder 2 has shape \(1, 3\)"):
        model.decode([torch.zeros(1, 2), torch.zeros(1, 3)])
    with pytest.raises(AbsactionError, match="decodes sequences of 16 steps"):
        model.decode([torch.zeros(1, 2), torch.zeros(1, 1)], length=32)


def test_active_dims_use_the_recorded_kl() -> None:
    model = _scaled_model()
    with pytest.raises(AbsactionError, match="no per-dimension KL"):
        model.active_dims()
    model.kl_per_dim = [[0.5, 0.001], [0.02]]
    assert model.active_dims() == [[0], [0]]
    assert model.active_dims(threshold=0.1) == [[0], []]


# ------------------------------------------------------------------------------- save and load


def _saved(tmp_path: Path) -> tuple[ActionVAE, Path]:
    torch.manual_seed(0)
    model = build_model(
        "tcvlae",
        2,
        16,
        {"ladder_dims": [2, 1], "channels": 4, "merge": "gated"},
        normalizer=Normalizer(np.array([0.1, 0.3]), np.array([0.2, 0.01])),
        env_id="absaction/Reach2D-v0",
        action_low=-np.ones(2),
        action_high=np.ones(2),
        kl_per_dim=[[1.5, 0.0], [0.7]],
    )
    assert isinstance(model, TCVLAE)
    with torch.no_grad():  # make the gates differ from their initial values
        for gate in model.merges.parameters():
            gate.normal_()
    return model, save(model, tmp_path / "run", extra={"train": {"seed": 3}})


def test_save_load_round_trip(tmp_path: Path) -> None:
    model, run = _saved(tmp_path)
    loaded = load(run)
    assert isinstance(loaded, TCVLAE) and not loaded.training
    assert loaded.config == model.config
    assert loaded.env_id == "absaction/Reach2D-v0"
    assert loaded.action_low is not None and loaded.action_high is not None
    assert loaded.action_low.tolist() == [-1.0, -1.0] and loaded.action_high.tolist() == [1.0, 1.0]
    assert loaded.normalizer.to_dict() == model.normalizer.to_dict()
    assert loaded.kl_per_dim == [[1.5, 0.0], [0.7]]
    assert loaded.active_dims() == [[0], [0]]
    x = torch.randn(3, 16, 2) * 0.1
    model.eval()
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    config = json.loads((run / "config.json").read_text())
    assert config["train"] == {"seed": 3} and config["model"] == "tcvlae"
    assert {"format", "format_version", "model_config", "normalizer", "active_kl_threshold"} <= set(config)


def test_save_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    model, run = _saved(tmp_path)
    before = (run / "model.safetensors").read_bytes()
    with pytest.raises(AbsactionError, match="already holds a model"):
        save(model, run)
    assert (run / "model.safetensors").read_bytes() == before
    save(model, run, force=True)


def test_load_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    _, run = _saved(tmp_path)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    load(run)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("missing_dir", "does not exist"),
        ("no_config", "has no config.json"),
        ("bad_json", r"config.json cannot be read"),
        ("not_ours", "not an absaction model configuration"),
        ("unknown_model", "unknown model 'lstm'"),
        ("no_weights", r"model.safetensors is missing"),
        ("truncated", "corrupt or truncated"),
        ("garbage", "corrupt or truncated"),
        ("mismatch", "does not match config.json"),
    ],
)
def test_load_errors_name_the_fix(tmp_path: Path, damage: str, match: str) -> None:
    _, run = _saved(tmp_path)
    config_path, weights = run / "config.json", run / "model.safetensors"
    config = json.loads(config_path.read_text())
    if damage == "missing_dir":
        run = tmp_path / "elsewhere"
    elif damage == "no_config":
        config_path.unlink()
    elif damage == "bad_json":
        config_path.write_text("{not json")
    elif damage == "not_ours":
        config_path.write_text("[1, 2]")
    elif damage == "unknown_model":
        config_path.write_text(json.dumps({**config, "model": "lstm"}))
    elif damage == "no_weights":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "garbage":
        weights.write_bytes(b"\x00" * 64)
    elif damage == "mismatch":
        config["model_config"]["ladder_dims"] = [3, 1]
        config_path.write_text(json.dumps(config))
    with pytest.raises(AbsactionError, match=match) as err:
        load(run)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------- the registry


@dataclasses.dataclass
class TinyConfig(ModelConfig):
    """A stand-in for a later model (e.g. seq2seq): variable length, one ladder."""

    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [2])
    hidden: int = 3


class TinyVAE(ActionVAE):
    name: ClassVar[str] = "tiny"
    config_class = TinyConfig
    config: TinyConfig

    def __init__(self, config: TinyConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.enc = nn.Linear(config.action_dim, 2 * config.ladder_dims[0])
        self.dec = nn.Linear(config.ladder_dims[0], config.action_dim)

    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        mean, logvar = self.enc(x_norm.mean(dim=1)).chunk(2, dim=-1)
        return [(mean, logvar)]

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        return self.dec(latents[0]).unsqueeze(1).expand(-1, length or 4, -1)


def test_registering_a_model_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"tcvlae", "tcvae"} <= set(MODELS)
    assert model_class("tcvlae") is TCVLAE and model_class("tcvae") is FlatTCVAE
    monkeypatch.setitem(MODELS, "tiny", f"{__name__}:TinyVAE")
    model = build_model("tiny", 2, None, {"hidden": 5})
    assert isinstance(model.config, TinyConfig)
    assert model.seq_len is None and model.config.hidden == 5
    assert model.decode([torch.zeros(3, 2)], length=7).shape == (3, 7, 2)
    assert model.encode(torch.zeros(3, 9, 2))[0][0].shape == (3, 2)  # any length
    loaded = load(save(model, tmp_path / "tiny"))
    assert isinstance(loaded, TinyVAE) and loaded.config == model.config


# -- the models' boundary ------------------------------------------------------------------------------
def _fresh_python(code: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_importing_the_models_imports_no_gymnasium() -> None:
    """The action models know nothing of gymnasium or SB3, and their imports say so too (the data
    package's Normalizer comes without the dataset readers)."""
    out = _fresh_python(
        "import sys, absaction.models as m; m.load, m.QRNN; "
        "print(*(name in sys.modules for name in ('gymnasium', 'stable_baselines3', 'minari')))"
    )
    assert out.split() == ["False", "False", "False"]


@pytest.mark.parametrize(
    "code",
    [
        "import absaction, gymnasium as gym",  # the package first: registered once gymnasium loads
        "import gymnasium as gym, absaction",  # gymnasium first: registered at once
        "import absaction.models, gymnasium as gym",  # through a sub-package
    ],
)
def test_import_absaction_registers_the_envs_in_either_order(code: str) -> None:
    out = _fresh_python(
        f"{code}; env = gym.make('absaction/Reach2DObstacle-v0'); "
        "print(env.spec.id, absaction.envs.ENV_IDS[0])"
    )
    assert out.split() == ["absaction/Reach2DObstacle-v0", "absaction/Reach2D-v0"]
