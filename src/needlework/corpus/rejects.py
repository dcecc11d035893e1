"""Bad records of a real file: dropped, counted and listed; the step stops only above a configured share.

Real files hold a few records that cannot be used (an out-of-range label, a name that cannot be anonymized)
and a few exact duplicates. Each one gets a row in the corpus step's audit file (``audit/dropped.jsonl``): the
record's ``id``, ``where`` it came from (``file:line``), the ``reason`` and its details. Duplicates are merged
(the first occurrence is kept) and listed too, but they do not count as bad. The step stops, naming the file and
the config key, only when the bad records exceed ``data.max_bad_share`` of the records read: more than that
means the file is not what the configuration says it is; the audit is written all the same (beside the step's
outputs, which a failed step loses) and the message names it. The log gets a summary per reason (counts and
the first few), the audit file every row. Input that is not what it claims to be (a malformed JSON line, a missing
field) is no bad record: it stops the step at once, naming file and line.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from needlework.io import InputError, write_jsonl

DUPLICATE = "duplicate"  # merged into an earlier identical record; listed, not counted as bad
SHOWN = 3  # rows per reason that a summary quotes (the audit file lists them all)


@dataclass
class Rejects:
    """The dropped records of one corpus build, in the order they were found."""

    rows: list[dict] = field(default_factory=list)

    def add(self, reason: str, record_id: str, where: str, **details) -> None:
        """List one dropped record (``details``: what is wrong, e.g. the label problem or the leaked tokens)."""
        self.rows.append({"id": record_id, "where": where, "reason": reason, **details})

    def counts(self) -> dict[str, int]:
        """Dropped records per reason (duplicates included)."""
        return dict(sorted(Counter(row["reason"] for row in self.rows).items()))

    def bad(self) -> int:
        """Records dropped as bad (duplicates excluded)."""
        return sum(row["reason"] != DUPLICATE for row in self.rows)

    def check(self, read: int, max_share: float, source: str, audit: str | Path | None = None) -> None:
        """Raise :class:`InputError` when the bad records exceed ``max_share`` of the ``read`` records, after
        writing every row to ``audit`` (if given)."""
        if not (read and self.bad() / read > max_share):
            return
        bad = [row for row in self.rows if row["reason"] != DUPLICATE]
        listed = ""
        if audit is not None:
            write_jsonl(audit, self.rows)
            listed = f"; all {len(self.rows)} listed in {audit}"
        raise InputError(
            f"{source}: {len(bad)} of {read} records are bad ({len(bad) / read:.1%}, above "
            f"data.max_bad_share={max_share}): {'; '.join(summarize(bad))}{listed} (check that the file is the one "
            "the data config describes (fields, label format), or raise data.max_bad_share)")


def summarize(rows: list[dict], shown: int = SHOWN) -> list[str]:
    """One line per reason: the first rows (where and what is wrong), then how many more."""
    lines = []
    for reason, count in Counter(row["reason"] for row in rows).items():
        first = [row for row in rows if row["reason"] == reason][:shown]
        more = f" and {count - len(first)} more {reason}" if count > len(first) else ""
        lines.append(", ".join(f"{row['where']}: {reason}{_details(row)}" for row in first) + more)
    return lines


def _details(row: dict) -> str:
    """What is wrong with a dropped record, short (the audit file has it whole)."""
    details = {k: v for k, v in row.items() if k not in ("id", "where", "reason")}
    if not details:
        return ""
    text = "; ".join(str(v) if k in ("problems", "detail") else f"{k} {v}" for k, v in details.items())
    return f" ({_clip(text)})"


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."
