"""The one check every network stage (each cue's stage, the lifter, each detector backend) makes before it
loads its weights, so that a stage that cannot load says why in the same words everywhere."""

from __future__ import annotations

from typing import Any

import torch

from ..configuration import validate_config


def stage_load_problem(config: Any, group: str, device: torch.device | str, no_weights: str,
                       weights_field: str = "weights") -> str:
    """Why the stage of settings group ``group`` cannot load its weights ("" when it may try): none configured
    in ``config.<weights_field>`` (then ``no_weights``, which says how to get some), settings that do not hold
    together, or CUDA asked for on a machine without it (a stage built outside the pipeline, which falls back
    to the CPU itself)."""
    if not getattr(config, weights_field):
        return no_weights
    try:
        validate_config(config, group)
    except ValueError as exc:
        return f"bad settings: {exc}"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return f"device {str(device)!r} asked for, but CUDA is not available"
    return ""
