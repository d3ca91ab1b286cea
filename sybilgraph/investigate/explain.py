"""explain: why two accounts are linked, or through which path they are connected."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sybilgraph.errors import InputError
from sybilgraph.investigate.folder import RunFolder, id_text
from sybilgraph.views.cells import control_pictures

__all__ = ["Explanation", "explain"]


@dataclass
class Explanation:
    """The evidence between two accounts: a direct link, a path of links, or nothing."""

    a: str
    b: str
    direct: pd.DataFrame | None = field(default=None, repr=False)
    path: list[str] = field(default_factory=list)
    steps: pd.DataFrame | None = field(default=None, repr=False)
    same_cluster: str = ""

    @property
    def linked(self) -> bool:
        return self.direct is not None

    def __repr__(self) -> str:
        return f"Explanation({self.a!r}, {self.b!r}: {self.summary().splitlines()[0]})"

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """Readable lines, as the CLI prints them. The data's line breaks (an account
        id holding one would print as a line of its own) are shown as their pictures."""
        a, b = _shown(self.a), _shown(self.b)
        where = f" (both in cluster {_shown(self.same_cluster)})" if self.same_cluster else ""
        if self.direct is not None:
            row = self.direct.iloc[0]
            lines = [f"{a} and {b} are linked{where}: weight {row['weight']:.3f}"]
            lines += [f"  {_shown(part)}" for part in str(row["evidence"]).split("; ") if part]
            lines += _when(row.get("first_seen"), row.get("last_seen"))
            return "\n".join(lines)
        if self.path:
            lines = [
                f"{a} and {b} are not linked directly; they are connected through "
                f"{len(self.path) - 2} other account(s){where}:"
            ]
            assert self.steps is not None
            for step in self.steps.itertuples(index=False):
                lines.append(
                    f"  {_shown(step.a)} -- {_shown(step.b)} (weight {step.weight:.3f}): "
                    f"{_shown(step.evidence)}"
                )
            return "\n".join(lines)
        return (
            f"{a} and {b} are not linked and not connected by any path of links "
            "(links under detect.min_weight are kept only with link.keep_weak_links; "
            "an address too busy to tie two accounts alone pairs only accounts tied "
            "otherwise, unless link.busy_addresses is 'all')"
        )


#: every control character, line breaks too, to its picture (see ``visible_controls``)
_PICTURES = control_pictures(keep="")


def _shown(text: object) -> str:
    """The data's text as one line: its control characters as their pictures."""
    return str(text).translate(_PICTURES)


def _when(first: Any, last: Any) -> list[str]:
    """When the two held what they share: the overlap of their uses of the values.

    ``first_seen`` is the later of their first uses and ``last_seen`` the earlier of
    their last; where one stopped before the other began, the two are in that order
    and were never active together (printed as they were, the times ran backwards).
    """
    if pd.isna(first):
        return []
    if pd.notna(last) and last < first:
        return [f"  never active together: one's last use {last}, the other's first {first}"]
    return [f"  seen together {first} .. {last}"]


def explain(result: RunFolder, a: str, b: str) -> Explanation:
    """Explain the link between accounts ``a`` and ``b`` of a finished run.

    Raises
    ------
    InputError
        Either account is not in the run.
    """
    a, b = id_text(a, "account"), id_text(b, "account")
    if a == b:
        raise InputError(f"give two different accounts, not {a!r} twice")
    accounts = result.accounts
    known = set(accounts["account_id"])
    for account in (a, b):
        if account not in known:
            raise InputError(f"account {account!r} is not in this run", path=str(result.out_dir))
    clusters = accounts.set_index("account_id")["cluster_id"]
    same = clusters[a] if clusters[a] and clusters[a] == clusters[b] else ""
    links = result.links
    low, high = sorted((a, b))
    direct = links[(links["a"] == low) & (links["b"] == high)]
    if len(direct):
        return Explanation(a, b, direct=direct.reset_index(drop=True), same_cluster=same)
    path = shortest_path(links, a, b)
    if not path:
        return Explanation(a, b, same_cluster=same)
    pairs = [tuple(sorted(p)) for p in itertools.pairwise(path)]
    index = links.set_index(["a", "b"])
    steps = pd.DataFrame(
        [{"a": x, "b": y, **index.loc[(x, y), ["weight", "evidence"]].to_dict()} for x, y in pairs]
    )
    return Explanation(a, b, path=path, steps=steps, same_cluster=same)


def shortest_path(links: pd.DataFrame, a: str, b: str) -> list[str]:
    """The path of fewest links from ``a`` to ``b`` (strongest links break ties)."""
    import igraph as ig

    ids = np.unique(np.concatenate([links["a"].to_numpy(str), links["b"].to_numpy(str)]))
    if a not in set(ids) or b not in set(ids):
        return []
    src = np.searchsorted(ids, links["a"].to_numpy(str))
    dst = np.searchsorted(ids, links["b"].to_numpy(str))
    graph = ig.Graph(n=len(ids), edges=np.column_stack([src, dst]).tolist())
    # one hop costs 1; a strong link costs a little less than a weak one
    cost = 1.0 + 1.0 / (1.0 + links["weight"].to_numpy(float))
    start, end = int(np.searchsorted(ids, a)), int(np.searchsorted(ids, b))
    with warnings.catch_warnings():
        # two accounts in different components: no path, and igraph warns of it on stderr
        warnings.simplefilter("ignore", RuntimeWarning)
        paths = graph.get_shortest_paths(start, to=end, weights=cost.tolist(), output="vpath")
    vertices = paths[0]
    return [str(ids[v]) for v in vertices]
