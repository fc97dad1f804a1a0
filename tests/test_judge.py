"""The mmvp_official LLM judge against a real loopback server speaking the OpenAI protocol."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mmvp_tasks import harness, judge, records, request_engine
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
def pauses(monkeypatch) -> list[float]:
    """The request engine's waits before retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(request_engine, "pause", lambda seconds, stop: waited.append(seconds))
    return waited


@pytest.fixture
def judge_env(monkeypatch, pauses):
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


def test_retries_honour_retry_after_and_are_the_engines_alone(judge_env, pauses, monkeypatch):
    """A 429 is retried after the server's Retry-After; the SDK adds no attempts of its own."""
    replies = [(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"})]

    def respond(path, body):
        return replies.pop() if replies else (200, completion("yes"), None)

    with FakeAPIServer(respond) as server:
        judge_env(server)
        record = harness.process_results_official(DOC, ["Open"])["mmvp_accuracy"]
        assert record["status"] == "answered" and record["correct"]
        assert len(server.requests) == 2 and pauses == [7.0]
        monkeypatch.setenv("MMVP_JUDGE_MAX_RETRIES", "0")
        monkeypatch.setenv("MMVP_JUDGE_CACHE", "off")
        replies.append((503, {"error": {"message": "busy"}}, None))
        failed = harness.process_results_official(DOC, ["Open"])["mmvp_accuracy"]
    assert failed["status"] == "failed" and len(server.requests) == 3  # one attempt, no SDK retry
    assert judge._client(judge.settings_from_env()).max_retries == 0


def test_no_verdict_in_the_reply_is_a_failed_request_and_not_cached(judge_env):
    """A refusal or an empty message is no verdict: failed (not scored), asked again next time."""
    with FakeAPIServer(lambda path, body: (200, completion(None, "I can't"), None)) as server:
        judge_env(server)
        for _ in range(2):
            record = harness.process_results_official(DOC, ["Open"])["mmvp_accuracy"]
            assert record["status"] == "failed"
    assert len(server.requests) == 2  # fatal: no retry; not cached: asked again


def test_the_cache_outlives_the_run(judge_env, tmp_path, monkeypatch):
    """Verdicts are written as they arrive, in the request engine's cache: a new run (a new
    engine, the same MMVP_JUDGE_CACHE) asks nothing again."""
    monkeypatch.setenv("MMVP_JUDGE_CACHE", str(tmp_path / "judge"))
    with FakeAPIServer(lambda path, body: (200, completion(body["messages"][1]["content"][-6:]),
                                           None)) as server:  # fmt: skip
        judge_env(server)
        first = [harness.process_results_official(DOC, [r]) for r in ("Open", "Closed")]
        judge._engine.cache_clear()  # what a new process starts with
        again = [harness.process_results_official(DOC, [r]) for r in ("Open", "Closed")]
    assert again == first and len(server.requests) == 2
    assert len(request_engine.ResponseCache(tmp_path / "judge" / judge.CACHE_FILE)) == 2


def test_a_rejected_key_stops_the_run_with_one_clear_message(judge_env):
    body = {"error": {"message": "Incorrect API key provided: test-key-123"}}
    with FakeAPIServer(lambda path, _: (401, body, None)) as server:
        judge_env(server)
        with pytest.raises(judge.JudgeConfigError) as raised:
            harness.process_results_official(DOC, ["Open"])
    message = str(raised.value)
    assert "rejected the key from $MMVP_JUDGE_API_KEY" in message and "The run stopped" in message
    assert "test-key-123" not in message and "Incorrect" not in message
    assert len(server.requests) == 1  # never retried


_GRADE_ONE = """
from mmvp_tasks import judge
judge.grade("Open or closed? (a) Open (b) Closed", "(a)", "Open", judge.settings_from_env())
"""


def test_ctrl_c_stops_a_judge_waiting_to_retry(tmp_path):
    """Interrupted during the server's Retry-After: the process stops at once, nothing more is
    sent and nothing is cached."""
    busy = {"error": {"message": "slow down"}}
    with FakeAPIServer(lambda path, body: (429, busy, {"Retry-After": "60"})) as server:
        env = {
            **os.environ,
            "MMVP_JUDGE_API_KEY": "test-key-123",
            "MMVP_JUDGE_BASE_URL": server.base_url,
            "MMVP_JUDGE_CACHE": str(tmp_path),
        }
        child = subprocess.Popen(
            [sys.executable, "-c", _GRADE_ONE], env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.time() + 60
            while not server.requests and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # in the 60 s wait before the retry
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=30)  # far sooner than the Retry-After
        finally:
            if child.poll() is None:
                child.kill()
    assert "KeyboardInterrupt" in stderr and child.returncode != 0
    assert len(server.requests) == 1
    assert len(request_engine.ResponseCache(tmp_path / judge.CACHE_FILE)) == 0
