"""How far a result can be trusted: the worst ``data_status`` of what went into it.

Every record and layer of the embedded data says ``verified``, ``approximate`` or
``illustrative`` (docs/domain.md §11). A result computed from them is as good as its worst
input, and every output (JSON, the CLI's text, GIS exports, reports) says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: From best to worst.
ORDER = ("verified", "approximate", "illustrative")

NOTICES = {
    "illustrative": (
        "Illustrative data, not official / 示意数据，非官方. Station locations, demand and grid cells of the "
        "embedded region are placed by Yizhan for demonstration (see geodata/PROVENANCE.md); verified facts "
        "keep their source keys."
    ),
    "approximate": (
        "Approximate data / 近似数据: some positions or figures are estimates from public descriptions "
        "(see geodata/PROVENANCE.md)."
    ),
    "verified": None,
}


def worst(statuses: Iterable[str | None]) -> str:
    """The least trustworthy status among ``statuses`` (unknown or missing counts as illustrative)."""
    rank = 0
    for status in statuses:
        rank = max(rank, ORDER.index(status) if status in ORDER else len(ORDER) - 1)
        if rank == len(ORDER) - 1:
            break
    return ORDER[rank]


def status_of(records: Iterable[Mapping] = (), layers: Mapping[str, Mapping | None] | None = None) -> str:
    """The worst ``data_status`` of some records (stations, desk requests, grids ...) and of
    region layers (``{name: provenance entry}``); a record or layer that does not say counts
    as illustrative. Every banner, badge and JSON ``data_status`` derives from this."""
    statuses = [r.get("data_status") for r in records]
    statuses += [(p or {}).get("data_status") for p in (layers or {}).values()]
    return worst(statuses)


def needs_banner(status: str) -> bool:
    """The one banner rule: pages show "illustrative data, not official" unless every input is verified."""
    return status != "verified"


def label(status: str) -> dict:
    """``{"data_status", "notice"}`` to add to a result (notice is None for verified data)."""
    return {"data_status": status, "notice": NOTICES.get(status, NOTICES["illustrative"])}


def text_line(status: str) -> str:
    """One line for the CLI's text output."""
    notice = NOTICES.get(status, NOTICES["illustrative"])
    return f"data_status: {status}" + (f" — {notice}" if notice else "")
