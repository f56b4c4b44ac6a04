"""ST-GCN gait classifier in STEP's configuration, and STEP's hybrid with affective features.

The module and parameter names follow the released state_dict (``data_bn``, ``st_gcn_networks.i.gcn``,
``.tcn``, ``.residual``, ``edge_importance.i``, ``fcn``), so STEP's weights load strictly.
Input layout: (N, 3, T, 16, 1) — coordinates, time, joints, persons (always 1 here).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...labels import GAIT_EDGES

NUM_JOINTS = 16
CENTER_JOINT = 0
TEMPORAL_KERNEL = 75
"""STEP's temporal kernel length [frames] (2.5 s at 30 fps)."""


def spatial_partition_graph(num_joints: int = NUM_JOINTS, edges=GAIT_EDGES, center: int = CENTER_JOINT) -> np.ndarray:
    """ST-GCN's 'spatial' partition (3, V, V) for one hop, as STEP stores it in its ``A`` buffer.

    The adjacency with self-loops is normalised by column degree, then split by each joint's distance
    to the centre: kernel 0 the self loops, kernel 1 the edges whose receiving joint j is not nearer
    the centre than the sending joint i, kernel 2 the edges towards the centre. As in ST-GCN, distances
    are counted only up to one hop (farther joints are "infinitely" far and therefore equally far),
    which is what makes the released weights' graph.
    """
    adjacency = np.eye(num_joints)
    for i, j in edges:
        adjacency[i, j] = adjacency[j, i] = 1
    normalised = adjacency / adjacency.sum(axis=0, keepdims=True)
    to_center = np.where(adjacency[center] > 0, 1.0, np.inf)
    to_center[center] = 0.0
    kernels = np.zeros((3, num_joints, num_joints))
    for j, i in zip(*np.nonzero(adjacency)):
        if i == j:
            kernels[0, j, i] = normalised[j, i]
        elif to_center[j] >= to_center[i]:
            kernels[1, j, i] = normalised[j, i]
        else:
            kernels[2, j, i] = normalised[j, i]
    return kernels.astype(np.float32)


class GraphConv(nn.Module):
    """Spatial graph convolution: a 1x1 conv to K*C_out channels, then contraction with the K adjacencies."""

    def __init__(self, in_channels: int, out_channels: int, kernels: int) -> None:
        super().__init__()
        self.kernels = kernels
        self.conv = nn.Conv2d(in_channels, out_channels * kernels, kernel_size=1)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.kernels, kc // self.kernels, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, adjacency)


class STGCNBlock(nn.Module):
    """Graph conv, then BN-ReLU-temporal conv-BN, plus a residual path, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernels: int, temporal_kernel: int,
                 stride: int = 1, residual: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, kernels)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), ((temporal_kernel - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return torch.relu(self.tcn(self.gcn(x, adjacency)) + res)


class STGCN(nn.Module):
    """STEP's ST-GCN classifier; ``forward`` returns raw logits (STEP's own forward adds a softmax)."""

    def __init__(self, num_classes: int = 4, in_channels: int = 3, channels: tuple[int, ...] = (32, 64, 64),
                 strides: tuple[int, ...] = (1, 2, 1), temporal_kernel: int = TEMPORAL_KERNEL,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("A", torch.from_numpy(spatial_partition_graph()))
        kernels, joints = self.A.shape[0], self.A.shape[1]
        self.data_bn = nn.BatchNorm1d(in_channels * joints)
        blocks, previous = [], in_channels
        for out_channels, stride in zip(channels, strides):
            blocks.append(STGCNBlock(previous, out_channels, kernels, temporal_kernel, stride, dropout=dropout))
            previous = out_channels
        self.st_gcn_networks = nn.ModuleList(blocks)
        self.edge_importance = nn.ParameterList([nn.Parameter(torch.ones_like(self.A)) for _ in blocks])
        self.fcn = nn.Conv2d(previous, num_classes, kernel_size=1)
        self.embedding_size = previous

    @property
    def input_norm(self) -> nn.BatchNorm1d:
        """The input BatchNorm (48 channels, joint·3 + coordinate): its running statistics describe the training inputs."""
        return self.data_bn

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, V, M) → pooled (N, C) embedding (mean over time, joints and persons)."""
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for block, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = block(x, self.A * importance)
        return x.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedding = self.embed(x)
        return self.fcn(embedding[:, :, None, None]).flatten(1)


class STGCNAffective(nn.Module):
    """STEP's hybrid: the pooled ST-GCN embedding concatenated with affective features, then an MLP."""

    def __init__(self, num_classes: int = 4, num_features: int = 27, hidden: int = 32,
                 temporal_kernel: int = TEMPORAL_KERNEL, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = STGCN(num_classes, temporal_kernel=temporal_kernel)
        self.feature_bn = nn.BatchNorm1d(num_features)
        self.head = nn.Sequential(
            nn.Linear(self.backbone.embedding_size + num_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    @property
    def input_norm(self) -> nn.BatchNorm1d:
        return self.backbone.data_bn

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.backbone.embed(x), self.feature_bn(features)], dim=1))


def stgcn_step(num_classes: int = 4, temporal_kernel: int = TEMPORAL_KERNEL) -> STGCN:
    """ST-GCN exactly as in STEP's released classifier (3 blocks 32/64/64, strides 1/2/1, kernel 75)."""
    return STGCN(num_classes, temporal_kernel=temporal_kernel)


def stgcn_affective(num_classes: int = 4, num_features: int = 27, temporal_kernel: int = TEMPORAL_KERNEL) -> STGCNAffective:
    """STEP's hybrid classifier (no released weights: train it with `emotion-perception train-gait`)."""
    return STGCNAffective(num_classes, num_features, temporal_kernel=temporal_kernel)
