"""Former name of :mod:`planner.siting.covering` (MCLP and LSCP), kept only while
``planner.siting.frlm`` still imports its covering helpers from here: point that import at
``planner.siting.covering`` and delete this file."""

from planner.siting.covering import _greedy_cover, _solve_cover_mip  # noqa: F401
