"""RFC 9457 problem+json errors with a stable `code` (and a `rule` id where a rule decided).

Pure: services, the policy engine and the catalog raise them without importing a web framework;
kit.http answers them over HTTP."""

from __future__ import annotations

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error a client can act on: HTTP status, stable code, human title and detail."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        rule: str | None = None,
        **extra,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.rule = rule
        self.extra = extra

    def body(self, instance: str | None = None) -> dict:
        body = {
            "type": f"https://zhengxin.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if self.rule:
            body["rule"] = self.rule
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body
