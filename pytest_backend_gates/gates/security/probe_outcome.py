"""What one security probe did (`ProbeOutcome`: answers by status, refusals, requests that
raised, why it was skipped or crashed), shipped from xdist workers as JSON; and why the probes
tested nothing (`probe_problems`: each makes the gate `error`, never `passed`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Probes whose requests must reach the code they probe: if every answer was refused before it
# (ProbeSender._refused: 404, or 401/403 to a request that should have been let in), the probe tested
# nothing. The rate-limit probe judges its burst itself (a 404 burst is an error note there).
NEEDS_HANDLER = ("injection", "mass-assignment", "cors", "auth")
WANTS_REFUSALS = ("auth", "authz", "jwt")  # their probing requests should be answered 401/403/404
MAX_RAISED_KEPT = 10  # requests that raised, kept per probe with their reproduction (all are counted)


def statuses_text(statuses: dict[int, int]) -> str:
    return ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))


@dataclass
class ProbeOutcome:
    """What one probe did: the requests answered (by status), those that raised, and why it
    could not run (`skipped`: nothing in the schema to probe; `crashed`: the probe itself died)."""

    kind: str
    statuses: dict[int, int] = field(default_factory=dict)
    refused: dict[int, int] = field(default_factory=dict)  # the answers of `statuses` refused before the handler
    raised: list[dict[str, Any]] = field(default_factory=list)  # first MAX_RAISED_KEPT: operation, error, reproduce
    raised_count: int = 0
    skipped: str | None = None
    crashed: str | None = None
    tested_nothing: str | None = None  # why it tested nothing although it should have (ProbeReport's)
    not_applicable: bool = False  # `skipped` says why the probe does not apply (no warning)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def problem(self) -> str | None:
        """Why this probe tested nothing although it should have (its gate is then `error`)."""
        if self.crashed is not None:
            return f"the {self.kind} probe crashed: {self.crashed}"
        if self.raised_count and not self.answered:
            first = self.raised[0]
            return (f"every one of the {self.raised_count} requests of the {self.kind} probe raised instead of "
                    f"being answered, e.g. {first['operation']}: {first['error']} "
                    f"(reproduce: {first['reproduce']}); an app behind a server answers 500 where it raises: "
                    "fix the exception, or check that the target is up")
        if self.tested_nothing is not None:
            return f"the {self.kind} probe tested nothing: {self.tested_nothing}"
        if self.kind in NEEDS_HANDLER and self.answered and sum(self.refused.values()) == self.answered:
            return (f"the {self.kind} probe reached no handler: all {self.answered} of its requests were answered "
                    f"{statuses_text(self.statuses)}. {refused_hint(self.statuses)}")
        return None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "statuses": {str(k): v for k, v in self.statuses.items()},
                "refused": {str(k): v for k, v in self.refused.items()}, "raised": self.raised,
                "raised_count": self.raised_count, "skipped": self.skipped, "crashed": self.crashed,
                "tested_nothing": self.tested_nothing, "not_applicable": self.not_applicable}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeOutcome:
        return cls(kind=data["kind"], statuses={int(k): v for k, v in data["statuses"].items()},
                   refused={int(k): v for k, v in data["refused"].items()},
                   raised=list(data["raised"]), raised_count=data["raised_count"], skipped=data["skipped"],
                   crashed=data["crashed"], tested_nothing=data.get("tested_nothing"),
                   not_applicable=data.get("not_applicable", False))


def refused_hint(statuses: dict[int, int]) -> str:
    refused = sum(count for status, count in statuses.items() if status in (401, 403))
    hints = []
    if refused:
        hints.append("401/403: give the contract gate credentials that are accepted, e.g. "
                     "[tool.backend-gates.contract] headers = { Authorization = \"Bearer ${API_TOKEN}\" }")
    if statuses.get(404):
        hints.append("404: the paths were not found: the probes send to the schema's paths under servers[0].url "
                     "(or base_url's path); check that they are served there, and that path ids name existing "
                     "resources (a path parameter's `example` in the schema is used)")
    return "; ".join(hints)


def probe_problems(probes: Mapping[str, ProbeOutcome], selected: set[str], probe_requests: int) -> list[str]:
    """Why the probes tested nothing (each makes the gate `error`), the most telling first: `probes`
    by kind, the kinds `selected` (left after deselection), the requests all probes sent."""
    outcomes = [probes[kind] for kind in sorted(probes)]
    problems = [f"the {o.kind} probe crashed: {o.crashed}" for o in outcomes if o.crashed]
    # Anywhere: every answer to every probe (but those of the probes that want refusals: auth,
    # authz, jwt) refused before the handler. Said once for all probes, it names the cause best.
    statuses: Counter[int] = Counter()
    refused: Counter[int] = Counter()
    for outcome in outcomes:
        if outcome.kind not in WANTS_REFUSALS:
            statuses.update(outcome.statuses)
            refused.update(outcome.refused)
    everywhere = bool(statuses) and refused == statuses
    if everywhere:
        problems.append(f"every security probe request was answered {statuses_text(dict(statuses))}: the "
                        f"probes reached no handler. {refused_hint(dict(statuses))}")
    for outcome in outcomes:
        problem = outcome.problem()
        if problem and not outcome.crashed and not (everywhere and "reached no handler" in problem):
            problems.append(problem)
    for kind in sorted(selected - set(probes)):
        problems.append(f"the {kind} probe was selected but never reported (the run was interrupted "
                        "or its xdist worker crashed)")
    if outcomes and not problems and probe_requests == 0:
        kinds: dict[str, list[str]] = {}
        for outcome in outcomes:
            kinds.setdefault(outcome.skipped or "nothing to send", []).append(outcome.kind)
        reasons = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in kinds.items())
        problems.append(f"the security probes sent no request ({reasons})")
    return problems
