"""Results people can publish and compare: verified leaderboard entries (``mmvp report add``),
the leaderboard (``report leaderboard``), paired comparisons (``report compare``), the paper's
prompt ablations (``report ablation``) and grading existing answer files (``mmvp grade``).
See docs/report.md for the entry schema."""
