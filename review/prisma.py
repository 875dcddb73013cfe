"""PRISMA 2020 flow counts: reading, arithmetic checks and the flow diagram.

Counts are keyed by the `data` names of the PRISMA2020 R package / Shiny app
(Haddaway et al. 2022, Campbell Syst Rev 18:e1230; template
``inst/extdata/PRISMA.csv`` with columns data, node, box, description,
boxtext, tooltips, url, n), so a file exported from that app can be read here
and ``data/prisma.csv`` can be loaded there. Two inputs are accepted:

* a CSV with at least the template's ``data`` and ``n`` columns (rows whose
  ``data`` is empty/NA are the template's title boxes and are ignored);
* a YAML or JSON mapping ``{data_name: n}`` (the project's short form).

Breakdown fields (``dbr_excluded``, ``other_excluded``,
``database_specific_results``, ``register_specific_results``) take either a
plain number or the template's ``"Reason, n; Reason, n"`` text (a YAML mapping
``{reason: n}`` also works); their total is the sum of the reasons. An empty,
``NA`` or ``xxx`` cell means "not reported" (None): checks that need it are
reported as skipped (``ok`` null), never silently passed.

The checks follow the PRISMA 2020 flow (databases and registers arm, plus the
"other methods" and "previous studies" arms when they have numbers; the
diagram draws those arms then too): identified - removed before
screening = screened; screened - excluded = sought for retrieval; sought - not
retrieved = assessed; assessed - excluded (sum of reasons) = included;
included = rows in the studies CSV; every count a non-negative integer.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_COUNTS = Path(__file__).resolve().parents[1] / "data" / "prisma.csv"

#: Fields whose value may be a "Reason, n; Reason, n" breakdown.
BREAKDOWN_FIELDS = ("dbr_excluded", "other_excluded", "database_specific_results",
                    "register_specific_results")
#: Every count field of the PRISMA2020 template (its `data` column).
COUNT_FIELDS = (
    "previous_studies", "previous_reports", "database_results", "database_specific_results",
    "register_results", "register_specific_results", "website_results", "organisation_results",
    "citations_results", "duplicates", "excluded_automatic", "excluded_other",
    "records_screened", "records_excluded", "dbr_sought_reports", "dbr_notretrieved_reports",
    "other_sought_reports", "other_notretrieved_reports", "dbr_assessed", "dbr_excluded",
    "other_assessed", "other_excluded", "new_studies", "new_reports", "total_studies",
    "total_reports",
)
_MISSING = {"", "na", "nan", "null", "none", "xxx"}
#: Template rows that name a phase label box, not a count.
_LABEL_ROWS = {"identification", "screening", "included"}


class CountsError(ValueError):
    """A counts file that cannot be read; the message names file, row and field."""


@dataclass
class PrismaCounts:
    """Flow counts by PRISMA2020 `data` name (None = not reported) plus exclusion reasons."""

    values: dict[str, float | None]
    reasons: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)
    source: str = ""

    def get(self, name: str) -> float | None:
        return self.values.get(name)

    def total(self, *names: str) -> float | None:
        """Sum of the named counts; None when any of them is not reported."""
        parts = [self.values.get(n) for n in names]
        return None if any(p is None for p in parts) else sum(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "values": {k: _plain(v) for k, v in self.values.items()},
                "reasons": {k: [[r, _plain(n)] for r, n in v] for k, v in self.reasons.items()}}


@dataclass
class Check:
    """One arithmetic check: `ok` is None when an input count was not reported."""

    name: str
    expected: float | None
    actual: float | None
    ok: bool | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["expected"], d["actual"] = _plain(self.expected), _plain(self.actual)
        return d


def _plain(x: float | None) -> int | float | None:
    """JSON-friendly number: integral floats become ints."""
    if x is None:
        return None
    return int(x) if float(x).is_integer() else float(x)


def _show(x: float | None) -> str:
    """A count as text for check details ("not reported" for None)."""
    return "not reported" if x is None else str(_plain(x))


# --------------------------------------------------------------------------- reading
def parse_number(text: Any, where: str) -> float | None:
    """One count cell -> float, or None for "not reported"; raises naming `where`."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if isinstance(text, bool):
        raise CountsError(f"{where}: {text!r} is not a count; write a whole number such as 42")
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip().replace(",", "")
    if s.lower() in _MISSING:
        return None
    try:
        return float(s)
    except ValueError:
        raise CountsError(f"{where}: {text!r} is not a count; write a whole number such as 42, "
                          "or leave it empty / NA when it was not reported") from None


