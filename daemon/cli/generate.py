"""`alice generate`, `alice recreate`, `alice generations`, `alice projects`, `alice providers`.

Generation runs in this process (it needs the catalog, not the daemon): the
outputs land in `<first inbox>/<project>/`, where a running daemon (or the
next `alice organize`) files them with their generation record. Importing this
module adds its commands to the `alice` group (cli.py imports it last).
"""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from alice.daemon.cli.context import CliContext, emit, fail, json_option, pass_ctx
from alice.daemon.errors import EXIT_CATALOG, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL

if TYPE_CHECKING:
    from alice.daemon.app import App
    from alice.daemon.generation.generator import Generator
    from alice.daemon.provider_host import ProviderHost

EPILOG_EXIT = "Exit codes: 0 done, 1 refused by the budget or failed, 2 bad request or configuration, 3 catalog down."


def parse_param(text: str) -> tuple[str, Any]:
    """`k=v` from the command line; v is read as JSON when it is JSON (numbers, true, objects), else text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise click.BadParameter(f"takes key=value, got {text!r}", param_hint="--param")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _providers(app: App) -> ProviderHost:
    from alice.providers.errors import ProviderConfigError

    try:
        return app.providers
    except ProviderConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)
    raise AssertionError("unreachable")


def _generator(app: App) -> Generator:
    from alice.daemon.catalog.errors import CatalogError

    _providers(app)
    try:
        return app.generator
    except CatalogError as exc:
        fail(f"catalog unavailable: {exc}", EXIT_CATALOG)
    raise AssertionError("unreachable")


def _show_request(status: dict[str, Any]) -> None:
    cost = status["cost_usd"] or status["estimate_usd"]
    what = "cost" if status["cost_usd"] else "estimated"
    click.echo(f"request {status['id']}: {status['state']}  {status['provider']} {status['model']}  "
               f"project {status['project']}  {what} ${cost}")
    if status.get("recreated_from"):
        click.echo(f"  recreated from request {status['recreated_from']}")
    for out in status["outputs"]:
        note = "" if out["embedded"] else "  (record in the catalog only)"
        filed = f"  -> filed at {out['filed_path']}" if out.get("filed_path") else ""
        click.echo(f"  {out['path']}{note}{filed}")
    if status.get("error"):
        click.echo(f"  error: {status['error']}", err=True)


def _finish(gen: Any, rid: int, wait: bool, as_json: bool) -> None:
    """Wait (or not) for a started request, print it, exit with its outcome."""
    try:
        status = gen.wait(rid) if wait else gen.wait_submitted(rid)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: request {rid} may still be running at the provider; "
                   f"finish it with `alice generations {rid} --finish`", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        emit(status)
    else:
        _show_request(status)
        if not wait and status["state"] in ("submitted", "running"):
            click.echo(f"  not waiting: `alice generations {rid} --finish` downloads the outputs when it is done")
    sys.exit(EXIT_PARTIAL if status["state"] in ("failed", "refused") else EXIT_OK)


def _run_request(ctx: CliContext, as_json: bool, start: Any, wait: bool) -> None:
    """Build a Generator, start requests with `start(gen)` (an id, or a list of ids for a seed
    range), report them; map errors to exit codes."""
    from alice.daemon import errors
    from alice.daemon.catalog.errors import CatalogUnavailable
    from alice.daemon.generation.generator import GenerateError
    from alice.providers.errors import BudgetExceeded

    app = ctx.app()
    gen = _generator(app)
    try:
        try:
            started = start(gen)
        except BudgetExceeded as exc:
            if as_json:
                emit({"id": getattr(exc, "request_id", None), "state": "refused", "error": exc.message})
            fail(f"refused: {exc.message}", errors.exit_code(exc))
        except GenerateError as exc:
            fail(str(exc), exc.exit_code)
        except CatalogUnavailable as exc:
            fail(f"catalog unavailable: {exc}", exc.exit_code)
        ids = started if isinstance(started, list) else [started]
        if len(ids) == 1:
            _finish(gen, ids[0], wait, as_json)
        bad = False
        for rid in ids:
            try:
                status = gen.wait(rid) if wait else gen.wait_submitted(rid)
            except KeyboardInterrupt:
                click.echo(f"\ninterrupted: requests {ids} may still be running; finish each with "
                           "`alice generations ID --finish`", err=True)
                sys.exit(EXIT_INTERRUPTED)
            bad |= status["state"] in ("failed", "refused")
            emit(status) if as_json else _show_request(status)
        sys.exit(EXIT_PARTIAL if bad else EXIT_OK)
    finally:
        app.close()


@click.command(epilog=EPILOG_EXIT)
@click.option("--provider", required=True, help="fal, bfl, hedra or openai (see `alice providers`).")
@click.option("--model", required=True, help="The provider's model id, e.g. fal-ai/flux/dev.")
@click.option("--prompt", default=None, help="What to generate.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A model parameter; VALUE is read as JSON if it is JSON (28, true, {...}), else as text. "
                   "Repeatable.")
@click.option("--reference", "references", multiple=True, metavar="FILE|CONTENT_ID",
              help="An input file (image to edit, portrait, audio), by path or by the content id of a "
                   "filed asset. Repeatable.")
@click.option("--project", required=True, help="The project: outputs go to <inbox>/<project>/ and count "
                                               "against its budget.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for the outputs, or return once the provider accepted the request.")
@json_option
@pass_ctx
def generate(ctx: CliContext, provider: str, model: str, prompt: str | None, params: tuple[str, ...],
             references: tuple[str, ...], project: str, wait: bool, as_json: bool) -> None:
    """Generate with a provider; the outputs are filed like any other file.

    \b
    The request is recorded in the catalog before it is sent, priced first and
    refused if the project's budget cannot cover it. Each output is saved
    into <first inbox>/<project>/ with alice's generation record inside the file
    (PNG text chunk, XMP, MP4 tag), so `alice inspect` shows the provider,
    model, prompt and every parameter, and a running daemon files it.

    \b
    Example:
      alice generate --provider fal --model fal-ai/flux/dev --prompt "a red fox" \\
          --param image_size=square_hd --param seed=42 --project foxes
    With --json: the request as one object (id, state, cost_usd, outputs, ...).
    """
    parsed = dict(parse_param(p) for p in params)
    _run_request(ctx, as_json, lambda gen: gen.submit(provider, model, prompt, parsed, list(references), project),
                 wait)


@click.command(epilog=EPILOG_EXIT)
@click.argument("asset")
@click.option("--provider", type=click.Choice(["comfyui", "a1111"]), default=None,
              help="Re-run ASSET on your own ComfyUI or A1111 (Forge, SD.Next) from the record inside the file.")
@click.option("--project", default=None, help="File the new outputs under this project (default: the original's).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@json_option
@pass_ctx
def recreate(ctx: CliContext, asset: str, provider: str | None, project: str | None, wait: bool,
             as_json: bool) -> None:
    """Send the exact request that made ASSET again.

    \b
    ASSET is a file alice generated (in the inbox or the organized tree), its
    content id (b3:...), asset:<id>, or a request id. The new request records
    which one it recreates (recreated_from) and is priced against the budget
    like any other.
    With --provider comfyui|a1111, ASSET is any file that carries a ComfyUI API
    graph or A1111 parameters (a path, b3:..., asset:<id> or an asset id); it
    is run again unchanged on that generator and the output is filed with a
    lineage edge to ASSET.
    """
    if provider is None:
        _run_request(ctx, as_json, lambda gen: gen.recreate(asset, project=project), wait)
        return
    from alice.daemon.generation.rerun import rerun

    _run_request(ctx, as_json, lambda gen: rerun(gen, asset, provider, project=project), wait)


@click.command(epilog=EPILOG_EXIT)
@click.argument("asset")
@click.option("--provider", type=click.Choice(["comfyui", "a1111"]), default=None,
              help="Where to run it (default: the tool that made ASSET, when that is comfyui or a1111).")
@click.option("--seed", type=int, default=None, help="A new seed.")
@click.option("--seeds", default=None, metavar="N..M", help="One run per seed of the range (inclusive).")
@click.option("--prompt", default=None, help="A new positive prompt.")
@click.option("--negative-prompt", default=None, help="A new negative prompt.")
@click.option("--steps", type=int, default=None)
@click.option("--cfg", type=float, default=None)
@click.option("--sampler", default=None)
@click.option("--scheduler", default=None)
@click.option("--denoise", type=float, default=None)
@click.option("--model", default=None, help="Another checkpoint, by name (the file's extension is kept).")
@click.option("--width", type=int, default=None)
@click.option("--height", type=int, default=None)
@click.option("--project", default=None, help="File the outputs under this project (default: the original's).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@json_option
@pass_ctx
def vary(ctx: CliContext, asset: str, provider: str | None, seed: int | None, seeds: str | None,
         prompt: str | None, negative_prompt: str | None, steps: int | None, cfg: float | None,
         sampler: str | None, scheduler: str | None, denoise: float | None, model: str | None,
         width: int | None, height: int | None, project: str | None, wait: bool, as_json: bool) -> None:
    """Re-run ASSET on your own ComfyUI or A1111 with some values changed.

    \b
    ASSET: a path, b3:..., asset:<id> or an asset id. ComfyUI values are
    written at the inputs the graph walk found for the base sampler and its
    text encoders (a hires pass keeps its own seed); A1111 values replace the
    parameters. Each output is filed with the record, the overrides and a
    lineage edge to ASSET (`alice lineage ASSET`).
    \b
    Examples:
      alice vary 1234 --seeds 100..103
      alice vary out.png --provider a1111 --prompt "a grey wolf" --cfg 5
    """
    from alice.daemon.generation.rerun import rerun
    from alice.pipeline.rerun.overrides import Overrides, RerunError, parse_seeds

    try:
        wanted = Overrides(seed=seed, steps=steps, cfg=cfg, sampler=sampler, scheduler=scheduler, denoise=denoise,
                           prompt=prompt, negative_prompt=negative_prompt, model=model, width=width, height=height)
        seed_list = parse_seeds(seeds) if seeds is not None else None
    except RerunError as exc:
        fail(str(exc), EXIT_CONFIG)
    if not wanted.given() and not seed_list:
        fail("nothing to vary: give --seed, --seeds, --prompt, --steps, --cfg, --model, ... "
             "(`alice recreate --provider` runs it unchanged)", EXIT_CONFIG)

    def start(gen: Any) -> list[int]:
        return rerun(gen, asset, provider or _made_with(gen, asset), overrides=wanted, seeds=seed_list,
                     project=project)

    _run_request(ctx, as_json, start, wait)


def _made_with(gen: Any, asset: str) -> str:
    """comfyui or a1111, from the record in ASSET's file, when --provider is not given."""
    from alice.daemon.generation.generator import GenerateError
    from alice.daemon.generation.rerun import find_file, read_source

    path = find_file(gen, asset).path
    for provider in ("comfyui", "a1111"):
        try:
            read_source(path, provider)
        except GenerateError:
            continue
        return provider
    raise GenerateError(f"{path.name} carries neither a ComfyUI graph nor A1111 parameters to vary")


