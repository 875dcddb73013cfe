"""What the round-3 routes tried and gained, and a check that every study still missing a
target field has its routes recorded (the numbers of data/RECONSTRUCTION.md, round 3).

Usage (from the repository root): python data/coding/round3/routes_report.py
1. per route kind (routes.csv): rows, studies tried, studies where it returned values;
2. round-3 values in data/studies.csv per route kind: the routes.csv row (of the pass whose
   value was applied; resolver rows for "new" values) that lists the field and the value's
   url; without one, by the url (the review's DOI URL -> review-text, github.com ->
   repo-read, a quote already in the rounds-1-2 files -> coding-r12, else fulltext-search).
   review-text is split into the study's title (reference list) and the review's sentences;
   removals (null values) are counted apart;
3. per target field (issue 13): studies missing it, how many of those have route rows, and
   how many have no page of their own (source_url = the review);
   exits 1 when a study missing a field has no route row at all.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
CODING = ROOT / "data" / "coding"
sys.path.insert(0, str(ROOT))
from review.agreement import REVIEW_URL, merge_resolved, read_round  # noqa: E402

TARGETS = {"backbone_category": ["backbone_category"], "tl_type": ["tl_type"], "modality": ["modality"],
           "subject": ["subject"], "data size": ["n_images", "n_patients"], "accuracy or auc": ["accuracy", "auc"],
           "n_test": ["n_test"]}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


def routes() -> list[dict]:
    with (CODING / "round3" / "routes.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def tried_per_route(rows: list[dict]) -> None:
    print("route\trows\tstudies tried\tstudies with values")
    kinds = sorted({r["route"] for r in rows})
    for kind in kinds:
        mine = [r for r in rows if r["route"] == kind]
        print(f"{kind}\t{len(mine)}\t{len({r['ref_number'] for r in mine})}"
              f"\t{len({r['ref_number'] for r in mine if r['result'] == 'values'})}")
    print(f"all\t{len(rows)}\t{len({r['ref_number'] for r in rows})}"
          f"\t{len({r['ref_number'] for r in rows if r['result'] == 'values'})}")


def gained_per_route(rows: list[dict]) -> None:
    titles = {}
    with (CODING / "reference_list.csv").open(encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            titles[int(r["ref_number"])] = _norm(r["citation"])
    r12 = defaultdict(str)
    for side in ("pass_a", "pass_b", "resolved"):
        for path in (CODING / side).glob("*.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            r12[int(data["ref_number"])] += " " + _norm(json.dumps(data, ensure_ascii=False))
    merged = merge_resolved(CODING)
    applied = {i["ref_number"]: i for i in merged.attrs["rounds"] if i["applied"]}
    ra, rres = read_round(CODING / "round3" / "pass_a"), read_round(CODING / "round3" / "resolved")
    counts, studies, removed, by_row = Counter(), defaultdict(set), Counter(), 0
    for ref, item in applied.items():
        resolved = rres.get(ref)
        entries = (resolved or ra[ref])["fields"]
        for name in item["fields"]:
            entry = entries[name]
            if entry.get("value") is None:
                removed[name] += 1
                continue
            quote, url = _norm(entry.get("quote")), str(entry.get("url") or "")
            how = (resolved or {}).get("resolution", {}).get(name, "a")
            side = {"b": "b", "new": "r"}.get(how, "a")
            found = [r for r in rows if int(r["ref_number"]) == ref and r["result"] == "values"
                     and name in r["fields"].split() and url in r["urls"].split()]
            found = [r for r in found if r["pass"] == side] or found
            if found:
                by_row += 1
                kind = found[0]["route"]
            elif url == REVIEW_URL:
                kind = "review-text"
            elif "github.com" in url:
                kind = "repo-read"
            elif all(part.strip() in r12[ref] for part in quote.split("...") if part.strip()):
                kind = "coding-r12"
            else:
                kind = "fulltext-search"
            if kind == "review-text":
                kind += " (title)" if quote and quote in titles.get(ref, "") else " (sentence)"
            counts[(kind, name)] += 1
            studies[kind].add(ref)
    print(f"route of the applied value ({by_row} values matched to a routes.csv row, the rest by their url)"
          "\tvalues\tstudies\tfields")
    for kind in sorted(studies):
        fields = {n: c for (k, n), c in counts.items() if k == kind}
        print(f"{kind}\t{sum(fields.values())}\t{len(studies[kind])}\t"
              + ", ".join(f"{n} {c}" for n, c in sorted(fields.items())))
    print(f"values removed (null, with a reason)\t{sum(removed.values())}\t\t"
          + ", ".join(f"{n} {c}" for n, c in sorted(removed.items())))


def missing_fields(rows: list[dict]) -> int:
    df = pd.read_csv(ROOT / "data" / "studies.csv", dtype=str)
    by_pass: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        by_pass[r["pass"]].add(int(r["ref_number"]))
    tried = set().union(*by_pass.values())
    missing_any: set[int] = set()
    no_page = {int(x) for x in df.loc[df["source_url"] == REVIEW_URL, "ref_number"]}
    print("field\tmissing\twith pass-a routes\twith pass-b routes\twith any route\tno page of their own")
    for label, cols in TARGETS.items():
        refs = {int(x) for x in df.loc[df[cols].isna().all(axis=1), "ref_number"]}
        missing_any |= refs
        print(f"{label}\t{len(refs)}\t{len(refs & by_pass['a'])}\t{len(refs & by_pass['b'])}\t{len(refs & tried)}"
              f"\t{len(refs & no_page)}")
    no_tl = df["tl_type"].isna()
    print(f"missing tl_type: {int(no_tl.sum())}, of which with tl_stated: "
          f"{int((no_tl & df['tl_stated'].notna()).sum())} "
          f"(fine-tuned, extent not stated: {int((df['tl_stated'] == 'fine-tuned, extent not stated').sum())}; "
          f"pretrained, use not stated: {int((df['tl_stated'] == 'pretrained, use not stated').sum())})")
    without = sorted(missing_any - tried)
    print(f"studies missing at least one target field: {len(missing_any)}; with route rows: "
          f"{len(missing_any & tried)}; without: {without or 'none'}")
    return 1 if without else 0


def main() -> int:
    rows = routes()
    tried_per_route(rows)
    print()
    gained_per_route(rows)
    print()
    return missing_fields(rows)


if __name__ == "__main__":
    sys.exit(main())
