"""Growth curves of the benchmark figures (matplotlib, PNG)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(results: dict[str, Any], getter) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for s in results["sizes"]:
        try:
            value = getter(results["by_size"][str(s)])
        except (KeyError, TypeError, ZeroDivisionError):
            continue
        if isinstance(value, int | float):
            xs.append(s)
            ys.append(value)
    return xs, ys


def _figure(title: str, ylabel: str):
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.set_title(title)
    ax.set_xlabel("Einträge (listings)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig, ax, path: str) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot(results: dict[str, Any], prefix: str) -> list[str]:
    """Write the PNG plots for results; return their paths."""
    written = []

    fig, ax = _figure("Suchlatenz (search latency)", "ms")
    for p, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        xs, ys = _series(results, lambda d, p=p: d["search"][f"{p}_ms"] if d["search"].get("available") else None)
        if xs:
            ax.plot(xs, ys, "o" + style, color="tab:blue", label=f"Whoosh {p}")
        xs, ys = _series(results, lambda d, p=p: d["fts5"][f"{p}_ms"])
        ax.plot(xs, ys, "s" + style, color="tab:orange", label=f"SQLite FTS5 {p}")
    ax.axhline(50, color="red", lw=0.8, label="Ziel p95 50 ms")
    _save(fig, ax, path := f"{prefix}-search-latency.png")
    written.append(path)

    fig, ax = _figure("Indexaufbau (index build)", "s")
    for label, get in (
        ("Whoosh Aufbau", lambda d: d["index"].get("build_seconds")),
        ("Whoosh Neuaufbau", lambda d: d["index"].get("rebuild_seconds")),
        ("FTS5 Aufbau", lambda d: d["fts5"]["build_seconds"]),
        ("Datensatz erzeugen", lambda d: d["dataset"]["seconds"]),
    ):
        xs, ys = _series(results, get)
        if xs:
            ax.plot(xs, ys, "o-", label=label)
    _save(fig, ax, path := f"{prefix}-index-build.png")
    written.append(path)

    fig, ax = _figure("Durchsatz unter gunicorn (throughput)", "req/s")
    names = ["hello_ceiling", "start_page", "browse_page", "search_page", "listing_page", "listing_page_uncached",
             "api_list", "api_changes"]
    for name in names:
        xs, ys = _series(results, lambda d, n=name: d["http"]["endpoints"][n]["rps"] if d["http"]["endpoints"].get(n, {"available": False}).get("available", True) else None)
        if xs:
            ax.plot(xs, ys, "o-", label=name.replace("_", " "))
    ax.set_yscale("log")
    ax.axhline(300, color="red", lw=0.6, ls="--", label="Ziel Eintragsseite 300")
    ax.axhline(100, color="darkred", lw=0.6, ls=":", label="Ziel Suchseite 100")
    _save(fig, ax, path := f"{prefix}-http-throughput.png")
    written.append(path)

    fig, ax = _figure("Speicher je Worker (RSS after load)", "MB")
    xs, ys = _series(results, lambda d: max(d["http"]["worker_rss_mb"]))
    ax.plot(xs, ys, "o-", label="max worker RSS")
    ax.axhline(250, color="red", lw=0.8, label="Ziel 250 MB")
    ax.set_ylim(bottom=0)
    _save(fig, ax, path := f"{prefix}-memory.png")
    written.append(path)
    return written
