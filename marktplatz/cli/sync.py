"""`marktplatz sync push|pull`: the command-line sync client (talks HTTP, needs no database).

Both commands are thin shells around the marktplatz_client package (clients/python): it
sends the requests, retries what is safe to retry, batches and follows the feed.
"""

from __future__ import annotations

import json
import os
import sys

import click
from marktplatz_client import ApiError, MarktplatzClient, PubliccodeResult, SyncSummary


@click.group("sync")
def sync_group() -> None:
    """Sync with a Marktplatz server through its REST API."""


def _client(api: str, token: str | None) -> MarktplatzClient:
    return MarktplatzClient(api, token=token)


@sync_group.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--api", envvar="MARKTPLATZ_API_URL", default="http://127.0.0.1:5000", show_default=True)
@click.option("--token", envvar="MARKTPLATZ_API_TOKEN", required=True, help="API token (or MARKTPLATZ_API_TOKEN)")
@click.option("--full-sync", is_flag=True, help="Archive synced listings missing from the file")
@click.option("--then", "then", type=click.Choice(["submit", "publish"]), default=None,
              help="Then submit new and changed drafts for review, or publish them where the networks allow it")
def push(file: str, api: str, token: str, full_sync: bool, then: str | None) -> None:
    """Push a JSON batch ([...] or {"items": [...]}) or a publiccode.yml."""
    client = _client(api, token)
    try:
        if file.endswith((".yml", ".yaml")):
            with open(file, "rb") as fh:
                body: PubliccodeResult = client.push_publiccode(fh.read())
            click.echo(f"{body['result']}: {body['listing']['title']} (id {body['listing']['id']})")
            for warning in body.get("warnings", []):
                text = f"{warning.get('path')}: {warning.get('message')}" if isinstance(warning, dict) else warning
                click.echo(f"Hinweis: {text}", err=True)
            return
        with open(file, encoding="utf-8") as fh:
            data = json.load(fh)
        items = data if isinstance(data, list) else data.get("items", [])
        full_sync = full_sync or (isinstance(data, dict) and bool(data.get("full_sync")))
        then = then or (data.get("then") if isinstance(data, dict) else None)
        result: SyncSummary = client.push_listings(items, full_sync=full_sync, then=then)
    except ApiError as err:
        click.echo(f"Fehler: {err}", err=True)
        for field, msgs in (err.problem.get("errors") or {}).items():
            click.echo(f"  {field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}", err=True)
        sys.exit(1)
    for r in result["results"]:
        if r["result"] == "error":
            click.echo(f"  #{r['index']} {r['external_id']}: {json.dumps(r['errors'], ensure_ascii=False)}", err=True)
        elif (r.get("step") or {}).get("reason"):
            click.echo(f"  #{r['index']} {r['external_id']} ({r['status']}): {r['step']['reason']}", err=True)
    click.echo(" ".join(f"{k}={v}" for k, v in result["summary"].items()))
    if result["summary"].get("error"):
        sys.exit(2)


@sync_group.command("pull")
@click.option("--api", envvar="MARKTPLATZ_API_URL", default="http://127.0.0.1:5000", show_default=True)
@click.option("--token", envvar="MARKTPLATZ_API_TOKEN", default=None, help="API token (optional: anonymous sees public data)")
@click.option("--after", default=None, help="Cursor to start after (default: the one stored beside --out)")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="JSON-lines file to append changes to")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000),
              help="Changes a page (at most 100 with entities)")
@click.option("--entities/--no-entities", default=True, show_default=True,
              help="Embed each change's current entity, or mark it a tombstone (include=entity)")
@click.option("--entity-type", type=click.Choice(["listing", "reuse", "organisation", "status_update"]),
              default=None, help="Only changes of this kind")
@click.option("--ags", default=None, help="Only changes of this municipality (AGS)")
@click.option("--network", default=None, help="Only changes of this network's members (slug)")
def pull(api: str, token: str | None, after: str | None, out: str, limit: int, entities: bool,
         entity_type: str | None, ags: str | None, network: str | None) -> None:
    """Append new changes to OUT (JSON lines); the last cursor is kept in OUT.cursor to resume.

    Each line is one change, with its entity as the token may see it now or "tombstone": true
    (remove it). Lines may repeat after a resume (at-least-once): apply them idempotently.
    """
    state = out + ".cursor"
    if after is None and os.path.exists(state):
        with open(state, encoding="ascii") as fh:
            after = fh.read().strip() or None
    client = _client(api, token)
    count = 0
    try:
        with open(out, "a", encoding="utf-8") as fh:
            pages = client.iter_change_pages(after, limit, include_entity=entities, entity_type=entity_type,
                                             ags=ags, network=network)
            for page in pages:
                for change in page["items"]:
                    fh.write(json.dumps(change, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                after = page["next_cursor"]
                tmp = state + ".tmp"
                with open(tmp, "w", encoding="ascii") as st:
                    st.write(after or "")
                os.replace(tmp, state)  # the cursor only moves after the changes are on disk
                count += len(page["items"])
    except ApiError as err:
        click.echo(f"Fehler: {err}", err=True)
        sys.exit(1)
    click.echo(f"{count} Änderungen geschrieben; Cursor: {after or '-'}")
