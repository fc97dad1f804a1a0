"""The plugin hook into lmms-eval: fails loudly if an lmms-eval upgrade breaks it."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import yaml

from lmms_mmvp.plugin import TASKS_DIR, install_task_hook


@pytest.fixture(scope="module")
def task_manager():
    import lmms_eval.models  # noqa: F401  (loads our entry point, as the CLI does)
    from lmms_eval.tasks import TaskManager

    return TaskManager()


def _declared_names() -> dict[str, Path]:
    """Every task and group name declared by a YAML of the package."""

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    names = {}
    for path in TASKS_DIR.rglob("*.yaml"):
        config = yaml.load(path.read_text(), Loader=_Loader)
        names[config.get("task") if isinstance(config.get("task"), str) else config["group"]] = path
    return names


def test_entry_point_is_installed():
    eps = importlib.metadata.entry_points(group="lmms_eval.models")
    assert "lmms_mmvp.plugin:lmms_eval_plugin" in {ep.value for ep in eps}


def test_every_task_yaml_is_indexed_from_this_package(task_manager):
    declared = _declared_names()
    assert {
        "mmvp",
        "mmvp_option_swap",
        "mmvp_symbol_change",
        "mmvp_official",
        "mmvp_ablation",
    } <= set(declared)
    for name, path in declared.items():
        assert name in task_manager.task_index, f"{path} is not indexed (broken YAML?)"
        assert Path(task_manager.task_index[name]["yaml_path"]) == path


def test_plugin_mmvp_takes_precedence_over_the_builtin(task_manager):
    import lmms_eval

    builtin = Path(lmms_eval.__file__).parent / "tasks" / "mmvp" / "mmvp.yaml"
    assert builtin.is_file(), "lmms-eval no longer ships mmvp: the hook may be unnecessary"
    assert Path(task_manager.task_index["mmvp"]["yaml_path"]).parent == TASKS_DIR / "mmvp"


def test_hook_is_installed_once():
    from lmms_eval.tasks import TaskManager

    install_task_hook()
    hooked = TaskManager.initialize_tasks
    install_task_hook()
    assert TaskManager.initialize_tasks is hooked
    assert not getattr(hooked.__wrapped__, "_mmvp_tasks_hook", False)


def test_builtin_metric_names_are_kept(task_manager, real_mmvp_dir, monkeypatch):
    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir))
    task = task_manager.load_task_or_group(["mmvp"])["mmvp"]
    metrics = set(task.aggregation())
    assert {"mmvp_accuracy", "mmvp_pair_accuracy"} <= metrics
    doc = task.test_docs()[0]
    assert set(doc) >= {"Index", "Question", "Options", "Correct Answer", "image"}
    assert task.doc_to_text(doc).endswith(
        "Answer with the option's letter from the given choices directly."
    )


def test_model_ids_do_not_shadow_builtins():
    from lmms_eval.models import MODEL_REGISTRY_V2, _build_builtin_manifests

    from model_adapters.manifests import ALIASES, MODELS

    builtin = {m.model_id for m in _build_builtin_manifests()}
    builtin |= {alias for m in _build_builtin_manifests() for alias in m.aliases}
    ours = set(MODELS) | {alias for aliases in ALIASES.values() for alias in aliases}
    assert not ours & builtin
    assert ours <= set(MODEL_REGISTRY_V2.list_model_names())


def test_lmms_eval_response_cache_is_refused_for_package_tasks(
    task_manager, real_mmvp_dir, monkeypatch, tmp_path
):
    from lmms_eval.caching.response_cache import ResponseCache

    from lmms_mmvp.plugin import UnsafeCacheError

    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir))
    tasks = task_manager.load_task_or_group(["mmvp_ablation"])
    with pytest.raises(UnsafeCacheError, match=r"mmvp, mmvp_option_swap.*use_cache=true"):
        ResponseCache.create(str(tmp_path / "cache"), task_dict=tasks)
    other = ResponseCache.create(str(tmp_path / "cache"), task_dict={})  # other tasks keep it
    other.close()


def test_a_users_include_path_task_wins_over_the_plugins(task_manager, tmp_path):
    from lmms_eval.tasks import TaskManager

    user_yaml = tmp_path / "my_tasks" / "mmvp.yaml"
    user_yaml.parent.mkdir()
    user_yaml.write_text(
        "task: mmvp\ndataset_path: json\ntest_split: train\noutput_type: generate_until\n"
        'doc_to_text: "{{Question}}"\ndoc_to_target: "{{Answer}}"\n'
    )
    index = TaskManager(include_path=str(user_yaml.parent)).task_index
    assert Path(index["mmvp"]["yaml_path"]) == user_yaml  # the user's own task
    assert Path(index["mmvp_official"]["yaml_path"]).parent == TASKS_DIR / "mmvp"  # ours stay


def test_results_of_the_builtin_mmvp_are_refused():
    from lmms_mmvp.results import ResultsError, task_scores

    builtin = {"results": {"mmvp": {"mmvp_pair_accuracy,none": 0.3, "mmvp_accuracy,none": 0.6}}}
    with pytest.raises(ResultsError, match="lmms-eval's built-in one"):
        task_scores(builtin, "mmvp")
    ours = {"mmvp_provenance,none": {"answer_key": "corrected"}}
    assert task_scores({"results": {"mmvp": {**builtin["results"]["mmvp"], **ours}}}, "mmvp")


def test_mmvp_tasks_lists_every_task_of_the_package():
    from lmms_mmvp.plugin import plugin_tasks

    listed = plugin_tasks()
    assert set(listed) == {
        "mmvp",
        "mmvp_ablation",
        "mmvp_official",
        "mmvp_option_swap",
        "mmvp_symbol_change",
        "mmvp_vlm",
    }
    assert listed["mmvp_ablation"]["type"] == "group"
    assert all(Path(e["yaml_path"]).is_relative_to(TASKS_DIR) for e in listed.values())
