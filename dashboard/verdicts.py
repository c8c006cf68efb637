"""OK / WARN / CRIT, and a verdict: the worst status found, with its reasons in words (replication health,
transaction hazards)."""

from __future__ import annotations

from dataclasses import dataclass, field

OK, WARN, CRIT = "OK", "WARN", "CRIT"
RANK = {OK: 0, WARN: 1, CRIT: 2}


def worst(*statuses: str) -> str:
    return max(statuses, key=RANK.__getitem__, default=OK)


@dataclass
class Verdict:
    status: str = OK
    reasons: list[str] = field(default_factory=list)

    def add(self, status: str, reason: str) -> None:
        self.status = worst(self.status, status)
        self.reasons.append(reason)
