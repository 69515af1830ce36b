"""Small videos whose frames encode their own index, written at test time.

Frame ``i`` shows the bits of ``i`` as 16 x 16 white squares on black (12
bits, 4 a row, in a 64 x 48 frame: decord needs widths that are multiples
of 32), so any decoder's output can be checked frame by frame despite the
codec's losses.
"""
import os
import os.path as osp

import cv2
import numpy as np

BITS, ROW, CELL = 12, 4, 16
WIDTH, HEIGHT = ROW * CELL, (BITS // ROW) * CELL


def index_frame(index: int) -> np.ndarray:
    """The BGR frame showing ``index``."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for bit in range(BITS):
        if (index >> bit) & 1:
            r, c = divmod(bit, ROW)
            img[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = 255
    return img


def frame_index(img: np.ndarray) -> int:
    """The index a decoded frame (any channel order) shows."""
    index = 0
    for bit in range(BITS):
        r, c = divmod(bit, ROW)
        if img[r * CELL + CELL // 2, c * CELL + CELL // 2].mean() > 127:
            index |= 1 << bit
    return index


def write_index_video(path, num_frames: int, fps: float = 30) -> None:
    """An MPEG-4 video of ``num_frames`` index frames at ``fps``."""
    assert num_frames < 2**BITS
    os.makedirs(osp.dirname(str(path)) or '.', exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (WIDTH, HEIGHT))
    assert writer.isOpened(), f'cannot write {path}'
    for i in range(num_frames):
        writer.write(index_frame(i))
    writer.release()
