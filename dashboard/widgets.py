"""Streamlit building blocks shared by the pages: paths sidebar, errors, figures, downloads."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import figures, sources
from dashboard.settings import Paths

_PATH_LABELS = {"studies": "Studies CSV", "results": "Harness results store",
                "table2": "Ho & Kim Table 2 CSV", "prisma": "PRISMA counts CSV"}


def current_paths() -> Paths:
    """Environment defaults, overridden by what the user typed in the sidebar this session."""
    base = Paths.from_env()
    overrides = {name: st.session_state.get(f"path_{name}") for name in _PATH_LABELS}
    return base.replace(**overrides)


def paths_sidebar() -> Paths:
    """Sidebar with one text box per input path (pre-filled from TLMI_* variables / defaults)."""
    base = Paths.from_env()
    with st.sidebar.expander("Data files", expanded=False):
        st.caption("Defaults come from TLMI_STUDIES_CSV, TLMI_RESULTS, TLMI_TABLE2_CSV, TLMI_PRISMA.")
        for name, label in _PATH_LABELS.items():
            st.text_input(label, value=str(getattr(base, name)), key=f"path_{name}")
    return current_paths()


def show_problem(exc: Exception) -> None:
    """One clear message for a loader failure: missing file, malformed file, or missing module."""
    if isinstance(exc, sources.MissingSource):
        st.info(f"**{exc.path}** does not exist yet. {exc.hint}")
    elif isinstance(exc, sources.SourceError):
        st.error(f"**{exc.path}** cannot be used: {exc.problem}" + (f"\n\n{exc.hint}" if exc.hint else ""))
    elif isinstance(exc, sources.Unavailable):
        st.warning(f"Not available: {exc}")
    else:
        raise exc


def load(loader: Callable[..., Any], *args: Any) -> Any | None:
    """Call a loader; on a known failure show it and return None (never a traceback)."""
    try:
        return loader(*args)
    except (sources.SourceError, sources.Unavailable) as exc:
        show_problem(exc)
        return None


@st.cache_data(show_spinner=False, max_entries=128)
def render(name: str, fmt: str, *args: Any, **kwargs: Any) -> bytes:
    """Bytes of `figures.<name>(*args, **kwargs)` as PNG or SVG, cached on the arguments."""
    fig = getattr(figures, name)(*args, **kwargs)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None, bbox_inches="tight")
    figures._plt().close(fig)
    return buffer.getvalue()


def figure(name: str, *args: Any, stem: str, caption: str | None = None, **kwargs: Any) -> None:
    """Show a figure and offer it as PNG and SVG (the SVG is drawn only when asked for)."""
    png = render(name, "png", *args, **kwargs)
    st.image(png, caption=caption)
    downloads(name, *args, stem=stem, png=png, **kwargs)


def downloads(name: str, *args: Any, stem: str, png: bytes | None = None, **kwargs: Any) -> None:
    """PNG and SVG buttons for `figures.<name>`; what is not already drawn is drawn on click only."""
    left, right, _ = st.columns([1, 1, 4])
    left.download_button("PNG", png if png is not None else (lambda: render(name, "png", *args, **kwargs)),
                         file_name=f"{stem}.png", mime="image/png", key=f"png_{stem}", on_click="ignore")
    right.download_button("SVG", lambda: render(name, "svg", *args, **kwargs), file_name=f"{stem}.svg",
                          mime="image/svg+xml", key=f"svg_{stem}", on_click="ignore")


def table(df: pd.DataFrame, stem: str, **kwargs: Any) -> None:
    """Show a table and offer it as CSV."""
    st.dataframe(df, hide_index=True, **kwargs)
    st.download_button("CSV", lambda: df.to_csv(index=False).encode("utf-8"), file_name=f"{stem}.csv",
                       mime="text/csv", key=f"csv_{stem}", on_click="ignore")


def slug(text: str) -> str:
    """File-name-safe version of a label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
