"""Stable-baselines3 agents on primitive or latent actions (installed as ``absaction.agents``)."""
