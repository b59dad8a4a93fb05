"""The furnisher's pages through the portal: an upload with a rejected record, the batch's error
table with its filters and CSV, a refused upload, obligations, a dispute answered, statements."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.bureau import Bureau
from tests.records import loan, to_csv
from tests.web.portal import csrf_of, sign_in
from zhengxin.furnishing.service import add_obligation
from zhengxin.kit import clock
from zhengxin.parties.service import Actor


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def upload(client, name: str, body: bytes, content_type: str = "text/csv"):
    page = client.get("/portal/furnisher")
    assert page.status_code == 200
    return client.post(
        "/portal/furnisher/batches",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": (name, body, content_type)},
        follow_redirects=False,
    )


def test_an_upload_lands_on_its_batch_with_the_rejects_to_filter_and_download(client, bureau):
    sign_in(client, bureau.platform)
    landing = client.get("/portal/furnisher")
    assert 'data-progress="upload-progress"' in landing.text and 'id="upload-progress"' in landing.text
    r = upload(client, "loans.csv", to_csv([loan(1), loan(2, product="payday_loan")]))
    assert r.status_code == 303, r.text
    batch_url = r.headers["location"]
    page = client.get(batch_url)
    assert page.status_code == 200
    assert "Received 2 records: 1 accepted, 1 rejected." in page.text
    assert "invalid_enum" in page.text and "<code>product</code>" in page.text
    assert "1 records match." in page.text

    assert "0 records match." in client.get(batch_url, params={"code": "missing_field"}).text
    assert "1 records match." in client.get(batch_url, params={"code": "invalid_enum", "field": "product"}).text
    assert "0 records match." in client.get(batch_url, params={"field": "person_id"}).text

    rejects = client.get(f"{batch_url}/rejects.csv")
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(rejects.content.decode("utf-8-sig"))))
    assert [(r["line"], r["field"], r["code"]) for r in rows] == [("3", "product", "invalid_enum")]
    assert "payday_loan" in rows[0]["raw"]  # the sender gets its record back, as from the errors API
    assert client.get(f"{batch_url}/rejects.csv", params={"code": "missing_field"}).text.count("\n") == 1

    listing = client.get("/portal/furnisher")
    assert batch_url in listing.text

    again = upload(client, "loans.csv", to_csv([loan(1), loan(2, product="payday_loan")]))
    assert again.headers["location"] == batch_url  # the same file again changes nothing
    assert "already received" in client.get(batch_url).text


def test_a_bad_upload_is_refused_with_its_code(client, bureau):
    sign_in(client, bureau.platform, lang="zh_CN")
    r = upload(client, "loans.txt", b"hello", "text/plain")
    assert (r.status_code, r.headers["location"]) == (303, "/portal/furnisher")
    page = client.get(r.headers["location"])
    assert "不支持的文件格式" in page.text and "[unsupported_media_type]" in page.text and "上传文件" in page.text
    r = upload(client, "empty.csv", b"")
    assert "empty_batch" in client.get(r.headers["location"]).text


def test_another_furnishers_batch_is_not_found(client, bureau, parties):
    batch = bureau.furnish([loan(1)])
    _, other = parties.add("furnisher", "Platform Two")
    sign_in(client, other)
    r = client.get(f"/portal/furnisher/batches/{batch['id']}")
    assert r.status_code == 404 and "batch_not_found" in r.text
    assert client.get(f"/portal/furnisher/batches/{batch['id']}/rejects.csv").status_code == 404


def test_obligations_show_their_next_due_day(client, runtime, parties, bureau):
    regulator, _ = parties.add("regulator")
    with runtime.transaction() as conn:
        platform_id = conn.exec_driver_sql("select id from parties where name = 'Platform One'").scalar()
        add_obligation(
            conn, Actor(regulator["id"], "regulator", regulator["name"]), furnisher_id=platform_id,
            record_types=["loan"], frequency="monthly", first_due_on=clock.today() + timedelta(days=10),
            note="Monthly loan snapshot", catalog=runtime.catalog,
        )  # fmt: skip
    sign_in(client, bureau.platform)
    page = client.get("/portal/furnisher/obligations")
    assert page.status_code == 200 and "Monthly loan snapshot" in page.text and "Pending" in page.text


def test_a_dispute_is_answered_from_the_queue(client, bureau):
    person = bureau.person(1)
    opened = client.post("/v1/me/disputes", json={"account_id": "ACC-000001", "reason": "I repaid on time"},
                         headers=person.headers).json()  # fmt: skip
    sign_in(client, bureau.platform)
    queue = client.get("/portal/furnisher/disputes")
    assert "I repaid on time" in queue.text and "ACC-000001" in queue.text
    action = f"/portal/furnisher/disputes/{opened['id']}/answer"
    r = client.post(action, data={"csrf_token": csrf_of(queue.text), "action": "verification"})
    assert r.status_code == 422 and "evidence_required" in r.text
    r = client.post(
        action,
        data={"csrf_token": csrf_of(queue.text), "action": "verification", "evidence_ref": "LEDGER-1"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/portal/furnisher/disputes")
    page = client.get("/portal/furnisher/disputes")
    assert "Your answer was sent to the agency." in page.text and "LEDGER-1" in page.text
    assert client.get(f"/v1/me/disputes/{opened['id']}", headers=person.headers).json()["status"] == "answered"


def test_revenue_statements_in_yuan(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    assert bureau.inquire(bank, person, bureau.grant(person, bank)["id"]).status_code == 201
    sign_in(client, bureau.platform)
    page = client.get("/portal/furnisher/statements")
    assert page.status_code == 200 and "<h1>Revenue statements</h1>" in page.text and "¥" in page.text
