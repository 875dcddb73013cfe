"""Figure helpers shared by the review's commands and the dashboard.

matplotlib is imported inside the functions (with the Agg backend unless one is
already chosen) so that importing `review` or running `review validate` never
pays for it. Every figure is saved twice, PNG for the Markdown report and SVG
for print, and each file is written atomically (temp file + os.replace) so an
interrupted report never leaves a half-written image behind (and images get
the same 0644 mode as report.md).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

FORMATS: tuple[str, ...] = ("png", "svg")

# One stable colour per modality and one marker per TL type, so that every
# figure (and the dashboard) uses the same keys.
MODALITY_COLORS: dict[str, str] = {
    "endoscopy": "#8c564b", "CT": "#1f77b4", "mammography": "#e377c2",
    "microscopy": "#2ca02c", "MRI": "#ff7f0e", "OCT": "#9467bd", "PET": "#bcbd22",
    "photography": "#d62728", "sonography": "#17becf", "SPECT": "#7f7f7f",
    "X-ray": "#393b79", "many": "#c7c7c7",
}
FAMILY_COLORS: dict[str, str] = {
    "Inception": "#1f77b4", "AlexNet": "#ff7f0e", "VGG": "#2ca02c", "ResNet": "#d62728",
    "Inception-ResNet": "#9467bd", "other": "#7f7f7f", "many": "#c7c7c7",
}
TL_MARKERS: dict[str, str] = {
    "feature extractor": "x", "feature extractor hybrid": "s",
    "fine-tuning": "^", "fine-tuning from scratch": "o", "many": "D", "not coded": "P",
}
# Figure 4's stacked categories (codebook vocabulary order); "not coded" is always grey.
NOT_CODED_COLOR = "#d9d9d9"
CATEGORY_COLORS: dict[str, str] = {
    "multiple": "#8da0cb", "deep": "#1f4e79", "shallow": "#66a61e", "other": "#e6ab02",
    "not coded": NOT_CODED_COLOR,
}
TL_COLORS: dict[str, str] = {
    "feature extractor": "#1b9e77", "feature extractor hybrid": "#7570b3", "fine-tuning": "#d95f02",
    "fine-tuning from scratch": "#e7298a", "many": "#a6761d", "not coded": NOT_CODED_COLOR,
}


def panel_letter(ax: Any, letter: str) -> None:
    """The journal's bold lower-case panel letter at the axes' top-left corner."""
    ax.text(-0.08, 1.04, letter, transform=ax.transAxes, fontsize=14, fontweight="bold",
            va="bottom", ha="right")


def pyplot():
    """Return matplotlib.pyplot, selecting the non-interactive Agg backend when none is set."""
    import matplotlib

    if "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, stem: str | Path, formats: tuple[str, ...] = FORMATS,
                dpi: int = 150, close: bool = True) -> list[Path]:
    """Save `fig` as `stem.<fmt>` for each format, atomically; return the paths written.

    `stem` may carry a suffix (``out/prisma.svg``); it is replaced by each format.
    """
    stem = Path(stem)
    if stem.suffix.lower().lstrip(".") in (*FORMATS, *formats):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    from review.store import write_bytes_atomic

    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(write_bytes_atomic(stem.with_name(f"{stem.name}.{fmt}"), buffer.getvalue()))
    if close:
        pyplot().close(fig)
    return written


def color_for(value: str, palette: dict[str, str], fallback: str = "#444444") -> str:
    """Colour of a category ("not coded" always light grey), with a neutral fallback for values
    outside the palette."""
    return palette.get(value, NOT_CODED_COLOR if value == "not coded" else fallback)
