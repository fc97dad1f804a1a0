"""How lmms-eval finds this package's tasks and models with no extra flag.

lmms-eval 0.7 discovers plugin *models* through the ``lmms_eval.models`` entry-point group but
has no task entry point, and its built-in task folder wins over ``--include_path`` (it also
ships a task named ``mmvp``). lmms-eval loads model entry points when ``lmms_eval.models`` is
imported, before any ``TaskManager`` is built, so :func:`lmms_eval_plugin` (our entry point)
installs the one hook this package needs: ``TaskManager.initialize_tasks`` additionally indexes
``mmvp_tasks/tasks``; on a name clash a user's ``--include_path`` task wins over ours, and ours
win over the built-ins. ``tests/test_registration.py`` fails if an lmms-eval upgrade breaks it.
Only processes that import ``lmms_eval.models`` load the entry point: ``lmms-eval tasks list``
and a bare ``TaskManager()`` do not, and then see the built-in ``mmvp`` only.

It also refuses lmms-eval's ``--use_cache`` for this package's tasks (:func:`install_cache_guard`):
that cache would store failed requests as answers, and its key does not see the data directory.
"""

from __future__ import annotations

import functools
from pathlib import Path

import mmvp_tasks

TASKS_DIR = Path(mmvp_tasks.__file__).parent / "tasks"
_HOOK_MARKER = "_mmvp_tasks_hook"
_announced: list[str] = []  # task names already logged as shadowing built-ins


def lmms_eval_plugin():
    """Entry point of the ``lmms_eval.models`` group: install the task hook, return our models."""
    from model_adapters.manifests import manifests

    install_task_hook()
    install_cache_guard()
    return manifests()


def install_task_hook() -> None:
    """Make every ``TaskManager`` index this package's tasks: built-ins < ours < the user's
    ``include_path`` on name clashes (lmms-eval alone lets built-ins win over everything).

    Safe to call twice. Importing ``lmms_eval.tasks`` costs nothing here: lmms-eval loaded it.
    """
    from lmms_eval.tasks import TaskManager

    original = TaskManager.initialize_tasks
    if getattr(original, _HOOK_MARKER, False):
        return

    @functools.wraps(original)
    def initialize_tasks(self, include_path=None, include_defaults=True):
        builtin = original(self, include_path=None, include_defaults=include_defaults)
        ours = self._get_task_and_group(str(TASKS_DIR))
        users = original(self, include_path=include_path, include_defaults=False)
        shadowed = sorted(name for name in ours if name in builtin and name not in users)
        if shadowed and not _announced:
            _announce(shadowed)
        return {**builtin, **ours, **users}

    setattr(initialize_tasks, _HOOK_MARKER, True)
    TaskManager.initialize_tasks = initialize_tasks


CACHE_REFUSAL = (
    "lmms-mmvp: lmms-eval's --use_cache cannot be used with this package's task(s) {tasks}: it "
    "would store failed requests as answers, and its key does not see the data directory "
    "(MMVP_DATA_DIR / MMVP_VLM_DATA_DIR / hub revision), so a run on other data could reuse "
    "answers. Drop --use_cache. API models (mmvp_openai, mmvp_gemini, mmvp_anthropic) keep their "
    "own resumable cache, on by default (model args use_cache=true, cache_dir=DIR; failures are "
    "never cached)."
)


class UnsafeCacheError(RuntimeError):
    """lmms-eval's response cache was asked for on this package's tasks."""


def install_cache_guard() -> None:
    """Make lmms-eval's ``ResponseCache.create`` refuse task sets that include ours. Safe to call
    twice; other tasks keep the cache."""
    from lmms_eval.caching.response_cache import ResponseCache

    original = ResponseCache.create.__func__
    if getattr(original, _HOOK_MARKER, False):
        return

    @functools.wraps(original)
    def create(cls, cache_root, **kwargs):
        if ours := package_tasks(kwargs.get("task_dict") or {}):
            raise UnsafeCacheError(CACHE_REFUSAL.format(tasks=", ".join(ours)))
        return original(cls, cache_root, **kwargs)

    setattr(create, _HOOK_MARKER, True)
    ResponseCache.create = classmethod(create)


def package_tasks(task_dict: dict) -> list[str]:
    """Names of this package's tasks in an lmms-eval task dict (groups are nested dicts)."""
    names = []
    for name, task in task_dict.items():
        if isinstance(task, dict):
            names += package_tasks(task)
        elif _scored_here(task):
            names.append(str(name))
    return names


def _scored_here(task) -> bool:
    hook = getattr(getattr(task, "config", None), "process_results", None)
    return getattr(hook, "__module__", "").startswith(f"{mmvp_tasks.__name__}.")


def _announce(shadowed: list[str]) -> None:
    from loguru import logger

    _announced.extend(shadowed)
    logger.info(
        f"lmms-mmvp: using this plugin's task(s) {', '.join(shadowed)} from {TASKS_DIR} instead "
        "of lmms-eval's built-in one(s) (same metric names and default prompt)"
    )


def plugin_tasks() -> dict[str, dict]:
    """This package's tasks and groups as lmms-eval indexes them (``mmvp tasks``).

    ``lmms-eval tasks list`` cannot show them: it builds a ``TaskManager`` without loading any
    plugin code, and lmms-eval 0.7 offers plugins no hook there.
    """
    from lmms_eval.tasks import TaskManager

    install_task_hook()
    index = TaskManager().task_index
    return {name: entry for name, entry in index.items() if _is_ours(entry)}


def _is_ours(entry: dict) -> bool:
    path = entry.get("yaml_path")
    return isinstance(path, str) and Path(path).is_relative_to(TASKS_DIR)
