"""The RU-LSTM time grid (pure numpy).

Every segment is observed at 14 time stamps spaced by 0.25 s, from 3.5 s to
0.25 s before the action starts: 6 encoding steps, then 8 anticipation steps
whose outputs anticipate the action 2.0, 1.75, ..., 0.25 s in advance.
A dataset owns its grid and publishes it in its metainfo
(:meth:`TimeGrid.to_dict`); metrics, exports and tools rebuild it from there
(:meth:`TimeGrid.from_dict`).
"""
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np


def horizon_name(seconds: float) -> str:
    """Suffix used in metric names for an anticipation time, e.g. ``1.00s``."""
    return f'{seconds:.2f}s'


@dataclass(frozen=True)
class TimeGrid:
    """When a segment is observed, and when its outputs anticipate.

    Args:
        fps (float): Frame rate of the annotations' frame numbers.
            Defaults to 30.
        time_step (float): Seconds between steps. Defaults to 0.25.
        num_steps (int): Observed steps. Defaults to 14.
        num_anticipation_steps (int): The last steps, whose outputs are the
            anticipations. Defaults to 8.
        tau_a (float, optional): Seconds before the action of the last
            step (the shortest anticipation time), for protocols whose last
            observation is not one ``time_step`` before the action (AVT on
            EK55: 2 fps, tau_a 1 s; on EGTEA: 1 fps, tau_a 0.5 s). Defaults
            to None: ``time_step``, with RU-LSTM's exact arithmetic.
    """
    fps: float = 30
    time_step: float = 0.25
    num_steps: int = 14
    num_anticipation_steps: int = 8
    tau_a: Optional[float] = None

    def __post_init__(self) -> None:
        if not (self.fps > 0 and self.time_step > 0 and self.num_steps > 0):
            raise ValueError(f'time grid needs positive fps, time_step and '
                             f'num_steps, got {self}')
        if not 0 < self.num_anticipation_steps <= self.num_steps:
            raise ValueError(
                f'num_anticipation_steps={self.num_anticipation_steps} must '
                f'be in [1, num_steps={self.num_steps}]')
        if self.tau_a is not None and not self.tau_a > 0:
            raise ValueError(f'time grid tau_a must be positive seconds, '
                             f'got {self.tau_a!r}')

    def time_stamps(self) -> np.ndarray:
        """Seconds before the action start of each step, in step order.

        ``[3.5, 3.25, ..., 0.25]`` on the default grid, computed exactly as
        the official code does (``np.arange`` then reversed) so that the
        frame numbers match its LMDBs bit for bit; with ``tau_a``,
        ``tau_a + time_step * [num_steps - 1, ..., 1, 0]``.
        """
        if self.tau_a is not None:
            return self.tau_a + self.time_step * np.arange(
                self.num_steps, dtype=np.float64)[::-1]
        return np.arange(self.time_step, self.time_step * (self.num_steps + 1),
                         self.time_step)[::-1]

    def anticipation_times(self) -> np.ndarray:
        """Anticipation time of each output step: ``[2.0, 1.75, ..., 0.25]``
        on the default grid."""
        return self.time_stamps()[-self.num_anticipation_steps:]

    def step_of(self, seconds: float) -> int:
        """Index of the output step that anticipates ``seconds`` ahead."""
        times = self.anticipation_times().tolist()
        for step, t in enumerate(times):
            if abs(t - seconds) < 1e-9:
                return step
        raise ValueError(f'{seconds} s is not an anticipation time of the '
                         f'grid {times}')

    def frame_indices(self, start_frame: int) -> Optional[np.ndarray]:
        """Frame numbers observed before an action starting at
        ``start_frame``.

        ``floor((start_frame / fps - ts) * fps)`` in float64, the official
        formula (exact arithmetic gives different frames in a few thousand
        EK55 cases, frames the published LMDBs do not hold). Frames below 1
        are replaced by the smallest valid frame of the sequence.

        Args:
            start_frame (int): First frame of the action (frames count
                from 1).

        Returns:
            np.ndarray | None: int64 ``(num_steps,)`` frame numbers, oldest
            first, or ``None`` when no step falls on a valid frame (the
            segment is dropped, as in the official code).
        """
        stamps = start_frame / self.fps - self.time_stamps()
        frames = np.floor(stamps * self.fps).astype(np.int64)
        valid = frames >= 1
        if not valid.any():
            return None
        frames[~valid] = frames[valid].min()
        return frames

    def to_dict(self) -> dict:
        """Plain data, for a dataset's metainfo (``tau_a`` only when
        set: RU-LSTM's grid publishes the same dict as before it)."""
        values = asdict(self)
        if values['tau_a'] is None:
            del values['tau_a']
        return values

    @classmethod
    def from_dict(cls, values: dict) -> 'TimeGrid':
        """The grid a dataset published with :meth:`to_dict`."""
        return cls(**values)
