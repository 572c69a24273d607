"""Thin helpers around ``highspy`` (HiGHS): a quiet solver and array conversions."""

from __future__ import annotations

import os
import sys
import threading

import highspy
import numpy as np
import numpy.typing as npt

INF = float(highspy.kHighsInf)
OPTIMAL = highspy.HighsModelStatus.kOptimal
INFEASIBLE = highspy.HighsModelStatus.kInfeasible
INTEGER = highspy.HighsVarType.kInteger
CONTINUOUS = highspy.HighsVarType.kContinuous
FEASIBLE = 2  # HighsInfo.primal_solution_status of a feasible solution

_banner_lock = threading.Lock()
_banner_shown = False


def new_highs() -> highspy.Highs:
    """A HiGHS instance that writes nothing to the terminal.

    HiGHS writes a banner to file descriptor 1 the first time a solver is made in a
    process, before any option can be set; that first construction happens with
    the descriptor pointed at /dev/null, so that command output stays clean.
    """
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            h = highspy.Highs()
        else:
            _banner_shown = True
            h = _construct_without_stdout()
    h.setOptionValue("output_flag", False)
    if os.environ.get("SORT_NOPRESOLVE"):
        h.setOptionValue("presolve", "off")
    return h


def _construct_without_stdout() -> highspy.Highs:
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no usable stdout descriptor: nothing to protect
        return highspy.Highs()
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            try:
                return highspy.Highs()
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def idx(values: npt.ArrayLike) -> npt.NDArray[np.int32]:
    return np.ascontiguousarray(values, dtype=np.int32)


def flt(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.ascontiguousarray(values, dtype=np.float64)
