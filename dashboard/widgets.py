"""Streamlit building blocks shared by the pages: paths sidebar, errors, figures, downloads."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import figures, sources
from dashboard.settings import Access, PathRefused, Paths, check_path

_PATH_LABELS = {"studies": "Studies CSV", "results": "Harness results store",
                "table2": "Ho & Kim Table 2 CSV", "prisma": "PRISMA counts CSV"}


def access() -> Access:
    """This server's policy: where it listens (Streamlit's server.address) and the TLMI_* access options."""
    return Access.from_env(st.get_option("server.address"))


def current_paths() -> Paths:
    """The server's configured paths; with `--allow-path-edit`, overridden by accepted sidebar entries.

    Without that option whatever the browser sends for a path is ignored (the
    sidebar has no path inputs then); with it, an entry outside the data roots
    is ignored and the sidebar says why.
    """
    base = Paths.from_env()
    policy = access()
    if not policy.allow_path_edit:
        return base
    overrides = {}
    for name in _PATH_LABELS:
        value = st.session_state.get(f"path_{name}")
        if value is not None and str(value).strip() and str(value).strip() != str(getattr(base, name)):
            try:
                overrides[name] = check_path(value, policy.data_roots)
            except PathRefused:
                continue
    return base.replace(**overrides)


def paths_sidebar() -> Paths:
    """The data paths in the sidebar: read-only, or editable within the data roots (`dashboard --allow-path-edit`)."""
    base = Paths.from_env()
    policy = access()
    box = st.sidebar.expander("Data files", expanded=False)
    if not policy.allow_path_edit:
        box.caption("Set by whoever started the server (`dashboard --studies/--results/--table2/--prisma` or "
                    "the TLMI_* variables); read-only here.")
        for name, label in _PATH_LABELS.items():
            box.markdown(f"**{label}**  \n`{getattr(base, name)}`")
    else:
        box.caption("Editable for this browser session, to files under: "
                    + ", ".join(f"`{r}`" for r in policy.data_roots) + ".")
        for name, label in _PATH_LABELS.items():
            value = box.text_input(label, value=str(getattr(base, name)), key=f"path_{name}")
            if value.strip() and value.strip() != str(getattr(base, name)):
                try:
                    check_path(value, policy.data_roots)
                except PathRefused as exc:
                    box.error(f"Not used: {exc} Still showing `{getattr(base, name)}`.")
    st.sidebar.caption(f"Served on {policy.served_on()}. Adding studies: "
                       + ("**on**." if policy.writes else "**off** (read-only server)."))
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


@st.cache_data(show_spinner=False, max_entries=64)
def chart(name: str, *args: Any) -> Any:
    """`charts.<name>(*args)`, an Altair chart built once per arguments (each call gets a copy).

    Building a chart checks every channel against the Vega-Lite schema, which
    costs more than the small tables behind the review's figures; a rerun with
    the same filters reuses the built chart.
    """
    from dashboard import charts

    return getattr(charts, name)(*args)


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
    csv_button(df, stem)


def csv_button(df: pd.DataFrame, stem: str, label: str = "CSV") -> None:
    """A download button with `df` as CSV, formula cells neutralised (drawn only when clicked)."""
    st.download_button(label, lambda: csv_bytes(df), file_name=f"{stem}.csv", mime="text/csv",
                       key=f"csv_{stem}", on_click="ignore")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """`df` as UTF-8 CSV in which no cell starts like a spreadsheet formula (every dashboard download uses this).

    Lines end in CRLF (RFC 4180), so a cell holding a bare CR is quoted too.
    """
    return neutralise_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells (and column names) pass through `review.spreadsheet.neutralise`."""
    from review.spreadsheet import neutralise

    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: neutralise(v) if isinstance(v, str) else v)
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    return out


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def plain(text: object) -> str:
    """`text` escaped so that Streamlit's markdown shows it literally (user input, file content)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def slug(text: str) -> str:
    """File-name-safe version of a label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
