"""A small bureau for tests of the inquiry path: a platform that furnished, lenders, and
persons who hold accounts and API keys, all made through the public HTTP surface."""

from __future__ import annotations

from dataclasses import dataclass

from stdnum.cn import uscc as stdnum_uscc

from tests.records import CONTENT_TYPES, ENCODERS, loan


def a_uscc(n: int) -> str:
    body = f"91310000{n:09d}"
    return body + stdnum_uscc.calc_check_digit(body)


@dataclass
class Lender:
    id: str
    name: str
    uscc: str
    headers: dict


@dataclass
class Person:
    n: int
    person_id: str
    headers: dict


class Bureau:
    def __init__(self, client, parties):
        self.client = client
        self.parties = parties
        _, self.platform = parties.add("furnisher", "Platform One")
        _, self.agency = parties.add("agency", "The Agency")
        self._batches = 0

    def lender(self, name: str, n: int) -> Lender:
        row, h = self.parties.add("lender", name, uscc=a_uscc(n))
        return Lender(row["id"], name, row["uscc"], h)

    def furnish(self, records: list[dict], headers: dict | None = None) -> dict:
        self._batches += 1
        r = self.client.post(
            "/v1/furnishing/batches",
            content=ENCODERS["jsonl"](records),
            headers={**(headers or self.platform), "Content-Type": CONTENT_TYPES["jsonl"],
                     "Idempotency-Key": f"b{self._batches}"},
        )  # fmt: skip
        assert r.status_code == 201 and r.json()["rejected"] == 0, r.text
        return r.json()

    def person(self, n: int, *records: dict) -> Person:
        """A person with an account of their own and, by default, one loan on the platform."""
        records = records or (loan(n),)
        self.furnish(list(records))
        person_id = records[0]["person_id"]
        _, h = self.parties.add("individual", f"person-{n}", person_id=person_id)
        return Person(n, person_id, h)

    def grant(self, person: Person, lender: Lender, **body) -> dict:
        body = {"lender": lender.name, "purpose": "loan_application", "scopes": ["loan"], **body}
        r = self.client.post("/v1/authorizations", json=body, headers=person.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def inquire(self, lender: Lender, person: Person, authorization_id: str, **body):
        body = {
            "person_id": person.person_id,
            "authorization_id": authorization_id,
            "purpose": "loan_application",
            "product": "report",
            **body,
        }
        return self.client.post("/v1/inquiries", json=body, headers=lender.headers)

    def invoices(self, lender: Lender) -> list[dict]:
        return self.client.get("/v1/billing/invoices", headers=lender.headers).json()
