"""Bad records of a real file: dropped, counted and listed; the step stops only above a configured share.

Real files hold a few records that cannot be used (an out-of-range label, a name that cannot be anonymized)
and a few exact duplicates. Each one gets a row in the corpus step's audit file (``audit/dropped.jsonl``): the
record's ``id``, ``where`` it came from (``file:line``), the ``reason`` and its details. Duplicates are merged
(the first occurrence is kept) and listed too, but they do not count as bad. The step stops, naming the file and
the config key, only when the bad records exceed ``data.max_bad_share`` of the records read: more than that
means the file is not what the configuration says it is. Input that is not what it claims to be (a malformed
JSON line, a missing field) is no bad record: it stops the step at once, naming file and line.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from needlework.io import InputError

DUPLICATE = "duplicate"  # merged into an earlier identical record; listed, not counted as bad


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

    def check(self, read: int, max_share: float, source: str) -> None:
        """Raise :class:`InputError` when the bad records exceed ``max_share`` of the ``read`` records."""
        if read and self.bad() / read > max_share:
            shown = "; ".join(f"{row['where']}: {row['reason']}" for row in self.rows if row["reason"] != DUPLICATE)
            raise InputError(
                f"{source}: {self.bad()} of {read} records are bad ({self.bad() / read:.1%}, above "
                f"data.max_bad_share={max_share}): {_clip(shown)}. Check that the file is the one the data config "
                f"describes (fields, label format), or raise data.max_bad_share")


def _clip(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."
