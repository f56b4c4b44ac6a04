"""STEP-Gen: an ST-GCN conditional VAE that generates labelled gaits, with push-pull regularisation.

After STEP (Bhattacharya et al., AAAI 2020): an encoder of ST-GCN blocks reads a gait together with its
one-hot emotion label (broadcast as extra input channels) and gives the mean and log-variance of a
Gaussian latent; a decoder maps latent ⊕ one-hot label to a coarse spatio-temporal seed, upsamples it in
time and refines it with ST-GCN blocks (the label is appended to its input channels again) into joint
positions. Sampling draws z ~ N(0, I) for the wanted labels.

Gaits are modelled in a *canonical walk frame* (:func:`canonical_walk`): metres, y up, the first frame's
root above the origin, the body turned about the vertical so that its right side faces +z — a person
walking forward then walks along +x, as :func:`synthetic.generate_gait` does with ``heading_deg=0``.
Sampled gaits come back in that frame (a valid gait frame: x right, y up, z towards the camera).

Training loss (all terms averaged over the batch; see docs/gait.md):
  reconstruction  MSE of normalised positions + ``velocity_weight`` · MSE of their frame differences
                  + ``bone_weight`` · MSE of bone lengths [m] (reconstruction vs. input);
  KL              ``kl_weight`` · KL(q(z | x, y) ‖ N(0, I)), summed over latent dimensions;
  pull            ``pull_weight`` · feature matching on gaits decoded from the *prior* with the batch's
                  labels: for every class, the squared distance between the mean standardised affective
                  features (features.py, here differentiable) of its generated gaits and of the real
                  training gaits of that class; plus the time variance of generated bone lengths (rigid
                  limbs);
  push            ``push_weight`` · mean of relu(margin + d_own − d_nearest_other): each generated gait's
                  features must lie nearer (by ``push_margin`` standard units) to its own class's real
                  centroid than to any other class's, so that classes stay separable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ...labels import GAIT_EDGES
from .labels import GAIT_EMOTIONS
from ...runtime.weights import WeightsError, WeightsPassport, load_checkpoint, save_checkpoint
from .features import FEATURE_NAMES, affective_features, affective_features_batch
from .preprocessing import check_sequence
from .stgcn import NUM_JOINTS, STGCNBlock, spatial_partition_graph

ARCHITECTURE = "step_gen"
_BONES = torch.tensor(GAIT_EDGES)
_RIGHT_LEFT_PAIRS = ((10, 13), (4, 7))
"""(right, left) hips and shoulders: the body's right-pointing axis."""


def canonical_walk(gait: np.ndarray) -> np.ndarray:
    """(T, 16, 3) gait-frame walk → the canonical walk frame (see module doc), float64.

    The body's right axis is the mean over frames of right − left hip and shoulder, projected on the
    ground plane; a gait without one (all joints on the vertical) is only translated.
    """
    joints = check_sequence(gait)
    moved = joints - np.array([joints[0, 0, 0], 0.0, joints[0, 0, 2]])
    right = sum(joints[:, r] - joints[:, left] for r, left in _RIGHT_LEFT_PAIRS).mean(axis=0)
    if np.hypot(right[0], right[2]) < 1e-9:
        return moved
    angle = np.arctan2(right[0], right[2])  # rotate about y by this angle: right → +z
    c, s = np.cos(angle), np.sin(angle)
    x, z = moved[..., 0], moved[..., 2]
    return np.stack([c * x - s * z, moved[..., 1], s * x + c * z], axis=-1)


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    """(..., 16, 3) → (..., 15) lengths of labels.GAIT_EDGES."""
    return (joints[..., _BONES[:, 0], :] - joints[..., _BONES[:, 1], :]).norm(dim=-1)


