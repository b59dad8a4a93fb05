"""The policy decision point: Cedar policies (cedarpy) read once, one call per decision.

Permits say what each role may do; one forbid per legal rule, its `@id` the rule's id in
RULES.md, takes a right away. A decision names every rule that decided it: the forbids that
fired on a deny (the first, in file order, gives the error code), the permits on an allow,
and `DEFAULT-DENY` when nothing permitted the request. The revision is the SHA-256 of the
policy files and schema, so every recorded decision says which text decided it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import cedarpy

from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id

POLICY_DIR = Path(__file__).with_name("policies")
SCHEMA_FILE = "schema.cedarschema"
DEFAULT_DENY = "DEFAULT-DENY"
ACTIONS = (
    "furnish", "grant_authorization", "inquire", "self_query", "object", "withdraw_consent", "staff_read",
    "read_supervision", "export",
)  # fmt: skip
ENTITY_TYPES = {
    "agency": "Agency",
    "furnisher": "Furnisher",
    "lender": "Lender",
    "individual": "Individual",
    "regulator": "Regulator",
    "overseer": "Overseer",
}
EPOCH = date(1970, 1, 1)


class PolicyError(RuntimeError):
    """The policy files do not parse or do not match the schema."""


@dataclass(frozen=True)
class Reason:
    rule: str
    effect: str  # permit | forbid
    code: str | None
    text: str


@dataclass(frozen=True)
class Decision:
    decision_id: str
    action: str
    allowed: bool
    rules: tuple[str, ...]
    reasons: tuple[Reason, ...]
    revision: str

    @property
    def code(self) -> str:
        """The stable error code of a deny: the first forbid's, or `default_deny`."""
        return next((r.code for r in self.reasons if r.effect == "forbid" and r.code), "default_deny")

    def record(self) -> dict:
        """What the transparency log and the decision table keep."""
        return {"id": self.decision_id, "revision": self.revision, "allowed": self.allowed, "rules": list(self.rules)}

    def explain(self) -> dict:
        return {
            "decision_id": self.decision_id,
            "action": self.action,
            "decision": "allow" if self.allowed else "deny",
            "rules": list(self.rules),
            "code": None if self.allowed else self.code,
            "reasons": [r.__dict__ for r in self.reasons],
            "policy_revision": self.revision,
        }

    def problem(self) -> Problem:
        """A deny as the problem+json error the caller sees."""
        first = next((r for r in self.reasons if r.effect == "forbid"), None)
        detail = first.text if first else "no policy permits this request"
        return Problem(
            403,
            self.code,
            detail,
            title="Denied by policy",
            rule=self.rules[0],
            rules=list(self.rules),
            decision_id=self.decision_id,
            policy_revision=self.revision,
        )


@dataclass(frozen=True)
class Subject:
    """Who is asking: a party's role and id, and for an individual their person token."""

    role: str
    party_id: str
    person_token: str | None = None

    def uid(self) -> dict:
        return {"type": ENTITY_TYPES.get(self.role, "Unknown"), "id": self.party_id}

    def entity(self) -> dict:
        attrs: dict[str, Any] = {}
        if self.role == "individual" and self.person_token:
            attrs["person"] = entity_ref("Person", self.person_token)
        return {"uid": self.uid(), "attrs": attrs, "parents": []}


def entity_ref(kind: str, entity_id: str) -> dict:
    return {"__entity": {"type": kind, "id": entity_id}}


def epoch_day(day: date) -> int:
    return (day - EPOCH).days


@dataclass
class PolicyEngine:
    directory: Path = POLICY_DIR
    revision: str = field(init=False)
    files: dict[str, str] = field(init=False)

    def __post_init__(self):
        paths = sorted(self.directory.glob("*.cedar"))
        if not paths:
            raise PolicyError(f"no policy files in {self.directory}")
        self.files = {p.name: p.read_text() for p in paths}
        schema_text = (self.directory / SCHEMA_FILE).read_text()
        digest = hashlib.sha256()
        for name, text in [*self.files.items(), (SCHEMA_FILE, schema_text)]:
            digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        self.revision = digest.hexdigest()
        text = "\n".join(self.files.values())
        try:
            self._policies = cedarpy.PolicySet.from_str(text)
            schema = cedarpy.Schema.from_str(schema_text)
            parsed = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        except ValueError as e:
            raise PolicyError(f"the policies do not parse: {e}") from None
        checked = cedarpy.validate_policies(text, schema)
        if not checked.validation_passed:
            raise PolicyError("the policies do not match the schema: " + "; ".join(map(str, checked.errors)))
        # cedarpy names policies policy0..N in file order; that order ranks the forbids.
        self._order = {pid: int(pid.removeprefix("policy")) for pid in parsed}
        self._reasons: dict[str, Reason] = {}
        for pid, policy in parsed.items():
            notes = policy.get("annotations", {})
            if "id" not in notes or "reason" not in notes:
                raise PolicyError(f"policy {pid} needs an @id (its rule) and a @reason")
            if policy["effect"] == "forbid" and "code" not in notes:
                raise PolicyError(f"forbid {notes['id']} needs a @code")
            self._reasons[pid] = Reason(notes["id"], policy["effect"], notes.get("code"), notes["reason"])

    def rules(self) -> list[dict]:
        """Every policy as a lawyer would list it: rule, effect, code and reason, in file order."""
        return [self._reasons[pid].__dict__ for pid in sorted(self._reasons, key=self._order.get)]

    def decide(
        self,
        action: str,
        subject: Subject,
        resource: tuple[str, str],
        context: dict | None = None,
        entities: list[dict] | None = None,
    ) -> Decision:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        request = {
            "principal": subject.uid(),
            "action": {"type": "Action", "id": action},
            "resource": {"type": resource[0], "id": resource[1]},
            "context": context or {},
        }
        result = cedarpy.is_authorized(request, self._policies, [subject.entity(), *(entities or [])])
        if result.diagnostics.errors:
            # A policy that cannot evaluate (a missing attribute, say) must never allow quietly.
            raise PolicyError("policy evaluation failed: " + "; ".join(result.diagnostics.errors))
        fired = sorted(result.diagnostics.reasons, key=self._order.get)
        reasons = tuple(self._reasons[pid] for pid in fired)
        rules = tuple(dict.fromkeys(r.rule for r in reasons)) or (DEFAULT_DENY,)
        return Decision(new_id("dec"), action, result.allowed, rules, reasons, self.revision)
