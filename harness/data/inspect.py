"""Counts and a contact sheet for any dataset folder or synthetic spec (`harness data inspect`)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .dataset import CardiacDataset, atomic_write_bytes
from .loading import table_summary

LABEL_COLOURS = {"OAP": "#1f77b4", "IN": "#2ca02c", "OBS": "#d62728"}


def summarise(ds: CardiacDataset) -> dict:
    out = table_summary(ds.table)
    out["name"] = ds.name
    out["sources"] = sorted(ds.table["source"].unique().tolist())
    out["domains"] = sorted(ds.table["domain"].unique().tolist())
    out["image_shape"] = list(ds.images.shape[1:])
    return out


def contact_sheet(ds: CardiacDataset, out: str | Path, patient: str | None = None, max_frames: int = 2) -> Path:
    """PNG of one patient's stack: rows = frames, columns = slices apex -> base, titles = labels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pid = patient or ds.patients()[0]
    t = ds.table[ds.table["patient"] == pid]
    if t.empty:
        raise KeyError(f"patient {pid!r} not in dataset; known: {ds.patients()[:10]}")
    frames = sorted(t["frame"].unique(), key=lambda f: (f not in ("ED", "ES"), f))[:max_frames]
    n_cols = int(t["slice_index"].max()) + 1
    fig, axes = plt.subplots(len(frames), n_cols, figsize=(1.4 * n_cols, 1.6 * len(frames)), squeeze=False)
    for r, fr in enumerate(frames):
        rows = t[t["frame"] == fr]
        for ax in axes[r]:
            ax.axis("off")
        for i, row in rows.iterrows():
            ax = axes[r, int(row["slice_index"])]
            img = ds.images[i]
            lo, hi = np.percentile(img, (1, 99.5))
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
            ax.set_title(f"{fr} {row['slice_index']}: {row['label']}", fontsize=7,
                         color=LABEL_COLOURS.get(row["label"], "black"))
    fig.suptitle(f"{ds.name} — {pid} (slices apex → base)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())
    return out
