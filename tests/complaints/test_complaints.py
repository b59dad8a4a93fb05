"""Complaints: a person files one, a named member of staff answers it by the due day (late is
recorded as late), overseers and the regulator list and read them, and every read of a
complaint's text is an access the person can see."""

from __future__ import annotations

from datetime import timedelta

from tests.bureau import Bureau

from zhengxin.kit import clock


def test_a_complaint_is_filed_read_and_answered(client, parties, runtime):
    bureau = Bureau(client, parties)
    person = bureau.person(1)
    other = bureau.person(2)
    _, staff = parties.add("agency", "Li Na, complaints desk", staff=True)
    _, overseer = parties.add("overseer", "Board member")
    _, lender = parties.add("lender", "Bank A")

    r = client.post("/v1/me/complaints", json={"subject": "inquiry", "reference": "inq_x",
                                               "text": "A bank I never applied to looked at my report"},
                    headers=person.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["status"] == "open" and filed["due_on"] == str(clock.today() + timedelta(days=15))
    assert "person_token" not in filed

    assert client.post("/v1/me/complaints", json={"subject": "weather", "text": "x"},
                       headers=person.headers).status_code == 422  # fmt: skip
    assert client.post("/v1/me/complaints", json={"subject": "other", "text": "  "},
                       headers=person.headers).json()["code"] == "invalid_text"  # fmt: skip
    assert client.get("/v1/me/complaints", headers=other.headers).json()["complaints"] == []
    assert client.get("/v1/complaints", headers=lender).status_code == 403

    listed = client.get("/v1/complaints", headers=overseer).json()["complaints"]
    assert [c["id"] for c in listed] == [filed["id"]] and "text" not in listed[0] and "person_token" not in listed[0]
    read = client.get(f"/v1/complaints/{filed['id']}", headers=overseer).json()
    assert read["text"] == "A bank I never applied to looked at my report"

    # Only a named member of staff answers; the shared operator key cannot.
    assert client.post(f"/v1/complaints/{filed['id']}/answer", json={"text": "x"},
                       headers=bureau.agency).json()["code"] == "staff_account_required"  # fmt: skip
    answered = client.post(
        f"/v1/complaints/{filed['id']}/answer",
        json={"text": "The inquiry was under your authorization of 1 November."},
        headers=staff,
    )
    assert answered.status_code == 200 and answered.json()["status"] == "answered" and not answered.json()["late"]
    assert client.post(f"/v1/complaints/{filed['id']}/answer", json={"text": "again"},
                       headers=staff).json()["code"] == "complaint_not_open"  # fmt: skip
    mine = client.get("/v1/me/complaints", headers=person.headers).json()["complaints"]
    assert mine[0]["answer"].startswith("The inquiry was under")
    assert any(
        n["kind"] == "complaint.answered" for n in client.get("/v1/me/notifications", headers=person.headers).json()
    )

    # Each read of the text is in the person's accesses: the overseer's and the staff member's.
    kinds = [a["kind"] for a in client.get("/v1/me/accesses", headers=person.headers).json()["accesses"]]
    assert "complaint.read" in kinds and "staff.read" in kinds and "complaint.filed" in kinds


def test_a_late_answer_is_recorded_late_and_an_open_one_overdue(client, parties, runtime):
    bureau = Bureau(client, parties)
    person = bureau.person(1)
    _, staff = parties.add("agency", "Wang Fang", staff=True)
    _, regulator = parties.add("regulator", "PBOC")
    start = clock.now()
    with clock.frozen_at(start - timedelta(days=20)):
        first = client.post("/v1/me/complaints", json={"subject": "dispute", "text": "No answer to my objection"},
                            headers=person.headers).json()  # fmt: skip
        second = client.post("/v1/me/complaints", json={"subject": "score", "text": "My score is wrong"},
                             headers=person.headers).json()  # fmt: skip
    overdue = client.get("/v1/complaints", params={"overdue": "true"}, headers=regulator).json()["complaints"]
    assert {c["id"] for c in overdue} == {first["id"], second["id"]}
    late = client.post(f"/v1/complaints/{first['id']}/answer", json={"text": "Sorry for the delay."}, headers=staff)
    assert late.json()["late"] is True
    still = client.get("/v1/complaints", params={"overdue": "true"}, headers=regulator).json()["complaints"]
    assert [c["id"] for c in still] == [second["id"]]
