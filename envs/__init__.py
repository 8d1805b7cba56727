"""Gymnasium environments and scripted experts (installed as ``absaction.envs``)."""