def parse_reasons(text: Any, where: str) -> list[tuple[str, float | None]]:
    """Parse the template's "Reason, n; Reason, n" breakdown (or a {reason: n} mapping)."""
    if isinstance(text, dict):
        return [(str(k), parse_number(v, f"{where}, reason {k!r}")) for k, v in text.items()]
    items = []
    for i, chunk in enumerate(str(text).split(";"), start=1):
        chunk = chunk.strip()
        if not chunk:
            continue
        reason, sep, n = chunk.rpartition(",")
        if not sep or not reason.strip():
            raise CountsError(f"{where}: reason {i} {chunk!r} is not 'Reason, n'; "
                              "separate reasons with ';' as in 'Wrong design, 12; No CNN, 3'")
        items.append((reason.strip(), parse_number(n, f"{where}, reason {reason.strip()!r}")))
    return items


def _set_value(counts: PrismaCounts, name: str, raw: Any, where: str) -> None:
    if name in BREAKDOWN_FIELDS and (isinstance(raw, dict) or
                                     (isinstance(raw, str) and any(c.isalpha() for c in raw)
                                      and raw.strip().lower() not in _MISSING)):
        reasons = parse_reasons(raw, where)
        counts.reasons[name] = reasons
        ns = [n for _, n in reasons]
        counts.values[name] = None if any(n is None for n in ns) else float(sum(ns))
    else:
        counts.values[name] = parse_number(raw, where)


def _read_template_csv(path: Path) -> PrismaCounts:
    counts = PrismaCounts(values={}, source=str(path))
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"data", "n"} - set(reader.fieldnames or [])
        if missing:
            raise CountsError(f"{path}: missing column(s) {sorted(missing)}; a counts CSV needs the "
                              "PRISMA2020 template's 'data' and 'n' columns")
        for line, row in enumerate(reader, start=2):
            name = (row.get("data") or "").strip()
            if name.lower() in _MISSING or name in _LABEL_ROWS:
                continue  # the template's title and phase boxes carry no count
            if name in counts.values:
                raise CountsError(f"{path}, line {line}: data {name!r} appears twice; keep one row")
            _set_value(counts, name, row.get("n"), f"{path}, line {line}, field n of {name!r}")
    return counts


def _read_mapping(path: Path) -> PrismaCounts:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CountsError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if isinstance(data, dict) and isinstance(data.get("counts"), dict):
        data = data["counts"]
    if not isinstance(data, dict):
        raise CountsError(f"{path}: expected a mapping of PRISMA2020 names to counts, "
                          "e.g. 'records_screened: 425'")
    counts = PrismaCounts(values={}, source=str(path))
    for name, raw in data.items():
        _set_value(counts, str(name), raw, f"{path}, key {name!r}")
    return counts


def load_counts(path: str | Path = DEFAULT_COUNTS) -> PrismaCounts:
    """Read a PRISMA2020 template CSV or a YAML/JSON mapping of counts."""
    path = Path(path)
    if not path.is_file():
        raise CountsError(f"{path}: no such counts file; pass --counts with a PRISMA2020 CSV "
                          "(columns data,n) or a YAML/JSON mapping")
    try:
        counts = _read_template_csv(path) if path.suffix.lower() == ".csv" else _read_mapping(path)
    except UnicodeDecodeError as exc:
        raise CountsError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from None
    except csv.Error as exc:
        raise CountsError(f"{path}: not valid CSV ({exc})") from None
    except ValueError as exc:  # json.JSONDecodeError
        if isinstance(exc, CountsError):
            raise
        raise CountsError(f"{path}: not valid JSON ({exc})") from None
    unknown = sorted(set(counts.values) - set(COUNT_FIELDS))
    if unknown:
        raise CountsError(f"{path}: unknown PRISMA2020 name(s) {unknown}; use the template's "
                          f"'data' names: {', '.join(COUNT_FIELDS)}")
    return counts


def counts_from_mapping(values: dict[str, Any], source: str = "mapping") -> PrismaCounts:
    """Build counts from a plain dict (dashboard / tests), with the same parsing rules."""
    counts = PrismaCounts(values={}, source=source)
    for name, raw in values.items():
        _set_value(counts, name, raw, f"{source}, key {name!r}")
    return counts


# --------------------------------------------------------------------------- checks
def _equal(name: str, expected: float | None, actual: float | None, detail: str) -> Check:
    if expected is None or actual is None:
        return Check(name, expected, actual, None, detail + " (skipped: a count is not reported)")
    return Check(name, expected, actual, math.isclose(expected, actual), detail)


