"""What a cue is: one source of evidence about how a tracked person feels (gait, context, face, gesture, ...).

A cue lives in its own folder and is one subclass of :class:`Cue` naming its settings group and its result
type. Every frame the pipeline hands each cue the frame's judged people twice: with their joint histories
(:class:`PeopleWithHistory`, to :meth:`Cue.prepare`), then with what was prepared (:class:`PreparedPeople`, to
the cue's call), and gets one result per person back. A cue's networks live in its stage (:class:`CueStage`).
A result (types.CueResult) says whether it is valid and why not, and can express itself as :class:`Evidence`
(a distribution over labels.EMOTIONS plus valence/arousal) for fusion, as a one-line summary for CSV and the
debug image, and as a mapping of message fields for its typed message. Pipeline, settings, fusion, messages,
debug image, bag summaries and diagnostics iterate over the cue list (registry.py) and never name a cue.
"""

from __future__ import annotations

import abc
import argparse
import importlib
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from ..configuration import setting
from ..pose import JointHistory
from ..runtime.export import ExportableNetwork
from ..runtime.weights import WeightsPassport
from ..types import CueResult, Frame, JointSequence, TrackedPerson


def fusion_weight_setting(default: float) -> Any:
    """The ``fusion_weight`` field every cue config carries (its share in the fused estimate)."""
    return setting(default, "weight of this cue in the fused estimate (relative to the other cues' weights)",
                   min=0.0, max=100.0, runtime=True)


def interval_setting(default: float) -> Any:
    """The ``min_interval_s`` field of cues whose networks need not run for every track in every frame."""
    return setting(default, "a track's last valid result is reused for this long before the network sees the "
                            "track again (0: every frame) [s]", min=0.0, max=60.0, runtime=True)


@dataclass
class PeopleWithHistory:
    """What :meth:`Cue.prepare` sees, on the front end's thread: the frame's judged people and every track's
    joint history, which moves on with the next frame (so what the cue needs from it is taken now)."""

    frame: Frame
    people: list[TrackedPerson]
    """The people the cue judges now (people with unusable or duplicated input are left out)."""
    history: JointHistory
    """Every track's joint history, at this frame."""


@dataclass
class PreparedPeople:
    """What the cue's call sees, on the cues' thread: the people due for a result and, for each, what
    :meth:`Cue.prepare` took (people whose result prepare() already decided, or a recent one serves, are
    left out)."""

    frame: Frame
    people: list[TrackedPerson]
    prepared: list[Any]
    """What prepare() took for each of ``people``, in order."""


@runtime_checkable
class CueStage(Protocol):
    """What a cue's stage (the part holding its networks, built as ``stage_class(config, device=device)``)
    offers the cue and the pipeline. Its call is the cue's own business (a batch of windows, or an image
    and boxes)."""

    config: Any
    """The cue's settings; replaced when runtime parameters change (:meth:`Cue.update_config`)."""
    status: str
    """What it runs, or why it is off (runtime.loading.stage_load_problem says why it could not load)."""

    @property
    def available(self) -> bool:
        """Whether its networks are loaded (else every result is invalid, carrying ``status``)."""
        ...

    def to(self, device: torch.device) -> None:
        """Move its networks to ``device`` (the node parks them on the CPU while inactive)."""
        ...

    def accelerate(self, mode: str, precision: str) -> str:
        """Run its networks on the path ``mode`` names (runtime.acceleration: eager, compile, tensorrt) at
        ``precision``; a note for the log and /diagnostics (ending ": eager" where it fell back). A stage
        with nothing to accelerate leaves its networks and says so."""
        ...


