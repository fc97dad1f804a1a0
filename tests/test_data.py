"""Loading and validating MMVP data: every error names the file, row and field."""

from __future__ import annotations

import csv
import re

import pytest

from mmvp_tasks import data
from mmvp_tasks.data import DataValidationError, read_questions
from tests.support.mmvp_data import AMVICC_PATTERNS, real_rows, write_mmvp_dir


def _rows(path):
    with (path / "Questions.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _rewrite(path, rows, header=None):
    write_mmvp_dir(path, rows, header=header)


def test_reads_the_real_questions_with_the_corrected_key(real_mmvp_dir):
    questions = read_questions(real_mmvp_dir)
    assert len(questions) == 300
    by_index = {q.index: q for q in questions}
    assert (by_index[99].correct_answer, by_index[100].correct_answer) == ("(b)", "(a)")
    assert (by_index[279].correct_answer, by_index[280].correct_answer) == ("(b)", "(a)")
    assert by_index[1].correct_answer == "(a)" and by_index[2].correct_answer == "(b)"
    assert by_index[2].pair_id == 1 and by_index[3].pair_id == 2
    assert by_index[7].image_path.name == "7.jpg"


def test_original_key_is_the_upstream_one(real_mmvp_dir):
    questions = read_questions(real_mmvp_dir, answer_key="original")
    assert [q.correct_answer for q in questions] == [r["Correct Answer"] for r in real_rows()]


def test_corrections_apply_only_to_the_mmvp_questions(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    for row in rows[98:100]:
        row["Question"] = "Some other question?"
    _rewrite(copy_of_real_mmvp, rows)
    by_index = {q.index: q for q in read_questions(copy_of_real_mmvp)}
    assert by_index[99].correct_answer == "(a)"  # not the elephant question: left alone
    assert by_index[279].correct_answer == "(b)"


def test_unknown_answer_key_is_rejected(real_mmvp_dir):
    with pytest.raises(ValueError, match="answer_key"):
        read_questions(real_mmvp_dir, answer_key="fixed")


def test_lndex_header_typo_is_normalised(copy_of_real_mmvp):
    header = ["lndex", "Question", "Options", "Correct Answer"]
    _rewrite(copy_of_real_mmvp, _rows(copy_of_real_mmvp), header=header)
    assert len(read_questions(copy_of_real_mmvp)) == 300


def _amvicc():
    with AMVICC_PATTERNS.open(newline="") as f:
        return {int(r["Index"]): r["Pattern"] for r in csv.DictReader(f)}


def test_real_mmvp_gets_the_shipped_unofficial_mapping_by_default(copy_of_real_mmvp):
    questions = read_questions(copy_of_real_mmvp)
    assert {q.index: q.pattern for q in questions} == _amvicc()
    assert data.pattern_mapping(copy_of_real_mmvp, questions) == data.AMVICC_PATTERNS


def test_other_data_gets_no_default_mapping(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    for row in rows[98:100]:
        row["Question"] = "Some other question?"
    _rewrite(copy_of_real_mmvp, rows)
    assert {q.pattern for q in read_questions(copy_of_real_mmvp)} == {""}


def test_patterns_from_the_data_dir_or_a_given_mapping_win(copy_of_real_mmvp, monkeypatch):
    custom = copy_of_real_mmvp.parent / "custom.csv"
    custom.write_text("Index,Pattern\n" + "".join(f"{i},tx\n" for i in range(1, 301)))
    monkeypatch.setenv("MMVP_PATTERNS_CSV", str(custom))  # read by the task hooks, not here
    assert {q.pattern for q in read_questions(copy_of_real_mmvp)} == set(_amvicc().values())
    assert {q.pattern for q in read_questions(copy_of_real_mmvp, patterns_csv=custom)} == {"tx"}
    (copy_of_real_mmvp / "patterns.csv").write_text("Index,Pattern\n1, vp\n2,vp\n")
    by_index = {q.index: q.pattern for q in read_questions(copy_of_real_mmvp, "corrected", custom)}
    assert by_index[1] == by_index[2] == "vp" and by_index[3] == ""


def test_short_row_names_file_and_row(copy_of_real_mmvp):
    text = (copy_of_real_mmvp / "Questions.csv").read_text().splitlines()
    text[5] = "5,Is the door open?"
    (copy_of_real_mmvp / "Questions.csv").write_text("\n".join(text) + "\n")
    _expect(copy_of_real_mmvp, r"Questions\.csv: row 6: 2 field\(s\), expected 4 .*'Options'")


def test_fields_past_the_header_are_left_out(copy_of_real_mmvp):
    """A trailing comma (a spreadsheet's empty column) adds no field to the question."""
    path = copy_of_real_mmvp / "Questions.csv"
    text = path.read_text().splitlines()
    text[1] += ","
    path.write_text("\n".join(text) + "\n")
    rows = data.read_csv_rows(path, data.COLUMNS)
    assert list(rows[0][1]) == list(data.COLUMNS) and len(read_questions(copy_of_real_mmvp)) == 300


def test_fields_keep_their_surrounding_spaces_for_prompts(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    for row in rows[:2]:
        row["Question"] = " Are the butterfly's wings closer to being open or closed? "
    _rewrite(copy_of_real_mmvp, rows)
    first = read_questions(copy_of_real_mmvp)[0]
    assert first.question == " Are the butterfly's wings closer to being open or closed? "


def test_unknown_pattern_code_names_file_row_field(copy_of_real_mmvp):
    (copy_of_real_mmvp / "patterns.csv").write_text("Index,Pattern\n1,od\n2,xx\n")
    with pytest.raises(DataValidationError, match=r"patterns\.csv: row 3: field 'Pattern'.*'xx'"):
        read_questions(copy_of_real_mmvp)


def test_data_dir_from_environment_else_hub_snapshot(monkeypatch, tmp_path):
    monkeypatch.setenv("MMVP_DATA_DIR", str(tmp_path))
    assert data.resolve_data_dir() == tmp_path
    monkeypatch.delenv("MMVP_DATA_DIR")
    calls = []

    def fake_snapshot_download(repo_id, repo_type, revision):
        calls.append((repo_id, repo_type, revision))
        return str(tmp_path)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert data.resolve_data_dir() == tmp_path
    monkeypatch.setenv("MMVP_REVISION", "abc123")
    data.resolve_data_dir()
    assert calls == [("MMVP/MMVP", "dataset", None), ("MMVP/MMVP", "dataset", "abc123")]


def test_unreachable_hub_says_how_to_give_the_data(monkeypatch):
    """Offline with nothing cached (huggingface_hub's own error, as it raises it): one message
    with the way out, not the hub's traceback."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")

    monkeypatch.delenv("MMVP_DATA_DIR", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(data.DataUnavailableError) as err:
        data.resolve_data_dir()
    message = str(err.value)
    assert "the hub dataset MMVP/MMVP is unreachable and not in the local cache" in message
    assert "MMVP_DATA_DIR=/path/to/copy" in message and "--data" in message
    assert err.value.__suppress_context__ and err.value.__cause__ is None


def test_questions_alone_need_no_images(tmp_path):
    (tmp_path / "Questions.csv").write_bytes(data.SHIPPED_QUESTIONS.read_bytes())
    questions = read_questions(tmp_path, "original", images=False)
    assert len(questions) == 300 and questions[0].pattern == "sc"
    with pytest.raises(DataValidationError, match="image .* is missing"):
        read_questions(tmp_path, "original")


# --------------------------------------------------------------------------- invalid data


def _expect(path, pattern):
    with pytest.raises(DataValidationError) as err:
        read_questions(path)
    message = str(err.value)
    assert re.search(pattern, message), message
    return message


def test_missing_image(copy_of_real_mmvp):
    (copy_of_real_mmvp / "MMVP Images" / "17.jpg").unlink()
    message = _expect(copy_of_real_mmvp, r"row 18 \(Index 17\): image .*17\.jpg is missing")
    assert "Questions.csv" in message


def test_unreadable_image(copy_of_real_mmvp):
    (copy_of_real_mmvp / "MMVP Images" / "5.jpg").write_bytes(b"not a jpeg")
    _expect(copy_of_real_mmvp, r"Questions\.csv: row 6 \(Index 5\): image .*5\.jpg is unreadable")


def test_bytes_that_are_not_utf8_name_the_line(copy_of_real_mmvp):
    path = copy_of_real_mmvp / "Questions.csv"
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b"?", b"?\xe9", 1)  # Latin-1 e-acute
    path.write_bytes(b"\n".join(lines))
    _expect(copy_of_real_mmvp, r"Questions\.csv: line 5: not UTF-8 text \(byte 0xe9\)")


def test_field_over_the_csv_limit_names_the_row(copy_of_real_mmvp):
    path = copy_of_real_mmvp / "Questions.csv"
    path.write_text(path.read_text() + '301,"' + "x" * 200_000 + '",(a) A (b) B,(a)\n')
    _expect(copy_of_real_mmvp, r"Questions\.csv: row \d+: not CSV \(field larger than")


def test_missing_column(copy_of_real_mmvp):
    (copy_of_real_mmvp / "Questions.csv").write_text("Index,Question,Options\n1,Q?,(a) X (b) Y\n")
    _expect(copy_of_real_mmvp, r"Questions\.csv: missing column\(s\) \['Correct Answer'\]")


def test_missing_questions_file(tmp_path):
    _expect(tmp_path, r"Questions\.csv: file not found")


def test_duplicate_index(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    rows[3]["Index"] = "3"
    _rewrite(copy_of_real_mmvp, rows)
    _expect(copy_of_real_mmvp, r"Questions\.csv: duplicate Index value\(s\) \[3\]")


def test_non_integer_index(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    rows[9]["Index"] = "ten"
    _rewrite(copy_of_real_mmvp, rows[:9] + rows[10:])  # keep images consistent
    (copy_of_real_mmvp / "Questions.csv").write_text(
        (copy_of_real_mmvp / "Questions.csv").read_text() + "ten,Q?,(a) X (b) Y,(a)\n"
    )
    _expect(copy_of_real_mmvp, r"row 301: field 'Index': 'ten' is not an integer")


def test_pair_with_different_questions(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    rows[41]["Question"] = "A different question?"
    _rewrite(copy_of_real_mmvp, rows)
    _expect(copy_of_real_mmvp, r"pair 21 \(Index 4[12] and 4[12]\): field 'Question' differs")


def test_pair_with_different_options(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    rows[0]["Options"] = "(a) Open (b) Shut"
    _rewrite(copy_of_real_mmvp, rows)
    _expect(copy_of_real_mmvp, r"pair 1 \(Index [12] and [12]\): field 'Options' differs")


def test_options_that_do_not_parse(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    rows[6]["Options"] = rows[7]["Options"] = "Open or closed"
    _rewrite(copy_of_real_mmvp, rows)
    _expect(copy_of_real_mmvp, r"row 8 \(Index 7\): field 'Options'.*'\(a\) X \(b\) Y'")


def test_answer_not_among_the_option_letters(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    rows[10]["Correct Answer"] = "(c)"
    _rewrite(copy_of_real_mmvp, rows)
    _expect(copy_of_real_mmvp, r"row 12 \(Index 11\): field 'Correct Answer': '\(c\)' is not one")


def test_odd_number_of_rows(copy_of_real_mmvp):
    _rewrite(copy_of_real_mmvp, _rows(copy_of_real_mmvp)[:-1])
    _expect(copy_of_real_mmvp, r"Questions\.csv: 299 rows, an odd number")


def test_row_without_its_pair_partner(copy_of_real_mmvp):
    rows = _rows(copy_of_real_mmvp)
    del rows[5]  # Index 6 gone
    rows.append({**rows[-1], "Index": "301"})  # keep the count even
    _rewrite(copy_of_real_mmvp, rows)
    _expect(copy_of_real_mmvp, r"Index (5|301) has no pair partner")