def _arm_used(c: PrismaCounts, *names: str) -> bool:
    return any((c.get(n) or 0) != 0 for n in names)


def check_counts(counts: PrismaCounts, n_rows: int | None = None) -> list[Check]:
    """Arithmetic checks of the flow; `n_rows` = rows in the studies CSV (None skips that check)."""
    c, out = counts, []
    bad = [f"{k}={_show(v)}" for k, v in c.values.items()
           if v is not None and (v < 0 or not float(v).is_integer())]
    bad += [f"{k} reason {r!r}={_show(n)}" for k, rs in c.reasons.items() for r, n in rs
            if n is not None and (n < 0 or not float(n).is_integer())]
    out.append(Check("every count is a non-negative integer", 0, len(bad), not bad,
                     "offending: " + ", ".join(bad) if bad else "all counts are whole numbers >= 0"))

    db = c.get("database_results")  # registers are optional: unreported counts as 0
    identified = None if db is None else db + (c.get("register_results") or 0)
    removed = sum(c.get(n) or 0 for n in ("duplicates", "excluded_automatic", "excluded_other"))
    if identified is not None:
        out.append(_equal("identified - removed before screening = screened",
                          identified - removed, c.get("records_screened"),
                          f"{_show(identified)} - {_show(removed)} = {_show(identified - removed)}"
                          f"; screened: {_show(c.get('records_screened'))}"))
    else:
        out.append(_equal("identified - removed before screening = screened", None,
                          c.get("records_screened"), "records identified"))

    screened, excluded = c.get("records_screened"), c.get("records_excluded")
    sought, lost = c.get("dbr_sought_reports"), c.get("dbr_notretrieved_reports")
    assessed = c.get("dbr_assessed")
    diff = None if screened is None or excluded is None else screened - excluded
    if sought is None and lost is None:
        # No retrieval step reported: check the screening-to-full-text step in one go.
        out.append(_equal("screened - excluded = assessed (no retrieval step reported)", diff,
                          assessed, f"{_show(screened)} - {_show(excluded)} = {_show(diff)}; "
                                    f"assessed: {_show(assessed)}"))
    else:
        out.append(_equal("screened - excluded = sought for retrieval", diff, sought,
                          f"{_show(screened)} - {_show(excluded)} = {_show(diff)}; "
                          f"sought: {_show(sought)}"))
        got = None if sought is None or lost is None else sought - lost
        out.append(_equal("sought - not retrieved = assessed", got, assessed,
                          f"{_show(sought)} - {_show(lost)} = {_show(got)}; assessed: {_show(assessed)}"))

    if _arm_used(c, "other_sought_reports", "other_notretrieved_reports", "other_assessed"):
        o_sought, o_lost = c.get("other_sought_reports"), c.get("other_notretrieved_reports")
        o_got = None if o_sought is None or o_lost is None else o_sought - o_lost
        out.append(_equal("other methods: sought - not retrieved = assessed", o_got, c.get("other_assessed"),
                          f"{_show(o_sought)} - {_show(o_lost)} = {_show(o_got)}; "
                          f"assessed: {_show(c.get('other_assessed'))}"))
    out.extend(_included_checks(c))
    included = c.get("new_studies")
    if n_rows is not None:
        out.append(_equal("included = rows in the studies CSV", included, float(n_rows),
                          f"included: {_show(included)}; CSV rows: {n_rows}"))
    return out


def _included_checks(c: PrismaCounts) -> list[Check]:
    out = []
    assessed, excl = c.get("dbr_assessed"), c.get("dbr_excluded")
    expected = None if assessed is None or excl is None else assessed - excl
    detail = f"{_show(assessed)} - {_show(excl)} = {_show(expected)}"
    if _arm_used(c, "other_assessed", "other_excluded"):
        o_assessed, o_excl = c.get("other_assessed"), c.get("other_excluded")
        if expected is not None and o_assessed is not None and o_excl is not None:
            expected += o_assessed - o_excl
        else:
            expected = None
        detail += f" (+ other methods {_show(o_assessed)} - {_show(o_excl)})"
    out.append(_equal("assessed - excluded = included", expected, c.get("new_studies"),
                      f"{detail}; included: {_show(c.get('new_studies'))}"))
    if c.get("total_studies") is not None:
        prev = c.get("previous_studies") or 0
        new = c.get("new_studies")
        out.append(_equal("previous + new studies = total studies",
                          None if new is None else prev + new, c.get("total_studies"),
                          f"{_show(prev)} + {_show(new)}; total: {_show(c.get('total_studies'))}"))
    return out


