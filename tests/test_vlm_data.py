"""Loading and validating MMVP-VLM data: every error names the file, row or pair, and field."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from mmvp_tasks import vlm_data
from mmvp_tasks.data import DataValidationError
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.vlm_data import read_statements, scoring_documents


@pytest.fixture
def vlm_copy(synthetic_data, tmp_path) -> Path:
    """A writable copy of the synthetic MMVP-VLM set, for tests that break it on purpose."""
    return Path(shutil.copytree(synthetic_data.mmvp_vlm_dir, tmp_path / "mmvp_vlm"))


def _rows(root: Path) -> list[dict[str, str]]:
    with (root / "Questions.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _write(root: Path, rows: list[dict[str, str]]) -> None:
    with (root / "Questions.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["Question ID", "Type", "Statement"])
        writer.writeheader()
        writer.writerows(rows)


def test_reads_270_statements_grouped_by_type(synthetic_data):
    statements = read_statements(synthetic_data.mmvp_vlm_dir)
    assert len(statements) == 270
    assert [s.question_id for s in statements] == list(range(1, 271))
    for k, pattern in enumerate(PATTERNS):
        block = statements[30 * k : 30 * (k + 1)]
        assert {s.vlm_type for s in block} == {pattern.vlm_type}
        assert {s.pattern for s in block} == {pattern}
    first = statements[0]
    assert first.image_path == (
        synthetic_data.mmvp_vlm_dir / "MLLM_VLM Images" / "Orientation" / "1.jpg"
    )
    assert (first.pair_id, first.image_slot, first.partner_id) == (1, 1, 2)
    assert (statements[1].pair_id, statements[1].image_slot, statements[1].partner_id) == (1, 2, 1)


def test_every_statement_is_scored_against_both_images_of_its_pair(synthetic_data):
    statements = read_statements(synthetic_data.mmvp_vlm_dir)
    documents = scoring_documents(statements)
    assert len(documents) == 540
    by_id = {s.question_id: s for s in statements}
    for doc in documents:
        statement = by_id[doc["Question ID"]]
        own = doc["image_slot"] == statement.image_slot
        expected = statement.image_path if own else by_id[statement.partner_id].image_path
        assert doc["image"] == str(expected)
        assert doc["Statement"] == statement.statement
        assert (doc["pair_id"], doc["pattern"], doc["Type"]) == (
            statement.pair_id,
            statement.pattern.code,
            statement.vlm_type,
        )
    pairs = {(d["Question ID"], d["image_slot"]) for d in documents}
    assert pairs == {(i, slot) for i in range(1, 271) for slot in (1, 2)}


def test_local_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MMVP_VLM_DATA_DIR", str(tmp_path))
    assert vlm_data.resolve_vlm_data_dir() == tmp_path


def test_hub_dataset_is_mmvp_vlm(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.delenv("MMVP_VLM_DATA_DIR", raising=False)
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda *a, **k: calls.append((a, k)) or str(tmp_path)
    )
    assert vlm_data.resolve_vlm_data_dir() == tmp_path
    assert calls == [(("MMVP/MMVP_VLM",), {"repo_type": "dataset", "revision": None})]


def test_missing_image_is_named(vlm_copy):
    (vlm_copy / "MLLM_VLM Images" / "Color" / "157.jpg").unlink()
    with pytest.raises(DataValidationError, match=r"Question ID 157\).*Color/157\.jpg is missing"):
        read_statements(vlm_copy)


def test_unreadable_image_is_named(vlm_copy):
    (vlm_copy / "MLLM_VLM Images" / "Text" / "211.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataValidationError, match=r"211\.jpg is unreadable"):
        read_statements(vlm_copy)


def test_type_with_other_than_15_pairs_is_rejected(vlm_copy):
    rows = [r for r in _rows(vlm_copy) if r["Question ID"] not in ("31", "32")]
    _write(vlm_copy, rows)
    with pytest.raises(DataValidationError, match=r"every Type needs 15 pairs.*'Presence': 14"):
        read_statements(vlm_copy)


def test_missing_type_is_rejected(vlm_copy):
    _write(vlm_copy, [r for r in _rows(vlm_copy) if r["Type"] != "Text"])
    with pytest.raises(DataValidationError, match=r"'Text': 0"):
        read_statements(vlm_copy)


def test_unpaired_id_is_rejected(vlm_copy):
    _write(vlm_copy, [r for r in _rows(vlm_copy) if r["Question ID"] != "64"])
    with pytest.raises(DataValidationError, match=r"Question ID 63 is unpaired.*partner 64"):
        read_statements(vlm_copy)


def test_unknown_type_is_rejected_with_the_known_ones(vlm_copy):
    rows = _rows(vlm_copy)
    rows[4]["Type"] = "Shape"
    _write(vlm_copy, rows)
    with pytest.raises(
        DataValidationError, match=r"row 6 \(Question ID 5\): field 'Type': unknown Type 'Shape'"
    ) as err:
        read_statements(vlm_copy)
    assert "Camera Perspective" in str(err.value)


def test_pair_members_must_share_their_type(vlm_copy):
    rows = _rows(vlm_copy)
    rows[1]["Type"] = "Presence"
    _write(vlm_copy, rows)
    shutil.copy(
        vlm_copy / "MLLM_VLM Images" / "Orientation" / "2.jpg",
        vlm_copy / "MLLM_VLM Images" / "Presence" / "2.jpg",
    )
    with pytest.raises(DataValidationError, match=r"pair 1 \(Question ID 1 and 2\): field 'Type'"):
        read_statements(vlm_copy)


def test_duplicate_and_malformed_ids_are_rejected(vlm_copy):
    rows = _rows(vlm_copy)
    _write(vlm_copy, rows + [rows[0]])
    with pytest.raises(DataValidationError, match=r"duplicate Question ID value\(s\) \[1\]"):
        read_statements(vlm_copy)
    rows[0]["Question ID"] = "one"
    _write(vlm_copy, rows)
    with pytest.raises(DataValidationError, match=r"row 2: field 'Question ID': 'one'"):
        read_statements(vlm_copy)


def test_empty_statement_and_missing_column_are_rejected(vlm_copy):
    rows = _rows(vlm_copy)
    rows[2]["Statement"] = " "
    _write(vlm_copy, rows)
    with pytest.raises(DataValidationError, match=r"Question ID 3\): field 'Statement' is empty"):
        read_statements(vlm_copy)
    (vlm_copy / "Questions.csv").write_text("Question ID,Type\n1,Orientation\n")
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['Statement'\]"):
        read_statements(vlm_copy)