class StepGen(nn.Module):
    """The conditional VAE. Network tensors are normalised (N, 3, T, 16); gaits are (N, T, 16, 3) metres."""

    def __init__(self, window_frames: int = 48, latent_dim: int = 8, hidden_channels: int = 32,
                 temporal_kernel: int = 9, num_classes: int = len(GAIT_EMOTIONS)) -> None:
        super().__init__()
        if temporal_kernel % 2 == 0 or window_frames < 4:
            raise ValueError(f"need an odd temporal kernel and ≥ 4 frames, got {temporal_kernel}, {window_frames}")
        self.window_frames, self.latent_dim, self.num_classes = window_frames, latent_dim, num_classes
        self.register_buffer("A", torch.from_numpy(spatial_partition_graph()))
        self.register_buffer("position_mean", torch.zeros(3, 1, NUM_JOINTS))
        self.register_buffer("position_scale", torch.ones(3, 1, NUM_JOINTS))
        kernels, c = self.A.shape[0], hidden_channels
        self.encoder_blocks = nn.ModuleList([
            STGCNBlock(3 + num_classes, c, kernels, temporal_kernel),
            STGCNBlock(c, 2 * c, kernels, temporal_kernel, stride=2),
            STGCNBlock(2 * c, 2 * c, kernels, temporal_kernel, stride=2),
        ])
        self.encoder_importance = nn.ParameterList([nn.Parameter(torch.ones_like(self.A)) for _ in self.encoder_blocks])
        self.to_latent = nn.Linear(2 * c + num_classes, 2 * latent_dim)
        self.seed_frames = (window_frames + 3) // 4
        self.seed = nn.Linear(latent_dim + num_classes, c * self.seed_frames * NUM_JOINTS)
        self.decoder_blocks = nn.ModuleList([
            STGCNBlock(c + num_classes, c, kernels, temporal_kernel),
            STGCNBlock(c, c, kernels, temporal_kernel),
        ])
        self.decoder_importance = nn.ParameterList([nn.Parameter(torch.ones_like(self.A)) for _ in self.decoder_blocks])
        self.to_positions = nn.Conv2d(c, 3, kernel_size=1)

    def _one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.A.device)
        if labels.ndim != 1 or (labels < 0).any() or (labels >= self.num_classes).any():
            raise ValueError(f"labels must be a 1-D sequence of class indices 0..{self.num_classes - 1}")
        return F.one_hot(labels, self.num_classes).float()

    @staticmethod
    def _broadcast(one_hot: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return one_hot[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])

    def normalise(self, gaits: torch.Tensor) -> torch.Tensor:
        """(N, T, 16, 3) canonical-frame metres → (N, 3, T, 16) network tensor.

        Joint 0's channels carry the root trajectory, the others each joint relative to the root in
        the same frame; every joint coordinate is then standardised.
        """
        layout = gaits - gaits[:, :, :1]
        layout = torch.cat([gaits[:, :, :1], layout[:, :, 1:]], dim=2)
        return (layout.permute(0, 3, 1, 2) - self.position_mean) / self.position_scale

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, 16) network tensor → (N, T, 16, 3) metres (inverse of :meth:`normalise`)."""
        layout = (x * self.position_scale + self.position_mean).permute(0, 2, 3, 1)
        root = layout[:, :, :1]
        return torch.cat([root, layout[:, :, 1:] + root], dim=2)

    def set_normalisation(self, gaits: torch.Tensor) -> None:
        """Mean and standard deviation (≥ 2 cm) per joint coordinate of canonical training gaits (N, T, 16, 3)."""
        self.position_mean.zero_()
        self.position_scale.fill_(1.0)
        layout = self.normalise(gaits)
        self.position_mean.copy_(layout.mean(dim=(0, 2), keepdim=True)[0])
        self.position_scale.copy_(layout.std(dim=(0, 2), keepdim=True)[0].clamp_min(0.02))

    def encode(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, T, 16) normalised gaits + labels → latent mean and log-variance (N, latent_dim)."""
        one_hot = self._one_hot(labels)
        h = torch.cat([x, self._broadcast(one_hot, x)], dim=1)
        for block, importance in zip(self.encoder_blocks, self.encoder_importance):
            h = block(h, self.A * importance)
        mean, log_var = self.to_latent(torch.cat([h.mean(dim=(2, 3)), one_hot], dim=1)).chunk(2, dim=1)
        return mean, log_var

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Latent (N, latent_dim) + labels → (N, 3, window_frames, 16) normalised gaits."""
        one_hot = self._one_hot(labels)
        h = self.seed(torch.cat([z, one_hot], dim=1)).view(len(z), -1, self.seed_frames, NUM_JOINTS)
        h = F.interpolate(h, size=(self.window_frames, NUM_JOINTS), mode="bilinear", align_corners=True)
        h = torch.cat([h, self._broadcast(one_hot, h)], dim=1)
        for block, importance in zip(self.decoder_blocks, self.decoder_importance):
            h = block(h, self.A * importance)
        return self.to_positions(h)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction (reparameterised sample), latent mean, latent log-variance."""
        mean, log_var = self.encode(x, labels)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decode(z, labels), mean, log_var

    def sample(self, labels: torch.Tensor, n_frames: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Gaits decoded from z ~ N(0, I): (N, n_frames, 16, 3) metres, canonical walk frame.

        ``n_frames`` ≤ window_frames (default: the window) keeps the first frames of the window.
        """
        n_frames = self.window_frames if n_frames is None else int(n_frames)
        if not 1 <= n_frames <= self.window_frames:
            raise ValueError(f"this STEP-Gen generates 1..{self.window_frames} frames, asked for {n_frames}")
        labels = torch.as_tensor(labels, dtype=torch.long)
        z = torch.randn(len(labels), self.latent_dim, generator=generator).to(self.A.device)
        return self.denormalise(self.decode(z, labels))[:, :n_frames]


def step_gen(window_frames: int = 48, latent_dim: int = 8, hidden_channels: int = 32,
             temporal_kernel: int = 9, num_classes: int = len(GAIT_EMOTIONS)) -> StepGen:
    """STEP-Gen CVAE (untrained; normalisation is set from the training gaits by train_step_gen)."""
    return StepGen(window_frames, latent_dim, hidden_channels, temporal_kernel, num_classes)


@dataclass
class StepGenConfig:
    """Settings of `emotion-perception train-step-gen` (builder arguments, loss weights, optimisation)."""

    window_frames: int = field(default=48, metadata={"help": "frames per generated gait / training crop [frames]"})
    latent_dim: int = field(default=8, metadata={"help": "size of the Gaussian latent"})
    hidden_channels: int = field(default=32, metadata={"help": "ST-GCN channels (encoder 1x/2x/2x, decoder 1x)"})
    temporal_kernel: int = field(default=9, metadata={"help": "ST-GCN temporal kernel [frames] (odd)"})
    fps: float = field(default=30.0, metadata={"help": "frame rate of the gaits [Hz] (affective features)"})
    epochs: int = field(default=150, metadata={"help": "passes over the training set"})
    batch_size: int = field(default=16, metadata={"help": "gaits per optimisation step"})
    learning_rate: float = field(default=3e-3, metadata={"help": "Adam learning rate"})
    kl_weight: float = field(default=0.01, metadata={"help": "weight of the KL term (after linear warm-up)"})
    kl_warmup_epochs: int = field(default=10, metadata={"help": "epochs over which the KL weight ramps from 0 [epochs]"})
    velocity_weight: float = field(default=0.5, metadata={"help": "weight of the frame-difference reconstruction term"})
    bone_weight: float = field(default=10.0, metadata={"help": "weight of the bone-length terms [1/m^2]"})
    pull_weight: float = field(default=0.1, metadata={"help": "weight of the pull (class feature matching) term"})
    push_weight: float = field(default=0.1, metadata={"help": "weight of the push (class margin) term"})
    push_margin: float = field(default=1.0, metadata={"help": "push margin [standardised feature units]"})
    seed: int = field(default=0, metadata={"help": "seed of torch and numpy (crops, initialisation, latents)"})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu or cuda"})


@dataclass
class FeatureStatistics:
    """Affective-feature standardisation and per-class centroids of the real training gaits."""

    mean: torch.Tensor
    scale: torch.Tensor
    centroids: torch.Tensor
    """(classes, 27) standardised; NaN rows for classes absent from the data."""

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.scale


def feature_statistics(gaits: np.ndarray, labels: np.ndarray, fps: float, num_classes: int) -> FeatureStatistics:
    """Computed with features.affective_features over (N, T, 16, 3) canonical gaits."""
    features = torch.from_numpy(np.stack([affective_features(g, fps) for g in gaits])).float()
    mean, scale = features.mean(dim=0), features.std(dim=0).clamp_min(1e-6)
    standard = (features - mean) / scale
    labels_t = torch.as_tensor(labels)
    centroids = torch.stack([standard[labels_t == k].mean(dim=0) if (labels_t == k).any()
                             else torch.full((features.shape[1],), float("nan")) for k in range(num_classes)])
    return FeatureStatistics(mean, scale, centroids)


def step_gen_losses(model: StepGen, gaits: torch.Tensor, labels: torch.Tensor, stats: FeatureStatistics,
                    config: StepGenConfig, kl_weight: float | None = None) -> dict[str, torch.Tensor]:
    """Loss terms (weighted) and their sum ``total`` for a batch of canonical gaits (N, T, 16, 3) metres."""
    x = model.normalise(gaits)
    reconstruction, mean, log_var = model(x, labels)
    recon_gaits = model.denormalise(reconstruction)
    terms = {
        "reconstruction": F.mse_loss(reconstruction, x)
        + config.velocity_weight * F.mse_loss(reconstruction.diff(dim=2), x.diff(dim=2))
        + config.bone_weight * F.mse_loss(bone_lengths(recon_gaits), bone_lengths(gaits)),
        "kl": (config.kl_weight if kl_weight is None else kl_weight)
        * (-0.5 * (1 + log_var - mean ** 2 - log_var.exp()).sum(dim=1).mean()),
    }
    generated = model.denormalise(model.decode(torch.randn_like(mean), labels))
    features = stats.standardise(affective_features_batch(generated, config.fps, cos_margin=1e-6))
    present = [int(k) for k in torch.unique(labels)]
    matching = torch.stack([(features[labels == k].mean(dim=0) - stats.centroids[k]).pow(2).mean() for k in present])
    rigidity = bone_lengths(generated).var(dim=1).mean()
    terms["pull"] = config.pull_weight * matching.mean() + config.bone_weight * rigidity
    known = ~torch.isnan(stats.centroids).any(dim=1)
    distances = torch.cdist(features, torch.nan_to_num(stats.centroids))
    own = distances.gather(1, labels[:, None]).squeeze(1)
    others = distances.masked_fill(~known[None] | F.one_hot(labels, model.num_classes).bool(), float("inf"))
    nearest_other = others.min(dim=1).values
    push = torch.relu(config.push_margin + own - nearest_other)
    terms["push"] = config.push_weight * (push[torch.isfinite(nearest_other)].mean()
                                          if torch.isfinite(nearest_other).any() else own.sum() * 0)
    terms["total"] = sum(terms.values())
    return terms


def training_windows(gaits: list[np.ndarray], labels: np.ndarray, window_frames: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Keep the gaits with at least ``window_frames`` frames (a tiled walk would jump back); error if none."""
    kept = [i for i, g in enumerate(gaits) if len(g) >= window_frames]
    if not kept:
        shortest = min((len(g) for g in gaits), default=0)
        raise ValueError(f"no gait has {window_frames} frames (longest {max((len(g) for g in gaits), default=0)}, "
                         f"shortest {shortest}); choose a shorter window_frames")
    return [check_sequence(gaits[i]) for i in kept], np.asarray(labels)[kept]


def _crops(gaits: list[np.ndarray], window: int, rng: np.random.Generator) -> torch.Tensor:
    starts = [int(rng.integers(0, len(g) - window + 1)) for g in gaits]
    return torch.from_numpy(np.stack([canonical_walk(g[s:s + window]) for g, s in zip(gaits, starts)])).float()


def train_step_gen(gaits: list[np.ndarray], labels: np.ndarray, config: StepGenConfig,
                   progress: bool = True) -> tuple[StepGen, list[dict[str, float]]]:
    """Train STEP-Gen from scratch on labelled gaits (labels.GAIT_EMOTIONS indices).

    Each epoch takes one random ``window_frames`` crop of every gait (gaits shorter than that are left
    out). Returns the model (eval mode) and, per epoch, the mean of every weighted loss term.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    gaits, labels = training_windows(gaits, labels, config.window_frames)
    model = step_gen(config.window_frames, config.latent_dim, config.hidden_channels, config.temporal_kernel)
    first_crops = _crops(gaits, config.window_frames, rng)
    model.set_normalisation(first_crops)
    model.to(config.device)
    stats = feature_statistics(first_crops.numpy(), labels, config.fps, model.num_classes)
    stats = FeatureStatistics(*(t.to(config.device) for t in (stats.mean, stats.scale, stats.centroids)))
    targets = torch.as_tensor(labels, dtype=torch.long)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    history: list[dict[str, float]] = []
    epochs = tqdm(range(config.epochs), desc="train step_gen", disable=not progress)
    for epoch in epochs:
        model.train()
        crops = first_crops if epoch == 0 else _crops(gaits, config.window_frames, rng)
        kl_weight = config.kl_weight * min(1.0, (epoch + 1) / max(config.kl_warmup_epochs, 1))
        order = rng.permutation(len(targets))
        sums: dict[str, float] = {}
        for start in range(0, len(order), config.batch_size):
            batch = torch.from_numpy(order[start:start + config.batch_size])
            if len(batch) < 2:  # BatchNorm needs two samples
                continue
            terms = step_gen_losses(model, crops[batch].to(config.device), targets[batch].to(config.device),
                                    stats, config, kl_weight)
            optimiser.zero_grad()
            terms["total"].backward()
            optimiser.step()
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) * len(batch)
        history.append({name: value / len(targets) for name, value in sums.items()})
        epochs.set_postfix(loss=f"{history[-1]['total']:.3f}")
    model.eval()
    return model, history


def sample_gaits(model: StepGen, labels, n_frames: int | None = None, seed: int = 0,
                 batch_size: int = 256) -> np.ndarray:
    """Generated gaits for ``labels`` (GAIT_EMOTIONS indices): (N, T, 16, 3) float32 metres, canonical walk frame."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    model.eval()
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(labels), batch_size):
            chunks.append(model.sample(labels[start:start + batch_size], n_frames, generator).cpu())
    if not chunks:
        return np.zeros((0, n_frames or model.window_frames, NUM_JOINTS, 3), np.float32)
    return torch.cat(chunks).numpy().astype(np.float32)