@click.command()
@click.argument("request_id", type=int, required=False)
@click.option("--finish", is_flag=True, help="Poll a submitted request to the end and deliver its outputs "
                                             "(after --no-wait or an interrupted run).")
@click.option("--abandon", is_flag=True, help="Give up on a request left unfinished (after a crash): it is "
                                              "marked failed and stops holding the project's budget.")
@click.option("--limit", type=int, default=20, show_default=True, help="How many recent requests to list.")
@json_option
@pass_ctx
def generations(ctx: CliContext, request_id: int | None, finish: bool, abandon: bool, limit: int,
                as_json: bool) -> None:
    """List recent generation requests, or show one (REQUEST_ID)."""
    if (finish or abandon) and request_id is None:
        fail("--finish and --abandon need a REQUEST_ID", EXIT_CONFIG)
    if finish and abandon:
        fail("--finish and --abandon exclude each other", EXIT_CONFIG)
    if finish and request_id is not None:
        _run_request(ctx, as_json, lambda gen: gen.resume(request_id), True)
        return
    if abandon and request_id is not None:
        from alice.daemon.generation.generator import GenerateError

        with ctx.app() as app:
            try:
                status = _generator(app).abandon(request_id)
            except GenerateError as exc:
                fail(str(exc), EXIT_CONFIG)
        emit(status) if as_json else _show_request(status)
        return
    from alice.daemon.catalog import requests

    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            rows = ([requests.get_request(s, request_id)] if request_id is not None
                    else requests.recent(s, max(1, limit)))
    finally:
        catalog.close()
    found = [row for row in rows if row is not None]
    if request_id is not None and not found:
        fail(f"no generation request {request_id}", EXIT_CONFIG)
    for row in found:
        emit(row.to_json()) if as_json else _show_request(row.to_json())


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def projects(click_ctx: click.Context, as_json: bool) -> None:
    """Projects with their budget, spending and pause state, by provider and model.

    \b
    A project's budget caps what alice spends on providers for it (USD).
    A request whose estimate exceeds what is left is refused before anything
    is sent; when spending reaches the budget the project is paused until
    the budget is raised:
      alice projects set-budget cyberpunk 5.00
      alice projects set-budget cyberpunk none      (no cap)
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from alice.daemon.catalog import spend

    catalog = click_ctx.obj.catalog()
    try:
        with catalog.session() as s:
            rows = spend.overview(s)
    finally:
        catalog.close()
    if as_json:
        emit({"projects": rows})
        return
    if not rows:
        click.echo("No projects yet.")
    for row in rows:
        budget = "no budget" if row["budget_usd"] is None else (
            f"budget ${row['budget_usd']}, remaining ${row['remaining_usd']}")
        paused = "  PAUSED (raise the budget to resume)" if row["paused"] else ""
        click.echo(f"{row['project']}: spent ${row['spent_usd']}, {budget}{paused}")
        for m in row["by_model"]:
            extra = f", ${m['reserved_usd']} in flight" if m["reserved_usd"] not in ("0", "0.0000") else ""
            click.echo(f"    {m['provider']:<8} {m['model']:<48} {m['requests']:>4} requests  "
                       f"${m['spent_usd']}{extra}")


@projects.command("set-budget")
@click.argument("project")
@click.argument("amount")
@json_option
@pass_ctx
def set_budget(ctx: CliContext, project: str, amount: str, as_json: bool) -> None:
    """Set PROJECT's budget to AMOUNT US dollars ("none" removes it).

    Raising it above what was spent lifts a pause; lowering it to or below
    what was spent pauses the project.
    """
    from alice.daemon.catalog import spend
    from alice.daemon.generation.budget import BudgetValueError, parse_budget
    from alice.pipeline.plan import sanitize_segment

    try:
        value = parse_budget(amount)
    except BudgetValueError as exc:
        fail(str(exc), EXIT_CONFIG)
    name = sanitize_segment(project)
    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            after, change = spend.change_budget(s, name, value)
    finally:
        catalog.close()
    info = after.to_json()
    if as_json:
        emit({**info, "change": change})
        return
    budget = "no budget" if value is None else f"budget ${value}"
    click.echo(f"{name}: {budget}, spent ${after.spent}"
               + {"resumed": "; no longer paused", "paused": "; PAUSED: the budget is used up"}.get(change or "", ""))


@click.command()
@json_option
@pass_ctx
def providers(ctx: CliContext, as_json: bool) -> None:
    """The generation and rating services alice can use: models, prices, key and health.

    \b
    Keys come from providers.<name>.api_key in the config or the service's
    usual environment variable (FAL_KEY, BFL_API_KEY, HEDRA_API_KEY,
    OPENAI_API_KEY, ANTHROPIC_API_KEY). Prices are list prices; override them
    under providers.<name>.prices.
    """
    from alice.providers.registry import describe, describe_text

    with ctx.app() as app:
        rows = describe(_providers(app))
    if as_json:
        emit({"providers": rows})
    else:
        click.echo(describe_text(rows) if rows else "No providers enabled.")
