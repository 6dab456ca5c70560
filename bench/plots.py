"""Growth curves of the benchmark figures (matplotlib, PNG): one line per backend."""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"sqlite": "tab:blue", "postgresql": "tab:green"}
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _series(results: dict[str, Any], backend: str, getter) -> tuple[list[int], list[float]]:
    b = results["by_backend"].get(backend) or {}
    xs, ys = [], []
    for s in b.get("sizes", []):
        try:
            value = getter(b["by_size"][str(s)])
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
    if ax is not None and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _line(ax, xs, ys, style: str, colour: str, label: str) -> None:
    if xs:
        ax.plot(xs, ys, style, color=colour, label=label)


def _endpoint_grid(results: dict[str, Any], prefix: str, key: str, title: str, ylabel: str,
                   target: Any = None) -> str:
    """One small plot per endpoint, one line per backend."""
    from .run import ENDPOINT_ORDER, LABELS

    names = list(ENDPOINT_ORDER[1:]) if key == "ratio_to_ceiling" else list(ENDPOINT_ORDER)
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(14, 2.8 * rows), dpi=100, squeeze=False)
    fig.suptitle(title)
    for i, name in enumerate(names):
        ax = axes[i // cols][i % cols]
        ax.set_title(LABELS[name], fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
        for b in results["backends"]:
            xs, ys = _series(results, b, lambda d, n=name: d["http"]["endpoints"][n][key]
                             if d["http"]["endpoints"].get(n, {}).get("available", True) else None)
            _line(ax, xs, ys, "o-", COLOURS[b], NAMES[b])
        if target is not None:
            t = target(name)
            if t:
                ax.axhline(t, color="red", lw=0.7, ls="--")
        ax.set_ylim(bottom=0)
        if i == 0:
            ax.legend(fontsize=7)
        ax.set_ylabel(ylabel, fontsize=7)
    for j in range(len(names), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.tight_layout()
    fig.savefig(path := f"{prefix}-{key.replace('_', '-')}.png")
    plt.close(fig)
    return path


def plot(results: dict[str, Any], prefix: str) -> list[str]:
    """Write the PNG plots for results; return their paths."""
    from .run import API_PAGES, FEED_PAGES, HTML_PAGES

    written = []
    fig, ax = _figure("Suchlatenz p95 (search latency)", "ms")
    for b in results["backends"]:
        xs, ys = _series(results, b, lambda d: d["search"]["p95_ms"] if d["search"].get("available") else None)
        _line(ax, xs, ys, "o-", COLOURS[b], f"Whoosh p95 ({NAMES[b]})")
    xs, ys = _series(results, "sqlite", lambda d: d["fts5"]["p95_ms"])
    _line(ax, xs, ys, "s--", "tab:orange", "SQLite FTS5 p95")
    xs, ys = _series(results, "postgresql", lambda d: d["pg_fts"]["p95_ms"])
    _line(ax, xs, ys, "s--", "tab:purple", "PostgreSQL FTS p95")
    _save(fig, ax, path := f"{prefix}-search-latency.png")
    written.append(path)

    fig, ax = _figure("Indexaufbau (index build)", "listings/s")
    for b in results["backends"]:
        xs, ys = _series(results, b, lambda d: d["index"].get("build_listings_per_second"))
        _line(ax, xs, ys, "o-", COLOURS[b], f"Whoosh build ({NAMES[b]})")
        xs, ys = _series(results, b, lambda d: d["http"]["sync"]["indexing"]["listings_per_second"])
        _line(ax, xs, ys, "^:", COLOURS[b], f"indexing during bulk sync ({NAMES[b]})")
    ax.axhline(1500, color="red", lw=0.8, label="Ziel Aufbau 1.500/s")
    ax.axhline(500, color="darkred", lw=0.8, ls=":", label="Ziel Sync-Indexierung 500/s")
    ax.set_ylim(bottom=0)
    _save(fig, ax, path := f"{prefix}-index-build.png")
    written.append(path)

    written.append(_endpoint_grid(results, prefix, "p50_ms", "p50 latency per endpoint (growth)", "ms"))

    def ratio_target(name: str) -> float | None:
        return 0.10 if name in HTML_PAGES else 0.15 if name in API_PAGES + FEED_PAGES else None

    written.append(_endpoint_grid(results, prefix, "ratio_to_ceiling", "ratio to the hello ceiling", "ratio",
                                  ratio_target))

    fig, ax = _figure("Speicher (RSS)", "MB")
    for b in results["backends"]:
        xs, ys = _series(results, b, lambda d: max(d["http"]["worker_rss_mb"]))
        _line(ax, xs, ys, "o-", COLOURS[b], f"max gunicorn worker ({NAMES[b]})")
        xs, ys = _series(results, b, lambda d: d["http"]["index_worker_rss_mb"])
        _line(ax, xs, ys, "^:", COLOURS[b], f"marktplatz worker after sync ({NAMES[b]})")
    ax.axhline(250, color="red", lw=0.8, label="Ziel 250 MB")
    ax.set_ylim(bottom=0)
    _save(fig, ax, path := f"{prefix}-memory.png")
    written.append(path)
    return written