_BUILDER_FIELDS = ("window_frames", "latent_dim", "hidden_channels", "temporal_kernel")


def save_step_gen(model: StepGen, config: StepGenConfig, path: str | Path, trained_on: str) -> Path:
    """Checkpoint NAME.pt + passport NAME.json (architecture "step_gen", builder arguments and training settings)."""
    path = Path(path).with_suffix(".pt")
    builder = {name: getattr(config, name) for name in _BUILDER_FIELDS}
    passport = WeightsPassport(
        name=path.stem, architecture=ARCHITECTURE, labels=GAIT_EMOTIONS, trained_on=trained_on,
        preprocessing="canonical walk frame (stepgen.canonical_walk): metres, y up, frame-0 root above the origin, "
                      "body's right side towards +z; windows of window_frames frames",
        joint_order=(), config={**builder, "fps": config.fps, "feature_names": list(FEATURE_NAMES),
                                "training": asdict(config)})
    return save_checkpoint(model.state_dict(), passport, path)


def load_step_gen(path: str | Path, device: str = "cpu") -> tuple[StepGen, WeightsPassport]:
    """Load our STEP-Gen checkpoint (weights_only) with its passport; the model is in eval mode."""
    state, passport = load_checkpoint(Path(path).expanduser(), ARCHITECTURE)
    if tuple(passport.labels) != GAIT_EMOTIONS:
        raise WeightsError(f"{path}: labels {passport.labels} are not {GAIT_EMOTIONS} in that order")
    model = step_gen(**{name: int(passport.config[name]) for name in _BUILDER_FIELDS})
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path} does not fit the step_gen network: {exc}".splitlines()[0]) from exc
    return model.to(device).eval(), passport


