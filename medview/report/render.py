"""Key images drawn once, for every writer: the slice at its window, at true aspect, with the saliency, the
annotations with their values, the AI click marks and the orientation letters burnt in.

Drawn with Pillow (no display needed, so `medview report` runs headless). The image keeps every pixel of the
slice: it is enlarged by a whole factor (nearest neighbour) until it is at least `MIN_SIZE` across, so that
text and lines stay legible on small MR matrices. Corner texts never carry identity (name, id, dates): a key
image may leave the hospital in an anonymised report.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from medview.core import measure, orientation
from medview.core.annotations import Annotation, measure_annotation
from medview.core.colormap import heat_rgba
from medview.core.reading import KeyImage, Reading
from medview.core.window_level import Window, grey
from medview.report.identity import shown_info

MIN_SIZE = 512
AI_TEXT = "AI generated, research use only"
COLOURS = {"annotation": (255, 220, 0), "roi": (80, 220, 255), "mark": (0, 229, 255), "text": (240, 240, 160),
           "ai": (255, 144, 96), "marker": (255, 208, 96)}


class _Canvas:
    """Maps (column, row) pixel coordinates of the slice to the enlarged, true-aspect picture."""

    def __init__(self, rows: int, columns: int, spacing: tuple[float, float]) -> None:
        row_mm, col_mm = spacing
        finest = min(row_mm, col_mm)
        width, height = columns * col_mm / finest, rows * row_mm / finest
        factor = max(1, math.ceil(MIN_SIZE / max(width, height)))
        self.size = (max(1, round(width * factor)), max(1, round(height * factor)))
        self.sx, self.sy = self.size[0] / columns, self.size[1] / rows

    def xy(self, point) -> tuple[float, float]:
        return point[0] * self.sx, point[1] * self.sy


def render_key_image(reading: Reading, key: KeyImage) -> np.ndarray:
    """RGB uint8 (height, width, 3) of one key image with everything drawn over it."""
    rows, columns = key.pixels.shape[:2]
    canvas = _Canvas(rows, columns, reading.pixel_spacing)
    inverted = reading.photometric == "MONOCHROME1"
    grey_image = grey(key.pixels, Window(*key.window), inverted=inverted)
    picture = Image.fromarray(grey_image).convert("RGB").resize(canvas.size, Image.Resampling.NEAREST)
    if key.saliency is not None:
        heat = Image.fromarray(heat_rgba(key.saliency, 0.5, 0.2), "RGBA").resize(canvas.size,
                                                                                 Image.Resampling.BILINEAR)
        picture = Image.alpha_composite(picture.convert("RGBA"), heat).convert("RGB")
    draw = ImageDraw.Draw(picture)
    font = _font(max(12, canvas.size[1] // 42))
    taken = [_box(canvas, a) for a in key.annotations]  # labels go past every ROI and every label before them
    for annotation in key.annotations:
        _draw_annotation(draw, canvas, annotation, measure_annotation(annotation, key.pixels, reading.pixel_spacing,
                                                                      reading.value_unit), font, taken)
    for pixel in key.marks:
        x, y = canvas.xy(measure.pixel_centre(pixel))
        arm = max(8, canvas.size[0] // 50)
        draw.line([(x - arm, y), (x + arm, y)], fill=COLOURS["mark"], width=2)
        draw.line([(x, y - arm), (x, y + arm)], fill=COLOURS["mark"], width=2)
    _draw_frame_texts(draw, canvas, reading, key, font)
    return np.asarray(picture)


def _font(size: int):
    """DejaVu Sans where the system has it (it has ², °), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _label_at(draw, xy, text: str, colour, font) -> None:
    draw.text(xy, text, fill=colour, font=font, stroke_width=2, stroke_fill=(0, 0, 0))


