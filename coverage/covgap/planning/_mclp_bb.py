"""Numba kernels of the Lagrangian branch-and-bound behind ``_mclp.branch_and_bound``.

The problem is ``max sum_i w_i [row i covered]`` over sets of at most ``k``
columns of a 0/1 matrix (CSC ``colptr``/``colrows``).  Relaxing the coverage
rows ``y_i <= sum_j a_ij x_j`` with multipliers ``0 <= u_i <= w_i`` gives,
at a node whose columns are fixed in (``status 1``), out (``-1``) or free
(``0``), the bound

    L(u) = W1 + sum_{i not covered by the fixed-in columns} (w_i - u_i)
              + the k' largest scores s_j = sum_{i uncovered, a_ij = 1} u_i
                over free columns,

with ``W1`` the weight the fixed-in columns cover and ``k' = k - #in``.  It
is valid for every ``u`` and, at the LP duals, equals the LP bound.  Each
node improves ``u`` by a few projected subgradient steps (Polyak step towards
the target), prunes when ``L < target``, fixes free columns by the same
bound (out when taking them, in when leaving them, pushes ``L`` below the
target), tries the fixed-in columns plus the ``k'`` best-scored ones as a
solution, and branches on the best-scored free column (``in`` explored
first).  Depth-first, ties to the lowest index: fully deterministic.

The search state is a stack of nodes (status, multipliers, parent bound) that
the caller owns, so :func:`search` can run a given number of nodes and be
resumed: the caller checks the clock between calls.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _evaluate(
    colptr: np.ndarray,
    colrows: np.ndarray,
    w: np.ndarray,
    status: np.ndarray,
    u: np.ndarray,
    kp: int,
    w_in: float,
    cov_in: np.ndarray,
    score: np.ndarray,
    order: np.ndarray,
    top: np.ndarray,
) -> tuple[float, int, int]:
    """Return ``(L(u), n_top, n_free)``; fill the free columns' scores and the ranking.

    ``order[:n_top]`` are the ``k'`` best-scored free columns, best first, and
    ``order[n_top]`` (when ``n_free > n_top``) the next one; ties go to the
    lowest index.  ``top`` marks the first ``n_top``.
    """
    m = w.size
    n = status.size
    bound = w_in
    for i in range(m):
        if not cov_in[i] and u[i] < w[i]:
            bound += w[i] - u[i]
    n_free = 0
    size = 0  # entries in the ranking, at most kp + 1
    for j in range(n):
        top[j] = False
        if status[j] != 0:
            continue
        acc = 0.0
        for p in range(colptr[j], colptr[j + 1]):
            i = colrows[p]
            if not cov_in[i]:
                acc += u[i]
        score[j] = acc
        n_free += 1
        if size == kp + 1 and acc <= score[order[size - 1]]:
            continue  # j comes after the worst ranked column (ties: lower index first)
        q = size if size < kp + 1 else size - 1
        while q > 0 and score[order[q - 1]] < acc:
            order[q] = order[q - 1]
            q -= 1
        order[q] = j
        if size < kp + 1:
            size += 1
    n_top = min(kp, n_free)
    for q in range(n_top):
        top[order[q]] = True
        bound += score[order[q]]
    return bound, n_top, n_free


@njit(cache=True)
def _node_bound(
    colptr: np.ndarray,
    colrows: np.ndarray,
    w: np.ndarray,
    k: int,
    status: np.ndarray,
    u: np.ndarray,
    target: float,
    iters: int,
    score: np.ndarray,
    order: np.ndarray,
    top: np.ndarray,
    cov_in: np.ndarray,
    grad: np.ndarray,
) -> tuple[float, int, int, int]:
    """Improve ``u`` by subgradient steps; return ``(L, k', n_top, n_free)`` for the best ``u``."""
    m = w.size
    n = status.size
    for i in range(m):
        cov_in[i] = False
    n_in = 0
    for j in range(n):
        if status[j] == 1:
            n_in += 1
            for p in range(colptr[j], colptr[j + 1]):
                cov_in[colrows[p]] = True
    w_in = 0.0
    for i in range(m):
        if cov_in[i]:
            w_in += w[i]
    kp = k - n_in
    if kp < 0:
        return -np.inf, kp, 0, 0
    best = np.inf
    u_best = u.copy()
    alpha = 1.0
    stall = 0
    bound = np.inf
    n_top = 0
    n_free = 0
    for it in range(iters + 1):
        bound, n_top, n_free = _evaluate(
            colptr, colrows, w, status, u, kp, w_in, cov_in, score, order, top
        )
        if bound < best:
            best = bound
            u_best[:] = u
            stall = 0
        else:
            stall += 1
            if stall >= 2:
                alpha *= 0.5
                stall = 0
        if best < target or it == iters:
            break
        norm = 0.0
        for i in range(m):
            grad[i] = 0.0
        for q in range(n_top):
            j = order[q]
            for p in range(colptr[j], colptr[j + 1]):
                grad[colrows[p]] += 1.0
        for i in range(m):
            g = 0.0
            if not cov_in[i]:
                g = grad[i] - (1.0 if u[i] < w[i] else 0.0)
                if (g > 0.0 and u[i] <= 0.0) or (g < 0.0 and u[i] >= w[i]):
                    g = 0.0
            grad[i] = g
            norm += g * g
        if norm == 0.0:
            break
        step = alpha * (bound - target) / norm
        for i in range(m):
            if not cov_in[i]:
                u[i] = min(max(u[i] - step * grad[i], 0.0), w[i])
    if bound != best:
        u[:] = u_best
        bound, n_top, n_free = _evaluate(
            colptr, colrows, w, status, u, kp, w_in, cov_in, score, order, top
        )
    return bound, kp, n_top, n_free


@njit(cache=True)
def _covered(
    colptr: np.ndarray,
    colrows: np.ndarray,
    w: np.ndarray,
    status: np.ndarray,
    top: np.ndarray,
    mark: np.ndarray,
) -> float:
    """Weight covered by the fixed-in columns plus the top-scored ones."""
    for i in range(w.size):
        mark[i] = False
    for j in range(status.size):
        if status[j] == 1 or top[j]:
            for p in range(colptr[j], colptr[j + 1]):
                mark[colrows[p]] = True
    total = 0.0
    for i in range(w.size):
        if mark[i]:
            total += w[i]
    return total


@njit(cache=True)
def search(
    colptr: np.ndarray,
    colrows: np.ndarray,
    w: np.ndarray,
    k: int,
    step: float,
    iters: int,
    stack_status: np.ndarray,
    stack_u: np.ndarray,
    stack_bound: np.ndarray,
    top_of_stack: int,
    best_value: np.ndarray,
    best_set: np.ndarray,
    max_nodes: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Process up to ``max_nodes`` nodes of the depth-first search.

    Only sets covering at least ``best_value[0] + step`` are sought; a better
    one replaces ``best_value[0]`` and ``best_set``.  Returns the (possibly
    grown) stack arrays, the new stack height (0: search complete) and the
    number of nodes processed.
    """
    m = w.size
    n = colptr.size - 1
    score = np.empty(n)
    order = np.empty(n, dtype=np.int64)
    top = np.zeros(n, dtype=np.bool_)
    cov_in = np.zeros(m, dtype=np.bool_)
    grad = np.zeros(m)
    mark = np.zeros(m, dtype=np.bool_)
    status = np.empty(n, dtype=np.int8)
    u = np.empty(m)
    height = top_of_stack
    nodes = 0
    while height > 0 and nodes < max_nodes:
        height -= 1
        status[:] = stack_status[height]
        u[:] = stack_u[height]
        nodes += 1
        target = best_value[0] + step
        if stack_bound[height] < target:
            continue  # the incumbent improved since this node was stacked
        bound = -np.inf
        kp = 0
        n_top = 0
        while True:
            bound, kp, n_top, n_free = _node_bound(
                colptr, colrows, w, k, status, u, target, iters, score, order, top, cov_in, grad
            )
            if kp < 0 or bound < target:
                break
            value = _covered(colptr, colrows, w, status, top, mark)
            if value >= target:
                best_value[0] = value
                for j in range(n):
                    best_set[j] = status[j] == 1 or top[j]
                target = value + step
                if bound < target:
                    break
            if kp == 0 or n_free <= kp:
                bound = -np.inf  # the best completion (all free columns) was just tried
                break
            s_last = score[order[kp - 1]]
            s_next = score[order[kp]]
            changed = False
            for j in range(n):
                if status[j] != 0:
                    continue
                if top[j]:
                    if bound - score[j] + s_next < target:
                        status[j] = 1  # every better set in this subtree takes j
                        changed = True
                elif bound - s_last + score[j] < target:
                    status[j] = -1  # no better set in this subtree takes j
                    changed = True
            if not changed:
                break
        if kp <= 0 or bound < target or n_top == 0:
            continue
        branch = order[0]
        if height + 2 > stack_status.shape[0]:
            cap = 2 * stack_status.shape[0]
            grown_status = np.zeros((cap, n), dtype=np.int8)
            grown_status[:height] = stack_status[:height]
            stack_status = grown_status
            grown_u = np.zeros((cap, m))
            grown_u[:height] = stack_u[:height]
            stack_u = grown_u
            grown_bound = np.zeros(cap)
            grown_bound[:height] = stack_bound[:height]
            stack_bound = grown_bound
        status[branch] = -1
        stack_status[height] = status
        stack_u[height] = u
        stack_bound[height] = bound
        height += 1
        status[branch] = 1
        stack_status[height] = status
        stack_u[height] = u
        stack_bound[height] = bound
        height += 1
    return stack_status, stack_u, stack_bound, height, nodes
