"""The VAE study: ladder TCVLAE vs flat TCVAE vs plain beta-VAE, and what each capacity mode does: the
paper's claims, the capacity study and the speed target (``python -m benchmarks.vae``; see ``README.md``
beside this file).

What it does, top to bottom:

1. **Data.** Collects (``absaction.data.collect``) the scripted-expert datasets it trains on and caches them
   under ``OUT/work/data`` (re-collected only when their settings change): ``reach2d``
   (``absaction/Reach2D-v0``, the paper's world, 32-step episodes) and ``wavy``
   (``absaction/WavyReach2D-v0``, five goals and wavy paths, 64 steps), 400 episodes each, seed 0, with
   a little action noise (``--noise 0.05``; see :class:`~.catalogue.VAEBenchConfig` for why not none). With
   ``--paths FILE.npz`` also ``paths``: recorded way-points (e.g. the public FAVAE "2D Reaching"
   ``reaching_100.npz``, which is not part of this repository) tracked in ``absaction/Reach2D-v0`` by
   :class:`absaction.envs.PathSetExpert` (``--reach-episodes`` episodes, resampled to 32 steps), scored
   like ``reach2d``.
2. **Runs.** Every model variant of :data:`~.catalogue.VARIANTS` x every dataset x ``--seeds`` seeds,
   each trained with :func:`absaction.train.fit` (the library entry point ``absaction train`` uses) on
   ``--threads`` torch threads (default 1). Every variant uses the library's defaults (``TrainConfig``:
   beta, sigma, epochs, learning rate, ...; recorded in ``summary.json``); only the model and the
   capacity mode differ.
3. **Per run.** Wall time of ``fit`` from call to return (data loading, training, checkpoints),
   training throughput (training windows x epochs / training-loop seconds), reconstruction error (MSE
   of the posterior-mean reconstruction, in the env's action units), KL and active units per ladder,
   MIG over all latents and over the active units, SAP, DCI, and for every factor its active-unit MIG
   and the *ladder that holds it* (the ladder of the active latent with the largest mutual information
   with that factor); as a cross-check, the same MIG with sequences coded by posterior draws
   (:func:`~.scoring.sampled_mig`). On ``reach2d`` the bulge is scored in both labellings, ``bulge_out``
   (outward/inward, the paper's) and ``bulge_right`` (absolute left/right): the two are deterministic
   relabellings of each other given the target, so the overall scores are computed per labelling
   (factors ``target, bulge_X, curvature``). Everything is measured on every window of the dataset
   (training and validation episodes), as ``absaction evaluate`` does.
4. **Disentangled?** (the study's target) A run is *disentangled* when the target and the bulge (in the
   labelling that scores higher) are each carried by one active latent, two different latents, each
   with an active-unit MIG of at least 0.9.
5. **Speed check.** For every seed, ``python -m absaction train`` with the default settings on the
   ``reach2d`` data, timed from process start to exit, then evaluated as above: the study's speed target
   is a disentangled result in at most 15 s on 2 cores.
6. **Capacity study.** The per-epoch KL and capacity C of every ladder (the runs' ``metrics.csv``) for
   the TCVLAE with adaptive ``(KL - C)`` (the paper), adaptive ``|KL - C|``, Burgess' linear ramp and no
   capacity (plain beta-VAE), plotted as one grid per dataset (rows = modes, columns = ladders and the
   total), and summarised in plain sentences (see :func:`~.findings.capacity_findings`).

Outputs (in ``--out``, default ``benchmarks/results/vae``): ``results.csv`` (one row per run),
``capacity_curves.csv`` (one row per run and epoch), ``summary.json`` (configuration, machine, means with
95 % t-intervals over seeds, claims, findings), ``summary.md`` (tables ready for the README),
``capacity_<dataset>.png``, ``traversals/<dataset>_<model>.png`` (``absaction traverse --all`` style grid of
the first seed of every model). ``OUT/work`` holds the datasets and run folders (ignored by git).

Usage (from a checkout of the repository)::

    python -m benchmarks.vae                                # 6 models x 2 datasets x 5 seeds
    python -m benchmarks.vae --quick --out bench-vae-quick  # smoke test: 1 seed, 3 epochs, tiny data
    python -m benchmarks.vae --datasets reach2d --models tcvlae,tcvae --seeds 3
    python -m benchmarks.vae --datasets paths --paths reaching_100.npz --noise 0.02
    python -m benchmarks.vae --resume                       # reuse the runs a broken call finished

Existing results are refused unless ``--force`` (recompute everything) or ``--resume`` (reuse finished
runs whose settings match) is given.

The modules, each importing only those above it: :mod:`~.catalogue` (variants, datasets,
:class:`~.catalogue.VAEBenchConfig`, the quick preset; torch-free) -> :mod:`~.cells` (numbers as table
cells) -> :mod:`~.scoring` -> :mod:`~.figures` -> :mod:`~.runs` -> :mod:`~.findings` -> :mod:`~.tables` ->
:mod:`~.sweep`; the t-intervals are :func:`absaction.bench.stats.mean_interval`. The command line is
:mod:`benchmarks.vae.cli`.
"""
