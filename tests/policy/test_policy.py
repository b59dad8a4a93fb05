"""The decision point alone (no database): each legal rule's forbid, the permits, DEFAULT-DENY,
the revision, and policy files that do not load."""

from __future__ import annotations

import shutil

import pytest

from zhengxin.policy import DEFAULT_DENY, POLICY_DIR, PolicyEngine, PolicyError, Subject, entity_ref

LENDER = Subject("lender", "pty_lender")
PERSON = ("Person", "tok_person")


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine()


def authorization(**overrides) -> dict:
    auth = {
        "lender": entity_ref("Lender", "pty_lender"),
        "person": entity_ref("Person", "tok_person"),
        "purpose": "loan_application",
        "products": ["report", "score"],
        "scopes": ["loan"],
        "separate_consent": False,
        "expires_on": 20_500,
        "revoked": False,
        "max_inquiries": 1,
    }
    auth.update(overrides)
    return auth


def inquiry(auth: dict | None = None, **overrides) -> dict:
    context = {
        "today": 20_400,
        "purpose": "loan_application",
        "product": "report",
        "scopes": ["loan"],
        "sensitive_types": ["travel"],
        "open_account": False,
        "uses": 0,
    }
    if auth is not None:
        context["authorization"] = auth
    context.update(overrides)
    return context


def test_an_authorized_inquiry_is_allowed_under_cr_18(engine):
    decision = engine.decide("inquire", LENDER, PERSON, inquiry(authorization()))
    assert decision.allowed and decision.rules == ("CR-18",)
    assert decision.decision_id.startswith("dec_") and decision.revision == engine.revision


DENIALS = [
    ("no authorization", inquiry(None), "CR-18", "authorization_missing"),
    (
        "another lender's",
        inquiry(authorization(lender=entity_ref("Lender", "pty_other"))),
        "CR-18",
        "authorization_not_yours",
    ),
    (
        "another person's",
        inquiry(authorization(person=entity_ref("Person", "tok_other"))),
        "CR-18",
        "authorization_not_yours",
    ),
    ("expired", inquiry(authorization(expires_on=20_399)), "CR-18", "authorization_expired"),
    ("wrong purpose", inquiry(authorization(), purpose="guarantee_review"), "CR-18", "purpose_not_authorized"),
    ("wrong product", inquiry(authorization(products=["report"]), product="score"), "CR-18", "product_not_authorized"),
    ("outside scope", inquiry(authorization(), scopes=["loan", "consumption"]), "CR-18", "scope_not_authorized"),
    ("used up", inquiry(authorization(), uses=1), "CR-18", "fair_use_exceeded"),
    (
        "post-loan without an open account",
        inquiry(authorization(purpose="post_loan_management"), purpose="post_loan_management"),
        "CR-18",
        "no_open_account",
    ),
    ("revoked", inquiry(authorization(revoked=True)), "PIPL-15", "authorization_revoked"),
    (
        "sensitive scope without separate consent",
        inquiry(authorization(scopes=["loan", "travel"]), scopes=["loan", "travel"]),
        "PIPL-29",
        "separate_consent_missing",
    ),
]


@pytest.mark.parametrize(("case", "context", "rule", "code"), DENIALS, ids=[d[0] for d in DENIALS])
def test_each_rule_denies_its_case_and_names_itself(engine, case, context, rule, code):
    decision = engine.decide("inquire", LENDER, PERSON, context)
    assert not decision.allowed
    assert decision.rules == (rule,) and decision.code == code
    problem = decision.problem()
    assert problem.status == 403 and problem.code == code and problem.rule == rule
    assert problem.extra["decision_id"] == decision.decision_id


def test_boundaries_the_last_valid_day_and_the_last_use(engine):
    assert engine.decide("inquire", LENDER, PERSON, inquiry(authorization(expires_on=20_400))).allowed
    assert engine.decide("inquire", LENDER, PERSON, inquiry(authorization(max_inquiries=2), uses=1)).allowed
    post_loan = inquiry(authorization(purpose="post_loan_management"), purpose="post_loan_management")
    assert engine.decide("inquire", LENDER, PERSON, {**post_loan, "open_account": True}).allowed
    travel = inquiry(authorization(scopes=["loan", "travel"], separate_consent=True), scopes=["loan", "travel"])
    assert engine.decide("inquire", LENDER, PERSON, travel).allowed


def test_every_rule_that_fires_is_named_and_the_first_gives_the_code(engine):
    context = inquiry(authorization(revoked=True, expires_on=1), purpose="guarantee_review")
    decision = engine.decide("inquire", LENDER, PERSON, context)
    assert decision.rules == ("CR-18", "PIPL-15")
    assert decision.code == "authorization_expired"
    assert {r.code for r in decision.reasons} == {"authorization_expired", "purpose_not_authorized",
                                                  "authorization_revoked"}  # fmt: skip


def test_nothing_permitted_is_a_default_deny(engine):
    decision = engine.decide("self_query", Subject("individual", "pty_i", "tok_someone_else"), PERSON)
    assert not decision.allowed and decision.rules == (DEFAULT_DENY,) and decision.code == "default_deny"
    assert decision.problem().detail == "no policy permits this request"
    # A regulator may read aggregates but is no lender.
    decision = engine.decide("inquire", Subject("regulator", "pty_r"), PERSON, inquiry(authorization()))
    assert decision.rules == ("CR-18",) and decision.code == "authorization_not_yours"
    decision = engine.decide("read_supervision", LENDER, ("SupervisionView", "v"), {"identifiers": False})
    assert decision.rules == (DEFAULT_DENY,)


