"""The RU-LSTM time grid (pure numpy).

Every segment is observed at 14 time stamps spaced by 0.25 s, from 3.5 s to
0.25 s before the action starts: 6 encoding steps, then 8 anticipation steps
whose outputs anticipate the action 2.0, 1.75, ..., 0.25 s in advance.
"""
from typing import Optional

import numpy as np

TIME_STEP = 0.25
NUM_STEPS = 14
NUM_ANTICIPATION_STEPS = 8
FPS = 30


def time_stamps(time_step: float = TIME_STEP,
                num_steps: int = NUM_STEPS) -> np.ndarray:
    """Seconds before the action start of each step, in step order.

    ``time_stamps()`` is ``[3.5, 3.25, ..., 0.25]``, computed exactly as the
    official code does (``np.arange`` then reversed) so that the frame
    numbers below match its LMDBs bit for bit.
    """
    return np.arange(time_step, time_step * (num_steps + 1), time_step)[::-1]


def anticipation_times(time_step: float = TIME_STEP,
                       num_steps: int = NUM_STEPS,
                       num_anticipation_steps: int = NUM_ANTICIPATION_STEPS
                       ) -> np.ndarray:
    """Anticipation time of each output step: ``[2.0, 1.75, ..., 0.25]``."""
    return time_stamps(time_step, num_steps)[-num_anticipation_steps:]


def horizon_name(seconds: float) -> str:
    """Suffix used in metric names for an anticipation time, e.g. ``1.00s``."""
    return f'{seconds:.2f}s'


def frame_indices(start_frame: int,
                  fps: float = FPS,
                  time_step: float = TIME_STEP,
                  num_steps: int = NUM_STEPS) -> Optional[np.ndarray]:
    """Frame numbers observed before an action starting at ``start_frame``.

    ``floor((start_frame / fps - ts) * fps)`` in float64, the official
    formula (exact arithmetic gives different frames in a few thousand EK55
    cases, frames the published LMDBs do not hold). Frames below 1 are
    replaced by the smallest valid frame of the sequence.

    Args:
        start_frame (int): First frame of the action (frames count from 1).
        fps (float): Frame rate of the frame numbering. Defaults to 30.
        time_step (float): Seconds between steps. Defaults to 0.25.
        num_steps (int): Number of steps. Defaults to 14.

    Returns:
        np.ndarray | None: int64 ``(num_steps,)`` frame numbers, oldest first,
        or ``None`` when no step falls on a valid frame (the segment is
        dropped, as in the official code).
    """
    stamps = start_frame / fps - time_stamps(time_step, num_steps)
    frames = np.floor(stamps * fps).astype(np.int64)
    valid = frames >= 1
    if not valid.any():
        return None
    frames[~valid] = frames[valid].min()
    return frames