def failed(checks: list[Check]) -> list[Check]:
    return [ch for ch in checks if ch.ok is False]


def describe(check: Check) -> str:
    """One plain-language line per check for the terminal and the report."""
    status = {True: "PASS", False: "FAIL", None: "SKIP"}[check.ok]
    return f"{status}  {check.name}: {check.detail}"


# --------------------------------------------------------------------------- figure
def _fmt(x: float | None) -> str:
    return "not reported" if x is None else f"{_plain(x):,}"


#: Formats `review prisma --figure` and `review report` write the diagram in.
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
PREVIOUS_FIELDS = ("previous_studies", "previous_reports")
OTHER_FIELDS = ("website_results", "organisation_results", "citations_results", "other_sought_reports",
                "other_notretrieved_reports", "other_assessed", "other_excluded")


def has_previous_arm(counts: PrismaCounts) -> bool:
    """The "previous studies" arm has a count (an update of an earlier review)."""
    return _arm_used(counts, *PREVIOUS_FIELDS)


def has_other_arm(counts: PrismaCounts) -> bool:
    """The "other methods" arm (websites, organisations, citation searching) has a count."""
    return _arm_used(counts, *OTHER_FIELDS)


def draw(counts: PrismaCounts, title: str | None = None, checks: list[Check] | None = None,
         previous: bool | None = None, other: bool | None = None):
    """PRISMA 2020 flow diagram as a matplotlib Figure, in the PRISMA2020 template's layout.

    The databases and registers arm is always drawn; the "previous studies" arm
    (left) and the "other methods" arm (right) when they have counts (or when
    `previous` / `other` force them). Failed `checks` are printed under the
    diagram, so an inconsistent flow is never shown without saying so.
    """
    from review.plotting import pyplot

    plt = pyplot()
    c = counts
    previous = has_previous_arm(c) if previous is None else previous
    other = has_other_arm(c) if other is None else other
    notes = [f"Check failed: {ch.name} ({ch.detail})" for ch in failed(checks or [])]
    x_prev = 11.0
    x_db = x_prev + (27 if previous else 0)
    x_other = x_db + 88
    width = x_other + (70 if other else 0)
    bottom = -10 if notes else 0
    fig, ax = plt.subplots(figsize=(9.5 * width / 100, 10.5 * (112 - bottom) / 112))
    ax.set_xlim(0, width)
    ax.set_ylim(bottom, 112)
    ax.axis("off")

    def box(x, y, w, h, text, face="white", rot=0, size=9):
        ax.add_patch(plt.Rectangle((x, y), w, h, facecolor=face, edgecolor="black", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size,
                rotation=rot, wrap=True)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="black", lw=1))

    box(x_db + 1, 104, 86, 6, "Identification of new studies via databases and registers",
        face="#f5d76e", size=10)
    for y, h, label in ((83, 19, "Identification"), (27, 54, "Screening"), (1 if previous else 9,
                                                                            24 if previous else 16, "Included")):
        box(1, y, 8, h, label, face="#a9cce3", rot=90, size=10)

    specific = c.reasons.get("database_specific_results") or []
    db_lines = [f"  {name} (n = {_fmt(n)})" for name, n in specific]
    ident = ["Records identified from:", f"Databases (n = {_fmt(c.get('database_results'))})",
             *db_lines, f"Registers (n = {_fmt(c.get('register_results'))})"]
    removed = ["Records removed before screening:",
               f"Duplicate records (n = {_fmt(c.get('duplicates'))})",
               f"Marked ineligible by automation tools (n = {_fmt(c.get('excluded_automatic'))})",
               f"Removed for other reasons (n = {_fmt(c.get('excluded_other'))})"]
    excl_lines = [f"{r} (n = {_fmt(n)})" for r, n in c.reasons.get("dbr_excluded", [])]
    steps = [  # (left text, right text, y)
        ("\n".join(ident), "\n".join(removed), 84),
        (f"Records screened\n(n = {_fmt(c.get('records_screened'))})",
         f"Records excluded\n(n = {_fmt(c.get('records_excluded'))})", 66),
        (f"Reports sought for retrieval\n(n = {_fmt(c.get('dbr_sought_reports'))})",
         f"Reports not retrieved\n(n = {_fmt(c.get('dbr_notretrieved_reports'))})", 48),
        (f"Reports assessed for eligibility\n(n = {_fmt(c.get('dbr_assessed'))})",
         "\n".join([f"Reports excluded (n = {_fmt(c.get('dbr_excluded'))})", *excl_lines]), 30),
    ]
    h = 14
    included_y, included_h = (17, 10) if previous else (11, 14)
    for i, (left, right, y) in enumerate(steps):
        hh = 16 if i == 0 else h
        box(x_db + 1, y, 38, hh, left)
        box(x_db + 47, y, 40, hh, right, size=8 if i in (0, 3) else 9)
        arrow(x_db + 39, y + hh / 2, x_db + 47, y + hh / 2)
        nxt = steps[i + 1][2] + h if i + 1 < len(steps) else included_y + included_h
        arrow(x_db + 20, y, x_db + 20, nxt)
    included = [f"New studies included in review\n(n = {_fmt(c.get('new_studies'))})" if previous else
                f"Studies included in review\n(n = {_fmt(c.get('new_studies'))})"]
    if c.get("new_reports") is not None:
        included.append(f"Reports of {'new ' if previous else ''}included studies\n"
                        f"(n = {_fmt(c.get('new_reports'))})")
    box(x_db + 1, included_y, 38, included_h, "\n".join(included), size=8 if previous else 9)
    if previous:
        _previous_arm(box, arrow, c, x_prev, x_db, included_y)
    if other:
        _other_arm(box, arrow, c, x_other, x_db, included_y, included_h)
    if notes:
        ax.text(1, bottom / 2, "\n".join(notes), ha="left", va="center", fontsize=8, color="#b03a2e")
    if title:
        ax.set_title(title, fontsize=11)
    return fig