def test_self_query_grant_furnish_and_supervision(engine):
    me = Subject("individual", "pty_i", "tok_person")
    assert engine.decide("self_query", me, PERSON).rules == ("PIPL-45",)
    grant = {"purpose": "loan_application", "scopes": ["loan", "travel"], "sensitive_types": ["travel"]}
    assert engine.decide("grant_authorization", me, PERSON, {**grant, "separate_consent": True}).allowed
    denied = engine.decide("grant_authorization", me, PERSON, {**grant, "separate_consent": False})
    assert denied.rules == ("PIPL-29",)
    platform = Subject("furnisher", "pty_f")
    assert engine.decide("furnish", platform, ("Agency", "agency")).rules == ("BDL-1",)
    direct = engine.decide("furnish", platform, ("Lender", "pty_lender"))
    assert not direct.allowed and direct.rules == ("BDL-1",) and direct.code == "direct_connection"
    view = ("SupervisionView", "v")
    assert engine.decide("read_supervision", Subject("regulator", "r"), view, {"identifiers": False}).allowed
    assert engine.decide("read_supervision", Subject("overseer", "o"), view, {"identifiers": False}).rules == (
        "PIPL-58",
    )
    assert engine.decide("read_supervision", Subject("regulator", "r"), view, {"identifiers": True}).rules == ("CM-7",)


def export(**overrides) -> dict:
    context = {
        "data_grade": "general", "credit_data": False, "route": "exempt", "approved": False, "approval_age_days": 0,
        "approval_valid_days": 1095, "separate_consent": True, "foreign_authority": False,
    }  # fmt: skip
    context.update(overrides)
    return context


@pytest.mark.parametrize(
    ("context", "rules"),
    [
        (export(), ("PIPL-38",)),
        (export(data_grade="core", route="security_assessment", approved=True), ("XB-CORE",)),
        (export(credit_data=True), ("CR-24",)),
        (export(route="security_assessment"), ("XB-ASSESS",)),
        (export(data_grade="important", route="standard_contract", approved=True), ("PIPL-38",)),
        (export(data_grade="important", route="standard_contract"), ("XB-ASSESS", "XB-SC")),
        (export(route="security_assessment", approved=True, approval_age_days=1095), ("PIPL-38",)),
        (export(route="security_assessment", approved=True, approval_age_days=1096), ("XB-VALID",)),
        (export(route="standard_contract"), ("XB-SC",)),
        (export(separate_consent=False), ("PIPL-39",)),
        (export(foreign_authority=True), ("PIPL-41",)),
    ],
)
def test_export_rules(engine, context, rules):
    decision = engine.decide("export", Subject("furnisher", "pty_f"), ("Dataset", "d"), context)
    assert decision.rules == rules
    assert decision.allowed == (rules == ("PIPL-38",))


def test_a_context_the_policies_cannot_read_fails_closed(engine):
    broken = inquiry(authorization())
    del broken["uses"]
    with pytest.raises(PolicyError, match="evaluation failed"):
        engine.decide("inquire", LENDER, PERSON, broken)


def test_the_revision_is_the_hash_of_the_files_and_bad_files_do_not_load(tmp_path, engine):
    copy = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, copy)
    assert PolicyEngine(copy).revision == engine.revision
    pipl = copy / "pipl.cedar"
    pipl.write_text(pipl.read_text() + "\n// a comment changes the text, so the revision\n")
    assert PolicyEngine(copy).revision != engine.revision

    pipl.write_text(pipl.read_text().replace("context.authorization.revoked", "context.authorization.withdrawn"))
    with pytest.raises(PolicyError, match="schema"):
        PolicyEngine(copy)
    shutil.copy(POLICY_DIR / "pipl.cedar", pipl)
    (copy / "extra.cedar").write_text('@id("X-1")\n@reason("r")\nforbid (principal, action, resource);\n')
    with pytest.raises(PolicyError, match="@code"):
        PolicyEngine(copy)
    (copy / "extra.cedar").write_text("permit (principal, action, resource)")
    with pytest.raises(PolicyError, match="parse"):
        PolicyEngine(copy)


def test_every_rule_id_is_in_rules_md_or_named_as_a_supervisory_power(engine):
    known = {
        "BDL-1", "PIPL-14", "CR-18", "PIPL-45", "PIPL-58", "PIPL-38", "PIPL-15", "PIPL-29", "PIPL-39", "PIPL-41",
        "XB-CORE", "CR-24", "XB-ASSESS", "XB-SC", "XB-VALID", "CM-7", "CR-SUPERVISION", "CR-22", "CR-25", "CR-16",
        "CR-29",
    }  # fmt: skip
    assert {r["rule"] for r in engine.rules()} <= known
    assert all(r["text"] for r in engine.rules())


def test_objections_are_a_persons_own_and_staff_reads_need_a_staff_account_and_a_purpose(engine):
    assert engine.decide("object", Subject("individual", "pty_i", "tok_person"), PERSON).rules == ("CR-25",)
    assert engine.decide("object", Subject("individual", "pty_i", "tok_other"), PERSON).rules == (DEFAULT_DENY,)
    assert engine.decide("object", LENDER, PERSON).rules == (DEFAULT_DENY,)
    agency = Subject("agency", "pty_a")
    read = engine.decide("staff_read", agency, PERSON, {"staff": True, "purpose": "complaint"})
    assert read.allowed and read.rules == ("CR-22",)
    shared = engine.decide("staff_read", agency, PERSON, {"staff": False, "purpose": "complaint"})
    assert shared.code == "staff_account_required"
    idle = engine.decide("staff_read", agency, PERSON, {"staff": True, "purpose": "marketing"})
    assert idle.code == "purpose_not_allowed"
    assert not engine.decide("staff_read", LENDER, PERSON, {"staff": True, "purpose": "complaint"}).allowed
