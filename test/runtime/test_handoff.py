"""The hand-off between a live stream and its workers: newest frame wins, superseded frames counted, results in
the order taken with overlap, and closing unblocks every worker. Threads meet on events, never on sleeps."""

from __future__ import annotations

import threading

import pytest

from emotion_perception.runtime.handoff import FrameHandoff

MS = 1_000_000
JOIN_S = 30.0
"""Generous bound for a thread that must end: reaching it is the failure, not a timing."""


def ended(thread: threading.Thread) -> bool:
    thread.join(JOIN_S)
    return not thread.is_alive()


def test_the_newest_frame_wins_and_the_superseded_ones_are_counted():
    handoff: FrameHandoff[str, None] = FrameHandoff(overlap=False)
    assert handoff.take(block=False) is None, "nothing offered, nothing to take"
    assert handoff.offer(0, "a") is False
    assert handoff.offer(10 * MS, "b") is True, "b replaces a, which waited"
    assert handoff.offer(40 * MS, "c") is True
    taken = handoff.take()
    assert (taken.item, taken.stamp_ns) == ("c", 40 * MS) and handoff.superseded == 2
    assert taken.input_gap_s == pytest.approx(0.030), "the largest gap among the offered frames, not 40 ms"
    assert handoff.offer(30 * MS, "d") is False, "the slot was emptied by the take"
    assert handoff.take().input_gap_s == pytest.approx(0.010), "a stamp going back counts by its size"
    assert handoff.take(block=False) is None and handoff.superseded == 2


def test_a_replacing_hand_off_measures_gaps_from_the_frames_before_it():
    first: FrameHandoff[str, None] = FrameHandoff(overlap=False)
    first.offer(0, "a")
    first.take()
    first.close()
    second: FrameHandoff[str, None] = FrameHandoff(overlap=False, follows=first)
    second.offer(2000 * MS, "b")
    assert second.take().input_gap_s == pytest.approx(2.0), "a pause between activations is a gap of the stream"
    fresh: FrameHandoff[str, None] = FrameHandoff(overlap=False)
    fresh.offer(5000 * MS, "c")
    assert fresh.take().input_gap_s == 0.0, "the very first frame has no gap"


def test_with_overlap_results_reach_the_back_worker_in_the_order_taken():
    """A producer offers frames as fast as it can, the front worker takes the newest and passes it on, the back
    worker collects: the back worker sees exactly the frames taken, in stamp order; the rest were superseded."""
    frames = 2000
    handoff: FrameHandoff[int, int] = FrameHandoff(overlap=True)
    taken: list[int] = []
    judged: list[int] = []
    last_judged = threading.Event()

    def front() -> None:
        while (frame := handoff.take()) is not None:
            taken.append(frame.item)
            handoff.pass_on(frame.item)

    def back() -> None:
        while (result := handoff.take_passed()) is not None:
            judged.append(result)
            if result == frames - 1:
                last_judged.set()

    workers = [threading.Thread(target=front), threading.Thread(target=back)]
    for worker in workers:
        worker.start()
    for index in range(frames):
        handoff.offer(index * MS, index)
    assert last_judged.wait(JOIN_S), "the last frame offered is never superseded"
    handoff.close()
    assert all(ended(worker) for worker in workers)
    assert judged == taken, "the back worker drops nothing and keeps the order"
    assert judged == sorted(set(judged)) and judged[-1] == frames - 1
    assert len(taken) + handoff.superseded == frames


def test_a_full_back_slot_holds_the_front_worker_until_the_back_worker_takes():
    handoff: FrameHandoff[int, str] = FrameHandoff(overlap=True)
    assert handoff.pass_on("first") is True
    worker = threading.Thread(target=handoff.pass_on, args=("second",))
    worker.start()
    assert handoff.take_passed() == "first", "second waits behind first, never overtakes or replaces it"
    assert ended(worker) and handoff.take_passed() == "second"


def in_thread(outcomes: dict[str, object], name: str, call, *args) -> threading.Thread:
    """Run ``call`` on a thread of its own, its return value kept under ``name``; returns once the thread is
    about to call it (it then blocks at once, holding the interpreter until it does)."""
    about_to_call = threading.Event()

    def run() -> None:
        about_to_call.set()
        outcomes[name] = call(*args)

    thread = threading.Thread(target=run)
    thread.start()
    assert about_to_call.wait(JOIN_S)
    return thread


def test_closing_wakes_every_waiting_worker_with_nothing_to_do():
    handoff: FrameHandoff[int, str] = FrameHandoff(overlap=True)
    outcomes: dict[str, object] = {}
    workers = [in_thread(outcomes, "front takes", handoff.take),  # no frame comes
               in_thread(outcomes, "back takes", handoff.take_passed)]  # no result comes
    handoff.close()
    assert all(ended(worker) for worker in workers)
    assert outcomes == {"front takes": None, "back takes": None}


def test_closing_drops_the_waiting_frame_and_lets_the_back_worker_finish_what_it_was_passed():
    handoff: FrameHandoff[int, str] = FrameHandoff(overlap=True)
    outcomes: dict[str, object] = {}
    assert handoff.pass_on("first") is True
    front = in_thread(outcomes, "second passed", handoff.pass_on, "second")  # waits: the back slot is full
    handoff.offer(0, 0)
    handoff.close()
    assert ended(front) and outcomes == {"second passed": False}, "nothing is passed once closed"
    assert handoff.take() is None, "the waiting frame is dropped"
    assert handoff.take_passed() == "first" and handoff.take_passed() is None
    assert handoff.offer(1, 1) is False and handoff.take(block=False) is None, "a closed hand-off takes no frame"
    assert handoff.superseded == 0, "frames dropped on closing are not superseded ones"


def test_passing_on_without_overlap_is_refused():
    handoff: FrameHandoff[int, str] = FrameHandoff(overlap=False)
    with pytest.raises(RuntimeError, match="overlap is off"):
        handoff.pass_on("result")
    with pytest.raises(RuntimeError, match="overlap is off"):
        handoff.take_passed()
