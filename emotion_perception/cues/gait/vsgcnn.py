"""ProxEmo's VS-GCNN: a grouped-convolution CNN over gait "images", one output per (emotion, view group).

Module names follow the released state_dict (``conv_stage_1.VSGCNN_stage_1_conv_0`` ...), so ProxEmo's
weights load strictly. Input: (N, 244, 244, 3) images laid out [time, joint, xyz] as ProxEmo's loader
makes them (see preprocessing.proxemo_images); output: (N, 16) non-negative scores, index 4·emotion + view
group, in ProxEmo's emotion order (angry, happy, sad, neutral).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

IMAGE_SIZE = 244
NUM_VIEW_GROUPS = 4


def _conv(in_channels: int, out_channels: int, groups: int = 1, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, groups=groups)


class VSGCNN(nn.Module):
    """View-specific group CNN: each of ``groups`` channel groups learns one view group's features."""

    def __init__(self, num_classes: int = 4, groups: int = NUM_VIEW_GROUPS, dropout: float = 0.2) -> None:
        super().__init__()
        self.num_classes, self.groups = num_classes, groups
        self.conv_stage_1 = nn.Sequential(OrderedDict([
            ("VSGCNN_stage_1_conv_0", _conv(3, 32)), ("relu_0", nn.ReLU()),
            ("VSGCNN_stage_1_conv_1", _conv(32, 128)), ("relu_1", nn.ReLU()),
            ("pool_1", nn.MaxPool2d(3, 2)),
            ("VSGCNN_stage_1_conv_2", _conv(128, 128, groups)), ("relu_2", nn.ReLU()),
            ("pool_2", nn.MaxPool2d(3, 2)),
            ("VSGCNN_stage_1_bn_", nn.BatchNorm2d(128)),
            ("dropout", nn.Dropout(dropout)),
        ]))
        self.conv_stage_2 = nn.Sequential(OrderedDict([
            ("VSGCNN_stage_2_conv_1", _conv(128, 256, groups)), ("relu_1", nn.ReLU()),
            ("pool_1", nn.MaxPool2d(3, 2)),
            ("VSGCNN_stage_2_conv_2", _conv(256, 256, groups)), ("relu_2", nn.ReLU()),
            ("pool_2", nn.MaxPool2d(3, 2)),
            ("VSGCNN_stage_2_bn_", nn.BatchNorm2d(256)),
            ("dropout", nn.Dropout(dropout)),
        ]))
        self.final_layers = nn.Sequential(OrderedDict([
            ("VSGCNN_stage_3_conv_1", _conv(256, 64, groups)), ("relu_1", nn.ReLU()),
            ("VSGCNN_stage_3_conv_2", _conv(64, 1, stride=2)), ("relu_2", nn.ReLU()),
        ]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, time, joint, 3) images → (N, num_classes · groups) scores.

        The network sees (N, 3, joint, time), the transpose ProxEmo's own forward applies.
        """
        x = images.permute(0, 3, 2, 1)
        return self.final_layers(self.conv_stage_2(self.conv_stage_1(x))).flatten(1)


def combine_views(view_outputs: torch.Tensor, view_groups: torch.Tensor | list[int]) -> torch.Tensor:
    """Per-emotion decision from several views: mean over views of each view's own group column.

    view_outputs (N, V, 4·G) and the group of each view (V,) → (N, 4) scores, k = 4·emotion + group.
    """
    groups = torch.as_tensor(view_groups, dtype=torch.long, device=view_outputs.device)
    n, v, k = view_outputs.shape
    per_emotion = view_outputs.view(n, v, k // NUM_VIEW_GROUPS, NUM_VIEW_GROUPS)
    index = groups.view(1, v, 1, 1).expand(n, v, per_emotion.shape[2], 1)
    return per_emotion.gather(3, index).squeeze(3).mean(dim=1)


def vsgcnn_proxemo(num_classes: int = 4) -> VSGCNN:
    """VS-GCNN in ProxEmo's released configuration (4 view groups, 16 outputs)."""
    return VSGCNN(num_classes, NUM_VIEW_GROUPS)
