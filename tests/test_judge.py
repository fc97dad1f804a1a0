"""The mmvp_official LLM judge against a real loopback server speaking the OpenAI protocol."""

from __future__ import annotations

import json

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


@pytest.fixture
def judge_env(monkeypatch):
    def configure(server):
        monkeypatch.setenv("MMVP_JUDGE_API_KEY", "test-key-123")
        monkeypatch.setenv("MMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("MMVP_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("MMVP_JUDGE_MAX_RETRIES", "1")

    return configure


@pytest.mark.parametrize(
    "verdict, original, stripped",
    [("yes", True, True), ("Yes", True, True), ("YES", True, True), ("no", False, False),
     (" YES\n", False, True), ("yes\n", False, True), (" yes", False, True),
     ("no\n", False, False), ("Yes, it does.", False, False), ("", False, False)],
)  # fmt: skip
def test_verdict_rules(verdict, original, stripped, judge_env, monkeypatch):
    """gpt_grader.py matches the raw reply (``$`` lets "yes\n" through the regex, but
    ``"yes\n" != "yes"``); the stripped rule ignores surrounding whitespace."""
    with FakeAPIServer(lambda path, body: (200, completion(verdict), None)) as server:
        judge_env(server)
        scored = {}
        for rule in ("original", "stripped", None):
            if rule:
                monkeypatch.setenv("MMVP_JUDGE_VERDICT", rule)
            else:
                monkeypatch.delenv("MMVP_JUDGE_VERDICT")  # the default is the original rule
            scored[rule] = harness.process_results_official(DOC, ["The wings are open."])
    for rule, expected in (("original", original), ("stripped", stripped), (None, original)):
        record = scored[rule]["mmvp_pair_accuracy"]
        assert record["correct"] is expected and record["status"] == "answered"
        assert scored[rule]["mmvp_judge_rule_disagreements"] == int(original != stripped)


def test_unknown_verdict_rule_fails_when_the_task_starts(monkeypatch):
    monkeypatch.setenv("MMVP_JUDGE_API_KEY", "test-key-123")
    monkeypatch.setenv("MMVP_JUDGE_VERDICT", "lenient")
    with pytest.raises(judge.JudgeConfigError, match="MMVP_JUDGE_VERDICT must be one of"):
        harness.process_docs_official(None)


def test_rule_disagreements_are_summed_by_the_task():
    """Counted on every reply; unscored responses (failed, refused) count 0."""
    from lmms_mmvp.report.tasks import task_spec

    aggregations = task_spec("mmvp_official").aggregations
    assert aggregations["mmvp_judge_rule_disagreements"]([0, 1, 1, 0]) == 2
    assert "mmvp_judge_rule_disagreements" not in task_spec("mmvp").aggregations


def test_request_carries_the_papers_grader_prompt(judge_env):
    with FakeAPIServer(lambda path, body: (200, completion("yes"), None)) as server:
        judge_env(server)
        harness.process_results_official(DOC, ["Open"])
    (request,) = server.requests
    assert request["model"] == "judge-model" and request["temperature"] == 0.2
    assert request["messages"][0]["content"] == judge.GRADER_SYSTEM_PROMPT
    assert request["messages"][1]["content"] == (
        "Given the following question Are the butterfly's wings closer to being open or closed? "
        "(a) Open (b) Closed, the correct answer is (a). Does the following answer correctly "
        "answers the question, answer:Open?"
    )
    assert server.headers[0]["authorization"] == "Bearer test-key-123"


def test_prompts_keep_the_csv_fields_surrounding_spaces(judge_env):
    """The original sends the CSV strings as they are, to the model and to the judge."""
    spaced = {**DOC, "Question": " Are the wings open? ", "Options": "(a) Open (b) Closed "}
    spaced["Correct Answer"] = " (a)"
    assert harness.doc_to_text_official(spaced) == " Are the wings open?  (a) Open (b) Closed "
    with FakeAPIServer(lambda path, body: (200, completion("yes"), None)) as server:
        judge_env(server)
        record = harness.process_results_official(spaced, [" Open "])["mmvp_pair_accuracy"]
    assert record["target"] == "a" and record["correct"]  # normalised only to read the label
    assert server.requests[0]["messages"][1]["content"] == (
        "Given the following question  Are the wings open?  (a) Open (b) Closed , the correct "
        "answer is  (a). Does the following answer correctly answers the question, answer: Open ?"
    )


def test_judge_failure_is_reported_as_failed_not_wrong(judge_env):
    with FakeAPIServer(lambda path, body: (500, {"error": {"message": "boom"}}, None)) as server:
        judge_env(server)
        scores = harness.process_results_official(DOC, ["Open"])
    record = scores["mmvp_failed_requests"]
    assert record["status"] == "failed" and not record["correct"]
    assert scores["mmvp_judge_rule_disagreements"] == 0
    assert len(server.requests) == 2  # one try + MMVP_JUDGE_MAX_RETRIES=1, bounded


def test_missing_key_fails_when_the_task_starts(monkeypatch):
    monkeypatch.delenv("MMVP_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(judge.JudgeConfigError, match="MMVP_JUDGE_API_KEY"):
        harness.process_docs_official(None)


@pytest.mark.parametrize(
    "verdict, rule, unparseable",
    [("yes", "original", 0), ("No", "original", 0), ("Yes, it does.", "original", 1),
     ("", "original", 1), (" yes", "original", 1), (" yes", "stripped", 0),
     ("maybe", "stripped", 1)],
)  # fmt: skip
def test_verdicts_neither_yes_nor_no_are_counted(
    verdict, rule, unparseable, judge_env, monkeypatch
):
    monkeypatch.setenv("MMVP_JUDGE_VERDICT", rule)
    with FakeAPIServer(lambda path, body: (200, completion(verdict), None)) as server:
        judge_env(server)
        per_metric = harness.process_results_official(DOC, ["The wings are open."])
    assert per_metric["mmvp_judge_unparseable"] == unparseable
    assert harness.aggregate_judge_unparseable([unparseable, 1, 0]) == unparseable + 1
    record = per_metric["mmvp_pair_accuracy"]  # logged, so a run can be re-verified offline
    assert (record["judge_reply"], record["verdict_rule"]) == (verdict, rule)
    offline = records.official_results(
        DOC, "The wings are open.", records.Verdict(verdict, rule, record["judge"]),
        record["judge"],
    )  # fmt: skip
    assert offline == per_metric


def test_provenance_names_the_judge_model_and_host_never_the_key(judge_env):
    with FakeAPIServer(lambda path, body: (200, completion("yes"), None)) as server:
        judge_env(server)
        records = [harness.process_results_official(DOC, ["Open"])["mmvp_provenance"]]
    summary = harness.aggregate_provenance(records)
    host = server.base_url.removeprefix("http://").removesuffix("/v1")
    assert summary["judge"] == f"judge-model @ {host}"
    assert "test-key-123" not in json.dumps(summary)


def test_rule_scored_tasks_name_no_judge():
    records = [harness.process_results(DOC, ["(a)"])["mmvp_provenance"]]
    assert "judge" not in harness.aggregate_provenance(records)


def test_verdicts_are_cached_and_failures_are_not(judge_env, monkeypatch):
    outages = [1, 1]  # the first two requests fail: one try + MMVP_JUDGE_MAX_RETRIES=1
    verdicts = {"judge-model": "yes", "other-judge": "no"}

    def respond(path, body):
        if outages and outages.pop():
            return 500, {"error": {"message": "down"}}, None
        return 200, completion(verdicts[body["model"]]), None

    with FakeAPIServer(respond) as server:
        judge_env(server)
        failed = harness.process_results_official(DOC, ["Open"])["mmvp_failed_requests"]
        assert failed["status"] == "failed" and len(server.requests) == 2
        for _ in range(3):  # the failure was not cached: asked once more, then from the cache
            assert harness.process_results_official(DOC, ["Open"])["mmvp_accuracy"]["correct"]
        assert len(server.requests) == 3
        harness.process_results_official(DOC, ["Closed"])  # another prompt: a new request
        monkeypatch.setenv("MMVP_JUDGE_MODEL", "other-judge")  # another judge: a new request
        assert not harness.process_results_official(DOC, ["Open"])["mmvp_accuracy"]["correct"]
    assert len(server.requests) == 5
