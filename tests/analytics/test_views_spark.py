"""The same views, unchanged, on PySpark (local mode) against the same hand-computed answers.
Slow: a Spark session takes seconds to start, so the module shares one."""

from __future__ import annotations

import time

import pytest

from tests.analytics.population import AS_OF, write_lake
from tests.analytics.test_views import EXPECTED, assert_no_tokens
from zhengxin.analytics import VIEWS, run

pytest.importorskip("pyspark", reason="the spark extra is not installed")  # CI installs it (`.[all]`)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    session = run.spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory) -> dict:
    lake = write_lake(tmp_path_factory.mktemp("lake"))
    started = time.perf_counter()
    found = run.run(lake, backend="pyspark", as_of=AS_OF, con=run.connect("pyspark", spark))
    print(f"pyspark: {time.perf_counter() - started:.1f} s for every view")  # shown with -s
    return found


def test_every_view_runs_on_pyspark_and_holds_no_person_token(results):
    assert list(results) == list(VIEWS)
    assert_no_tokens(results)


@pytest.mark.parametrize("view", VIEWS)
def test_view_matches_the_hand_computed_answer_on_pyspark(results, view):
    assert results[view] == EXPECTED[view]
