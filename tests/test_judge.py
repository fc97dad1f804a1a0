"""The mmvp_official LLM judge against a real loopback server speaking the OpenAI protocol."""

from __future__ import annotations

import pytest

from mmvp_tasks import harness, judge
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
    "verdict, correct", [("yes", True), ("Yes", True), (" YES\n", True), ("no", False),
                         ("Yes, it does.", False), ("", False)]
)  # fmt: skip
def test_verdicts_follow_the_original_rule(verdict, correct, judge_env):
    with FakeAPIServer(lambda path, body: (200, completion(verdict), None)) as server:
        judge_env(server)
        record = harness.process_results_official(DOC, ["The wings are open."])[
            "mmvp_pair_accuracy"
        ]
    assert record["correct"] is correct and record["status"] == "answered"


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


def test_judge_failure_is_reported_as_failed_not_wrong(judge_env):
    with FakeAPIServer(lambda path, body: (500, {"error": {"message": "boom"}}, None)) as server:
        judge_env(server)
        record = harness.process_results_official(DOC, ["Open"])["mmvp_failed_requests"]
    assert record["status"] == "failed" and not record["correct"]
    assert len(server.requests) == 2  # one try + MMVP_JUDGE_MAX_RETRIES=1, bounded


def test_missing_key_fails_when_the_task_starts(monkeypatch):
    monkeypatch.delenv("MMVP_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(judge.JudgeConfigError, match="MMVP_JUDGE_API_KEY"):
        harness.process_docs_official(None)
