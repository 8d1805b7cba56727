"""Where absaction keeps things inside a Minari dataset, shared by the writer and the reader.

A dataset written by ``absaction collect`` is an ordinary Minari dataset folder::

    DIR/
      data/main_data.hdf5     episodes (observations, actions, rewards, terminations, truncations, infos)
      data/metadata.json      Minari metadata, plus "factor_names" (the list below) and "env_id"
      collect.json            the resolved collect configuration and its summary

Ground-truth factors are per-episode constants. Minari stores infos per step, so each factor is repeated
at every step (T + 1 entries, the reset included) under ``infos["factors"][name]``; ``metadata.json``
lists their names, in order, under ``"factor_names"``. The reader also accepts factors stored as flat
info keys (``infos[name]``) when the metadata lists them, so datasets made by other tools can carry
factors too.
"""

from __future__ import annotations

#: metadata.json key listing the ground-truth factor names, in column order.
FACTOR_NAMES_KEY = "factor_names"
#: metadata.json key with the gymnasium id of the collecting env (Minari's env_spec may be absent).
ENV_ID_KEY = "env_id"
#: infos sub-group holding one array per factor, each of length T + 1.
INFO_FACTORS_KEY = "factors"
#: per-step success flag (stable-baselines3 / gymnasium-robotics convention).
INFO_SUCCESS_KEY = "is_success"
#: sub-folder of a Minari dataset that holds its files.
DATA_SUBDIR = "data"
#: Minari's metadata file inside ``data/``.
METADATA_FILE = "metadata.json"
#: the collect configuration and summary, beside ``data/``.
COLLECT_FILE = "collect.json"