class Cue(abc.ABC):
    """One cue: a settings group, a label vocabulary, availability, and a batched call on a frame's people."""

    name: ClassVar[str]
    """Settings group, message field and CSV prefix of the cue."""
    config_class: ClassVar[type]
    """Dataclass of the cue's settings; it has a ``fusion_weight`` field (:func:`fusion_weight_setting`)."""
    result_class: ClassVar[type]
    """The cue's result dataclass (a :class:`CueResult`)."""
    stage_class: ClassVar[type[CueStage] | None] = None
    """The stage holding the cue's networks (a :class:`CueStage`), built as ``stage_class(config,
    device=device)``. None for a cue without networks."""
    weights_field: ClassVar[str] = "weights"
    """The config field naming the cue's weights: empty means the cue is off by choice."""
    released_weights: ClassVar[tuple[WeightsPassport, ...]] = ()
    """Passports of the released weights the cue's networks use, defined in its folder (e.g. gait/weights.py):
    `emotion-perception weights list|fetch` show and fetch them (cues.registry.released_weights)."""
    exportable_networks: ClassVar[tuple[ExportableNetwork, ...]] = ()
    """Its networks' ONNX export entries, defined beside their builders (e.g. gait/export.py): `emotion-perception
    export NAME` exports them (cues.registry.exportable_networks). Names are unique over every cue and detector."""
    commands_module: ClassVar[str] = ""
    """Module (absolute, or relative to the cue class's package, e.g. ".cli") whose ``add_commands(subparsers)``
    adds the cue's `emotion-perception` sub-commands (training, evaluation, ...); empty: the cue has none."""

    @classmethod
    def add_commands(cls, subparsers: argparse._SubParsersAction) -> None:
        """Add the cue's sub-commands to the `emotion-perception` command (cli.py asks every registered cue).
        Imported only when the command line is built, so running a pipeline never loads a training module."""
        if cls.commands_module:
            importlib.import_module(cls.commands_module, cls.__module__.rpartition(".")[0]).add_commands(subparsers)

    def __init__(self, config: Any, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.stage: CueStage | None = None
        if self.stage_class is not None:
            self.stage = self.stage_class(config, device=device)
            if not isinstance(self.stage, CueStage):
                raise TypeError(f"cue {self.name!r}: {self.stage_class.__name__} is not a CueStage (it needs config, "
                                "status, available, to(device) and accelerate(mode, precision))")

    @property
    def configured(self) -> bool:
        """Whether the settings ask for this cue (weights named); an unconfigured cue is off by choice."""
        return bool(getattr(self.config, self.weights_field))

    @property
    def available(self) -> bool:
        """Whether the cue produces results (configured, and its model loaded)."""
        return self.stage.available

    @property
    def status(self) -> str:
        """Why the cue is off, or what it runs."""
        return self.stage.status

    def prepare(self, inputs: PeopleWithHistory) -> list[Any]:
        """Per person of ``inputs.people``, what the call will need from state kept over time (read now, from
        ``inputs.history``), or a result already decided (e.g. invalid, with its reason). By default the
        person, as cues that look only at the frame need nothing else."""
        return list(inputs.people)

    @abc.abstractmethod
    def __call__(self, inputs: PreparedPeople) -> list[CueResult]:
        """One result per person of ``inputs.people``, in order; invalid ones say why."""

    @property
    def labels(self) -> tuple[str, ...]:
        """The vocabulary of this cue's results (a cue whose weights choose it says so once loaded)."""
        return self.result_class.labels

    def invalid(self, status: str) -> CueResult:
        """A result saying only why there is none (for people the pipeline does not judge)."""
        return self.result_class(valid=False, status=status)

    def update_config(self, config) -> None:
        """New settings while running (runtime parameters): the cue and its stage read them from now on."""
        self.config = config
        if self.stage is not None:
            self.stage.config = config

    def counters(self) -> dict[str, int | str]:
        """What is worth watching in /diagnostics (e.g. faces that matched nobody), by name; none by default."""
        return {}

    def to(self, device: torch.device) -> None:
        """Move the cue's networks to ``device`` (the node parks them on the CPU while it is inactive)."""
        self.device = device
        if self.stage is not None:
            self.stage.to(device)


class WindowedStage:
    """A stage that classifies joint windows: its config's ``window_frames`` and ``min_frames`` say how long a
    window is and how much history a track needs, in frames at the stage's ``fps``."""

    config: Any

    @property
    def window_frames(self) -> int:
        """Frames per classification window [frames at ``fps``]."""
        return int(self.config.window_frames)

    @property
    def frames_needed(self) -> int:
        """Fewest frames of history [frames at ``fps``] before a track gets a result."""
        return int(self.config.min_frames)


class SequenceCue(Cue):
    """A cue that reads each judged track's recent joint sequence from the history (gait, gesture).

    The cue's stage owns its window, minimum and rate (its ``window_frames``, ``frames_needed`` and ``fps``);
    a track is judged once its history covers the minimum at that rate, with the newest ``window_frames``.
    A track without a usable skeleton in *this* frame gets no result: its window would be stale. The stage
    takes a list of sequences and returns one result each.
    """

    @property
    def window_frames(self) -> int:
        return self.stage.window_frames

    @property
    def frames_needed(self) -> int:
        return self.stage.frames_needed

    @property
    def fps(self) -> float:
        return self.stage.fps

    def refuse(self, sequence: JointSequence) -> str:
        """Why a ready window must not be judged ("" when it may); e.g. gait needs a walk."""
        return ""

    def prepare(self, inputs: PeopleWithHistory) -> list[JointSequence | CueResult]:
        """Each person's window at the cue's rate, or why there is none yet (an invalid result)."""
        history, prepared = inputs.history, []
        for person in inputs.people:
            if history.newest_stamp(person.track_id) != inputs.frame.stamp_ns:
                why = f": {person.skeleton_issue}" if person.skeleton_issue else ""
                prepared.append(self.invalid(f"no usable skeleton in this frame{why}"))
                continue
            frames = min(self.window_frames, history.available_frames(person.track_id, self.fps))
            sequence = history.sequence(person.track_id, frames, self.fps) if frames >= self.frames_needed else None
            if sequence is None:
                prepared.append(self.invalid(f"collecting: {min(frames, self.frames_needed)}/{self.frames_needed} frames"))
                continue
            refusal = self.refuse(sequence)
            prepared.append(self.invalid(refusal) if refusal else sequence)
        return prepared

    def __call__(self, inputs: PreparedPeople) -> list[CueResult]:
        return self.stage(inputs.prepared)  # the pipeline passes only the windows prepare() made
