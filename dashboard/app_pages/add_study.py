"""Add a study: a form generated from the review's codebook, appended through `review.store.append_study`.

The same API as `review add`: validated first, duplicates refused, atomic write
under a file lock. On any problem the CSV is left exactly as it was and the
form keeps what was typed, so the user can fix it and submit again.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import sources, widgets

SECTIONS: dict[str, list[str]] = {
    "Identity": ["study_id", "ref_number", "authors", "year", "title", "journal", "doi"],
    "Backbone and transfer learning": ["backbone_models", "backbone_category", "backbone_family", "tl_type",
                                       "tl_stated", "fine_tuning_ratio"],
    "Reported test performance (fractions: 92.1 % → 0.921)": ["accuracy", "auc", "sensitivity", "specificity",
                                                              "metric_scope", "n_test"],
    "Data": ["modality", "subject", "n_images", "n_patients", "n_classes"],
    "Provenance": ["source_url", "evidence", "coded_by", "coded_on", "confidence", "review_statement", "notes"],
}
LONG_TEXT = {"title", "evidence", "review_statement", "notes", "authors"}
#: examples instead of the codebook's regular expressions (the ? help still gives the exact rule)
PLACEHOLDERS = {
    "study_id": "first author's surname + year, lower case, e.g. rahaman2020",
    "authors": "Surname Initials; Surname Initials",
    "doi": "bare DOI, e.g. 10.1186/s12880-022-00793-7",
    "backbone_models": "as the study names them, e.g. VGG16; ResNet50",
    "source_url": "where the values come from, e.g. https://doi.org/10.…",
    "evidence": "short verbatim quotes, e.g. accuracy: 'an accuracy of 92.1 %' | modality: '…'",
}
NOT_STATED = "(not stated)"

st.title("Add a study")
paths = widgets.current_paths()
policy = widgets.access()
if not policy.writes:
    st.warning(f"**Read-only mode.** This server listens on {policy.served_on()} and was started without "
               "`--allow-writes`, so studies cannot be added from the browser. Add them with `review add`, or "
               "ask whoever runs the server.", icon=":material/lock:")
    st.stop()
mode = "this machine only" if policy.local else "network server started with --allow-writes"
st.caption(f"**Mode: adding studies is on** ({mode}). Appends one row to **{paths.studies}** with the same checks as `review add`: "
           "every field is validated against the codebook, a study already present (same study_id, DOI, or "
           "title + year) is refused, and the file is only replaced once the new row is valid, under the same "
           "file lock as `review add`.")

try:
    cb = sources.codebook()
    from review.store import DuplicateStudyError, InvalidStudyError, StudyError, append_study
except (ImportError, sources.Unavailable) as exc:
    st.warning(f"Not available: the review's store API cannot be imported ({exc}).")
    st.stop()


def _widget(field, column) -> str | list[str] | None:
    label = field.name + (" *" if field.required else "")
    key = f"add_{field.name}"
    help_text = (field.description + "\n\nAllowed: " + field.allowed()).strip()
    if field.vocabulary and field.multi:
        return column.multiselect(label, list(field.vocabulary), key=key, help=help_text)
    if field.vocabulary:
        options = list(field.vocabulary) if field.required else [NOT_STATED, *field.vocabulary]
        return column.selectbox(label, options, index=None if field.required else 0, key=key,
                                help=help_text, placeholder="choose one")
    default = dt.date.today().isoformat() if field.name == "coded_on" else ""
    hint = PLACEHOLDERS.get(field.name, field.allowed())
    if field.name in LONG_TEXT:
        return column.text_area(label, value=default, key=key, help=help_text, placeholder=hint, height=80)
    return column.text_input(label, value=default, key=key, help=help_text, placeholder=hint)


def _record(values: dict[str, object]) -> dict[str, str]:
    record = {}
    for name, value in values.items():
        if isinstance(value, list):
            value = cb.list_separator.join(value)
        if value is None or value == NOT_STATED:
            continue
        text = str(value).strip()
        if text:
            record[name] = text
    return record


def _submit(studies_csv) -> None:
    """Form callback (runs before the rerun): append the typed study, keep the outcome for the page to show."""
    if not widgets.access().writes:
        st.session_state[RESULT] = ("error", "the server is read-only; nothing was written")
        return
    record = _record({name: st.session_state.get(f"add_{name}") for name in cb.columns})
    try:
        row = append_study(studies_csv, record, codebook=cb)
    except InvalidStudyError as exc:
        st.session_state[RESULT] = ("invalid", [(p.column, p.value, p.message) for p in exc.problems])
    except DuplicateStudyError as exc:
        st.session_state[RESULT] = ("duplicate", str(exc))
    except StudyError as exc:
        st.session_state[RESULT] = ("error", str(exc))
    else:
        st.session_state[RESULT] = ("added", row)


RESULT = "add_result"
outcome = st.session_state.pop(RESULT, None)
by_field: dict[str, list[tuple[str, str]]] = {}
if outcome and outcome[0] == "invalid":
    for column, value, message in outcome[1]:
        by_field.setdefault(column or "", []).append((value, message))
    fields = ", ".join(f"**{c}**" for c in by_field if c)
    st.error(f"Not added: {len(outcome[1])} problem(s) in {fields or 'the row'}. **{paths.studies}** is unchanged; "
             "fix the fields marked below and submit again.", icon=":material/error:")
    for value, message in by_field.get("", []):
        st.error(widgets.plain(message))
elif outcome and outcome[0] in ("duplicate", "error"):
    st.error(f"Not added: {widgets.plain(outcome[1])}", icon=":material/error:")
elif outcome and outcome[0] == "added":
    st.success(f"Added **{outcome[1]['study_id']}** to {paths.studies}.")
    st.dataframe(pd.DataFrame([outcome[1]]), hide_index=True)

placed = [name for names in SECTIONS.values() for name in names]
sections = {title: [n for n in names if n in cb.fields] for title, names in SECTIONS.items()}
sections["Other"] = [n for n in cb.columns if n not in placed]

with st.form("add_study", clear_on_submit=False):
    st.caption("Fields marked * are required; leave the others empty (or *(not stated)*) when the study does not "
               "say. Hover over ? for each field's meaning and exact rule.")
    for title, names in sections.items():
        if not names:
            continue
        st.markdown(f"**{title}**")
        cols = st.columns(2)
        for i, name in enumerate(names):
            column = cols[i % 2]
            _widget(cb[name], column)
            for value, message in by_field.get(name, []):
                shown = f" ({widgets.plain(value[:80])})" if value else ""
                column.error(f"**{name}**{shown}: {widgets.plain(message)}")
    st.form_submit_button("Validate and add", type="primary", on_click=_submit, args=(paths.studies,))