def _previous_arm(box, arrow, c: PrismaCounts, x: float, x_db: float, included_y: float) -> None:
    """Grey "Previous studies" column and the "Total studies included" box under the new ones."""
    box(x, 104, 24, 6, "Previous studies", face="#d5d8dc", size=10)
    lines = [f"Studies included in previous version of review (n = {_fmt(c.get('previous_studies'))})"]
    if c.get("previous_reports") is not None:
        lines.append(f"Reports of studies included in previous version of review "
                     f"(n = {_fmt(c.get('previous_reports'))})")
    box(x, 84, 24, 16, "\n\n".join(_wrap(line, 26) for line in lines), size=7.5)
    total = [f"Total studies included in review (n = {_fmt(c.get('total_studies'))})"]
    if c.get("total_reports") is not None:
        total.append(f"Reports of total included studies (n = {_fmt(c.get('total_reports'))})")
    box(x, 2, x_db + 39 - x, 11, "\n".join(total), size=8.5)
    arrow(x + 12, 84, x + 12, 13)
    arrow(x_db + 20, included_y, x_db + 20, 13)


def _other_arm(box, arrow, c: PrismaCounts, x: float, x_db: float, included_y: float,
               included_h: float) -> None:
    """Grey "other methods" arm: websites, organisations, citations -> retrieval -> assessment."""
    box(x + 1, 104, 66, 6, "Identification of new studies via other methods", face="#d5d8dc", size=10)
    ident = ["Records identified from:", f"Websites (n = {_fmt(c.get('website_results'))})",
             f"Organisations (n = {_fmt(c.get('organisation_results'))})",
             f"Citation searching (n = {_fmt(c.get('citations_results'))})"]
    box(x + 1, 84, 30, 16, "\n".join(ident), size=8)
    box(x + 1, 48, 30, 14, f"Reports sought for retrieval\n(n = {_fmt(c.get('other_sought_reports'))})",
        size=8.5)
    box(x + 37, 48, 30, 14, f"Reports not retrieved\n(n = {_fmt(c.get('other_notretrieved_reports'))})",
        size=8.5)
    box(x + 1, 30, 30, 14, f"Reports assessed for eligibility\n(n = {_fmt(c.get('other_assessed'))})",
        size=8.5)
    reasons = [f"{r} (n = {_fmt(n)})" for r, n in c.reasons.get("other_excluded", [])]
    box(x + 37, 30, 30, 14, "\n".join([f"Reports excluded (n = {_fmt(c.get('other_excluded'))})", *reasons]),
        size=8)
    arrow(x + 16, 84, x + 16, 62)
    arrow(x + 31, 55, x + 37, 55)
    arrow(x + 16, 48, x + 16, 44)
    arrow(x + 31, 37, x + 37, 37)
    arrow(x + 16, 30, x_db + 39, included_y + included_h / 2)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
