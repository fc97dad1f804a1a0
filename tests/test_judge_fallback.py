"""The optional LLM-judge fallback of the rule-scored tasks (``MMVP_JUDGE_FALLBACK=1``), against a
real loopback server speaking the OpenAI protocol."""

from __future__ import annotations

import pytest

from mmvp_tasks import harness, judge, records
from tests.support.fake_api import FakeAPIServer, completion

DOC = {
    "Index": 1,
    "Question": "Are the butterfly's wings closer to being open or closed?",
    "Options": "(a) Open (b) Closed",
    "Correct Answer": "(a)",
    "pattern": "sc",
    "answer_key": "corrected",
}
UNREADABLE = "The wings are in an intermediate position, partially spread."


@pytest.fixture
def fallback_env(monkeypatch):
    def configure(server, enabled="1"):
        monkeypatch.setenv("MMVP_JUDGE_FALLBACK", enabled)
        monkeypatch.setenv("MMVP_JUDGE_API_KEY", "test-key-123")
        monkeypatch.setenv("MMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("MMVP_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("MMVP_JUDGE_MAX_RETRIES", "0")
        monkeypatch.setenv("MMVP_JUDGE_CACHE", "off")  # every verdict is a request here

    return configure


def _score(response):
    scores = harness.process_results(DOC, [response])
    return scores["mmvp_pair_accuracy"], scores[harness.JUDGED]


@pytest.mark.parametrize("verdict, correct", [("yes", True), ("no", False), ("maybe", False)])
def test_unreadable_answer_is_graded_by_the_judge(verdict, correct, fallback_env):
    with FakeAPIServer(lambda path, body: (200, completion(verdict), None)) as server:
        fallback_env(server)
        record, judged = _score(UNREADABLE)
    assert (record["status"], record["correct"], judged) == ("answered", correct, 1)
    assert (record["judge_reply"], record["verdict_rule"]) == (verdict, "original")
    logged = records.Verdict(verdict, "original", record["judge"])  # re-read offline: the same
    assert records.rule_results(DOC, UNREADABLE, logged)["mmvp_pair_accuracy"] == record
    (request,) = server.requests
    assert request["model"] == "judge-model" and request["temperature"] == judge.JUDGE_TEMPERATURE
    assert (
        request["messages"][1]["content"]
        == judge.grader_messages(
            "Are the butterfly's wings closer to being open or closed? (a) Open (b) Closed",
            "(a)",
            UNREADABLE,
        )[1]["content"]
    )


def test_readable_answers_never_reach_the_judge(fallback_env):
    with FakeAPIServer(lambda path, body: (200, completion("yes"), None)) as server:
        fallback_env(server)
        record, judged = _score("B")  # a stated label: the rules decide, and it is wrong
    assert (record["status"], record["correct"], judged) == ("answered", False, 0)
    assert server.requests == []


def test_off_by_default(fallback_env):
    with FakeAPIServer(lambda path, body: (200, completion("yes"), None)) as server:
        fallback_env(server, enabled="0")
        record, judged = _score(UNREADABLE)
    assert (record["status"], record["correct"], judged) == ("unparseable", False, 0)
    assert server.requests == []


def test_failed_judge_request_leaves_the_answer_unparseable(fallback_env):
    with FakeAPIServer(lambda path, body: (500, {"error": {"message": "boom"}}, None)) as server:
        fallback_env(server)
        record, judged = _score(UNREADABLE)
    assert (record["status"], record["correct"], judged) == ("unparseable", False, 0)


def test_fallback_without_a_key_fails_when_the_task_starts(monkeypatch):
    monkeypatch.setenv("MMVP_JUDGE_FALLBACK", "1")
    monkeypatch.delenv("MMVP_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(judge.JudgeConfigError, match="MMVP_JUDGE_API_KEY"):
        harness.process_docs_original(None)


def test_judged_answers_are_summed():
    assert harness.aggregate_judged([1, 0, 1]) == 2


def test_every_rule_scored_task_aggregates_what_process_results_returns(real_mmvp_dir, monkeypatch):
    """lmms-eval aggregates each returned key by the YAML's metric list: mmvp_judged included."""
    import lmms_eval.models  # noqa: F401  (loads the plugin's entry point, as the CLI does)
    from lmms_eval.tasks import TaskManager

    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir))
    names = ["mmvp", "mmvp_option_swap", "mmvp_symbol_change"]
    tasks = TaskManager().load_task_or_group(names)
    returned = set(harness.process_results(DOC, ["B"]))
    for name in names:
        assert returned <= set(tasks[name].aggregation()), name
