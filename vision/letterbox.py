"""Resize and pad a frame to the detector's input, and map boxes back.

The input keeps the frame's aspect: the long side goes to `imgsz`, the short side to
the next multiple of the stride (a 16:9 frame at 320 becomes 320x192, not 320x320), so
no time is spent on grey padding. The arithmetic matches ultralytics' LetterBox (centre
padding, value 114, rounding of the pad) so the two backends see the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STRIDE = 32
PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How one frame size maps onto one input size."""

    src_w: int
    src_h: int
    in_w: int
    in_h: int
    gain: float
    pad_x: int
    pad_y: int
    new_w: int
    new_h: int

    @classmethod
    def plan(cls, src_w: int, src_h: int, imgsz: int, rect: bool = True) -> Letterbox:
        gain = min(imgsz / src_h, imgsz / src_w)
        new_w, new_h = round(src_w * gain), round(src_h * gain)
        if rect:
            in_w = int(np.ceil(new_w / STRIDE) * STRIDE)
            in_h = int(np.ceil(new_h / STRIDE) * STRIDE)
        else:
            in_w = in_h = imgsz
        dw, dh = (in_w - new_w) / 2, (in_h - new_h) / 2
        return cls(src_w, src_h, in_w, in_h, gain, round(dw - 0.1), round(dh - 0.1), new_w, new_h)

    def apply(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """BGR uint8 frame -> padded BGR uint8 input (written into `out` when given)."""
        if out is None:
            out = np.full((self.in_h, self.in_w, 3), PAD_VALUE, np.uint8)
        if (image.shape[1], image.shape[0]) != (self.new_w, self.new_h):
            image = cv2.resize(image, (self.new_w, self.new_h), interpolation=cv2.INTER_LINEAR)
        out[self.pad_y : self.pad_y + self.new_h, self.pad_x : self.pad_x + self.new_w] = image
        return out

    def unmap(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes x1,y1,x2,y2 in input pixels -> frame pixels, clipped to the frame."""
        b = boxes.copy()
        b[:, [0, 2]] = ((b[:, [0, 2]] - self.pad_x) * (self.src_w / self.new_w)).clip(0, self.src_w)
        b[:, [1, 3]] = ((b[:, [1, 3]] - self.pad_y) * (self.src_h / self.new_h)).clip(0, self.src_h)
        return b