def _box(canvas: _Canvas, annotation: Annotation) -> tuple[float, float, float, float]:
    xs, ys = zip(*(canvas.xy(p) for p in annotation.points), strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _free_place(draw, xy, text: str, font, taken: list) -> tuple[float, float]:
    """Where a label at `xy` covers no ROI and no other label: moved down past whatever it would cover."""
    x, y = xy
    for _ in range(2 * len(taken) + 1):
        left, top, right, bottom = draw.textbbox((x, y), text, font=font, stroke_width=2)
        hit = next((b for b in taken if left < b[2] and b[0] < right and top < b[3] and b[1] < bottom), None)
        if hit is None:
            break
        y = hit[3] + 3
    taken.append(draw.textbbox((x, y), text, font=font, stroke_width=2))
    return x, y


def _draw_annotation(draw, canvas: _Canvas, annotation: Annotation, values, font, taken: list) -> None:
    points = [canvas.xy(p) for p in annotation.points]
    label = ", ".join(str(v) for v in values)
    colour = COLOURS["roi"] if annotation.kind in ("ellipse", "rectangle") else COLOURS["annotation"]
    if annotation.kind in ("length", "arrow"):
        draw.line(points, fill=colour, width=2)
        if annotation.kind == "arrow":
            _arrow_head(draw, points[0], points[1], colour)
    elif annotation.kind == "angle":
        draw.line(points, fill=colour, width=2)
    elif annotation.kind == "bidimensional":
        draw.line(points[:2], fill=colour, width=2)
        draw.line(points[2:], fill=colour, width=2)
    elif annotation.kind in ("ellipse", "rectangle"):
        (x0, y0), (x1, y1) = points
        box = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
        (draw.ellipse if annotation.kind == "ellipse" else draw.rectangle)(box, outline=colour, width=2)
        label = ", ".join(str(v) for v in values if v.name in ("mean", "SD", "area"))
    text = annotation.text or label
    if text:
        x, y = max(p[0] for p in points) + 6, min(p[1] for p in points)
        x = min(x, canvas.size[0] - draw.textlength(text, font=font) - 4)
        x, y = _free_place(draw, (max(2, x), max(2, y)), text, font, taken)
        _label_at(draw, (x, y), text, colour if not annotation.text else COLOURS["text"], font)


def _arrow_head(draw, tail, head, colour) -> None:
    angle = math.atan2(head[1] - tail[1], head[0] - tail[0])
    size = 14
    left = (head[0] - size * math.cos(angle - 0.45), head[1] - size * math.sin(angle - 0.45))
    right = (head[0] - size * math.cos(angle + 0.45), head[1] - size * math.sin(angle + 0.45))
    draw.polygon([head, left, right], fill=colour)


def _draw_frame_texts(draw, canvas: _Canvas, reading: Reading, key: KeyImage, font) -> None:
    width, height = canvas.size
    info = shown_info(reading)  # anonymised as every other output: descriptions can name people
    line = font.size + 4
    _label_at(draw, (6, 6), f"{info.modality} {info.series_description}".strip(), COLOURS["text"], font)
    time_point = f"  t {key.t + 1}" if key.t else ""
    bottom = [f"slice {key.k + 1}/{reading.n_slices}{time_point}", str(Window(*key.window))]  # W 0.0125, not 0
    for i, text in enumerate(bottom):
        _label_at(draw, (6, height - (len(bottom) - i) * line - 4), text, COLOURS["text"], font)
    if key.saliency is not None or key.marks:
        text_width = draw.textlength(AI_TEXT, font=font)
        _label_at(draw, ((width - text_width) / 2, 6 + line), AI_TEXT, COLOURS["ai"], font)
    if key.saliency is not None and key.saliency_of:  # which answer the heat map explains
        text = f"saliency: {key.saliency_of}"
        _label_at(draw, (max(6, (width - draw.textlength(text, font=font)) / 2), height - 3 * line - 4), text,
                  COLOURS["ai"], font)
    markers = orientation.edge_markers(reading.row_cosine, reading.column_cosine)
    _label_at(draw, (6, height / 2), markers["left"], COLOURS["marker"], font)
    _label_at(draw, (width - draw.textlength(markers["right"], font=font) - 6, height / 2), markers["right"],
              COLOURS["marker"], font)
    _label_at(draw, (width / 2, 6 + 2 * line), markers["top"], COLOURS["marker"], font)
    _label_at(draw, (width / 2, height - line - 4), markers["bottom"], COLOURS["marker"], font)


def png_bytes(rgb: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
