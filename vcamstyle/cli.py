"""The ``vcamstyle`` command line. Parses arguments, calls one function, maps errors to exit codes.

Exit codes: 0 success; 1 a runtime failure (camera, output, weights, control); 2 a configuration or
usage error; 3 ``status``: not running (LSB); 4 ``status``: running but not responding (LSB "unknown"). Heavy modules (torch) are imported inside commands so
that ``--help``, ``status`` and ``stop`` stay fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperArgument, TyperCommand

from vcamstyle.cli_setup import service_app, setup_app
from vcamstyle.cli_support import HELP, ConfigOption, config_path, consumer_text, fail, fps_text, handles_errors, style_size_text
from vcamstyle.paths import printable


class PlainUsage(TyperCommand):
    """Usage lines as people write them: ``render [OPTIONS] INPUT OUTPUT``, ``check [OPTIONS] [FILE]``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.display_name_raw.strip("[]")
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces

app = typer.Typer(add_completion=False, no_args_is_help=True, **HELP,
                  help="Live style-transfer virtual camera: the person in one artwork's style, the background in another's.")
config_app = typer.Typer(no_args_is_help=True, help="Write, check or locate the configuration file.", **HELP)
weights_app = typer.Typer(no_args_is_help=True, help="Manage the upstream checkpoints (AdaIN, SANet, Avatar-Net, UNet).",
                          **HELP)
app.add_typer(config_app, name="config")
app.add_typer(weights_app, name="weights")
app.add_typer(setup_app, name="setup")
app.add_typer(service_app, name="service")


def show_version(value: bool) -> None:
    if value:
        from vcamstyle import __version__
        typer.echo(f"vcamstyle {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                              help="Print the version and exit.")) -> None:
    """Live style-transfer virtual camera: the person in one artwork's style, the background in another's."""

EXIT_NOT_RUNNING = 3
EXIT_NOT_RESPONDING = 4
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Libraries whose INFO lines are noise in the daemon's log (watchfiles reports every change it sees).
QUIET_LOGGERS = ("watchfiles",)


def check_log_level(value: str) -> str:
    """``--log-level``: one of ``LOG_LEVELS`` (any case); anything else is a usage error."""
    if value.upper() not in LOG_LEVELS:
        raise typer.BadParameter(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
    return value.upper()


def setup_logging(level: str = "INFO") -> None:
    """Plain lines on stderr; no timestamps under journald (it adds its own). Chatty libraries log at
    WARNING and above unless ``level`` is DEBUG."""
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    numeric = logging.getLevelName(check_log_level(level))
    from vcamstyle.daemon import one_line_handler  # a file name with a newline cannot split a log line
    logging.basicConfig(level=numeric, handlers=[one_line_handler(sys.stderr, fmt)], force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)


def ensure_config_announced(path: Path) -> None:
    """Create ``path`` from the template on first use and say so."""
    from vcamstyle.config import ensure_config
    if ensure_config(path):
        typer.echo(f"created the config file {path} from the commented template; edit it to choose your styles "
                   "(a running daemon applies each save)", err=True)


def load(value: Optional[Path], create: bool = True):
    """The validated config at ``value`` (created from the template on first use)."""
    from vcamstyle.config import load_config
    path = config_path(value)
    if create:
        ensure_config_announced(path)
    return load_config(path)


# ------------------------------------------------------------------------------------------ daemon
@app.command()
@handles_errors
def run(config: Optional[Path] = ConfigOption,
        frames: Optional[int] = typer.Option(None, min=1, metavar="N", help="Stop after N output frames (tests, demos)."),
        log_level: str = typer.Option("INFO", metavar="LEVEL", callback=check_log_level,
                                      help="DEBUG, INFO, WARNING or ERROR.")) -> None:
    """Run the daemon in the foreground (what systemd and `start` run). Never forks."""
    setup_logging(log_level)
    from vcamstyle.daemon import Service
    path = config_path(config)
    ensure_config_announced(path)
    raise typer.Exit(Service(path, max_frames=frames, owns_process=True).run())


@app.command()
@handles_errors
def start(config: Optional[Path] = ConfigOption,
          timeout: float = typer.Option(60.0, help="Seconds to wait for the daemon to report ready.")) -> None:
    """Start the daemon in the background and wait until it is ready (or say why it failed)."""
    from vcamstyle.config import load_config
    from vcamstyle.daemon import check_files, check_output, control
    path = config_path(config)
    ensure_config_announced(path)
    cfg = load_config(path)
    check_files(cfg, path)  # what `config check` refuses (a picture, a recording over an input), at once
    check_output(cfg)  # the usual first-run problem, said at once, before any model loads
    result = control.start(path, timeout=timeout)
    where = "systemd user unit" if result.via_systemd else f"log: {result.log_path}"
    typer.echo(f"vcamstyle is running (pid {result.pid}; {where})")
    error = (result.status or {}).get("last_error")
    if error:
        typer.echo(f"warning: {error}", err=True)


@app.command()
@handles_errors
def stop(timeout: float = typer.Option(10.0, help="Seconds to wait for the orderly shutdown before SIGKILL.")) -> None:
    """Stop the daemon: SIGTERM, wait for its shutdown (recordings finalised), SIGKILL after the timeout
    (then exit 1)."""
    from vcamstyle.daemon import control
    result = control.stop(timeout=timeout)
    typer.echo(result.describe(), err=result.outcome == "killed")
    raise typer.Exit(1 if result.outcome == "killed" else 0)


@app.command()
@handles_errors
def reload() -> None:
    """Make the running daemon re-read its configuration now (SIGHUP)."""
    from vcamstyle.daemon import control
    pid = control.reload()
    typer.echo(f"reload requested (pid {pid})")


@app.command()
@handles_errors
def ui(no_browser: bool = typer.Option(False, "--no-browser", help="Only print the page's address.")) -> None:
    """Open the running daemon's control page (live preview, styles, every setting) in your browser."""
    from vcamstyle.commands import open_page
    address, opened = open_page(browser=not no_browser)
    typer.echo(f"control page: {address}" + ("" if opened or no_browser else " (no browser found: open it by hand)"))


@app.command()
@handles_errors
def logs(lines: int = typer.Option(50, "--lines", "-n", min=1), follow: bool = typer.Option(False, "--follow", "-f")) -> None:
    """Show the daemon's log (the journal under systemd, else the log file)."""
    from vcamstyle.daemon import control
    for line in control.logs(lines=lines, follow=follow):
        typer.echo(line.rstrip("\n"))


@app.command()
@handles_errors
def status(as_json: bool = typer.Option(False, "--json", help="One JSON object.")) -> None:
    """Is the daemon running? fps, per-stage latency, styles, last error.

    Exit 0 when it streams, 3 when it is not running, 4 when it runs but has stopped responding."""
    from vcamstyle.daemon import control
    info = control.status()
    if info is None:
        if as_json:
            typer.echo(json.dumps({"running": False}))
        else:
            typer.echo("vcamstyle is not running")
        raise typer.Exit(EXIT_NOT_RUNNING)
    responding = info.get("state") != control.NOT_RESPONDING
    if as_json:
        typer.echo(json.dumps({"running": True, **info}, default=str))
        if not responding:
            raise typer.Exit(EXIT_NOT_RESPONDING)
        return
    stages = ", ".join(f"{k} {v:.1f}" for k, v in (info.get("stage_ms") or {}).items())
    lines = [f"vcamstyle is {info.get('state', 'running')} (pid {info.get('pid')}, up {info.get('uptime_s') or 0:.0f} s, "
             f"via {info.get('manager', 'pidfile')})",
             f"  fps:        {fps_text(info)}",
             f"  stages ms:  {stages or '-'}",
             f"  person:     {info.get('person')}",
             f"  background: {info.get('background')}",
             f"  method:     {info.get('method')}   segmentation: {info.get('segmentation')}   device: {info.get('device')}",
             f"  style size: {style_size_text(info)}",
             f"  output:     {info.get('output')}",
             f"  watched by: {consumer_text(info)}",
             f"  config:     {info.get('config')}",
             f"  last error: {info.get('last_error') or 'none'}"]
    if not responding:
        lines.insert(1, f"  no status for {info.get('status_age_s') or 0:.0f} s (it was {info.get('last_state')}): "
                        "the frame loop is stuck; `vcamstyle logs` shows why, `vcamstyle stop` stops it")
    typer.echo("\n".join(map(printable, lines)))  # a style file named with a newline stays on its line
    if not responding:
        raise typer.Exit(EXIT_NOT_RESPONDING)


@app.command(cls=PlainUsage)
@handles_errors
def render(input: Path = typer.Argument(..., metavar="INPUT", help="An image or a video file."),
           output: Path = typer.Argument(..., metavar="OUTPUT",
                                         help="An image (.png/.jpg) or a video (.mp4/.mkv/.mov/.avi) to write."),
           config: Optional[Path] = ConfigOption,
           compare: bool = typer.Option(False, "--compare", help="Write original | mask | result side by side."),
           force: bool = typer.Option(False, "--force", "-f", help="Replace OUTPUT if it exists (never the input)."),
           random_weights: bool = typer.Option(False, "--random-weights", help="Random network weights (tests).")) -> None:
    """Run the daemon's pipeline over an image or a video and write the result (progress on a terminal)."""
    setup_logging("WARNING")
    from rich.console import Console

    from vcamstyle.commands import render_file
    terminal = sys.stdin.isatty() and sys.stderr.isatty()
    ask = (lambda path: typer.confirm(f"{path} exists. Replace it?", default=False, err=True)) if terminal else None
    count = render_file(load(config), input, output, compare=compare, random_weights=random_weights, force=force,
                        confirm=ask, console=Console(stderr=True) if sys.stderr.isatty() else None,
                        config_file=config_path(config))
    typer.echo(f"wrote {output} ({count} frame{'s' if count != 1 else ''})")


class SeedSize(str, Enum):
    """Where ``bench --seed-baseline`` runs the seed's networks."""

    output = "output"
    style = "style"


@app.command()
@handles_errors
def bench(config: Optional[Path] = ConfigOption,
          frames: int = typer.Option(100, min=1, help="Measured frames (after warm-up)."),
          warmup: int = typer.Option(10, min=0, help="Frames run before measuring."),
          as_json: bool = typer.Option(False, "--json", help="Also print one JSON object on the last line."),
          random_weights: bool = typer.Option(False, "--random-weights", help="Random weights, identical cost."),
          method: Optional[str] = typer.Option(None, help="Override style.method."),
          segmentation: Optional[str] = typer.Option(None, help="Override segmentation.model."),
          width: Optional[int] = typer.Option(None, help="Override the output width."),
          height: Optional[int] = typer.Option(None, help="Override the output height."),
          size: Optional[int] = typer.Option(None, help="Override style.size (short side the network runs at)."),
          device: Optional[str] = typer.Option(None, help="Override device (cpu, cuda)."),
          precision: Optional[str] = typer.Option(None, help="Override precision (auto, float32)."),
          threads: Optional[int] = typer.Option(None, min=1, help="Network threads (torch and onnxruntime); fewer "
                                                "than the cores simulates a smaller machine."),
          seed_baseline: bool = typer.Option(False, "--seed-baseline",
                                             help="Also run the seed's per-frame algorithm, alternating, and print the speed-up."),
          seed_size: SeedSize = typer.Option(SeedSize.output, "--seed-size",
                                             help="With --seed-baseline: the seed's networks run at the output size "
                                             "(as the seed did) or at style.size (isolates the algorithmic gain)."),
          latency: bool = typer.Option(False, "--latency", help="Run the real daemon loop (threads, camera pacing) and "
                                       "report capture-to-sink latency."),
          soak: bool = typer.Option(False, "--soak", help="10,000 frames with a reload every 500: memory and file descriptors."),
          quality: bool = typer.Option(False, "--quality", help="Image quality on clips built from real photos: "
                                       "temporal stability, region independence, halo, mask IoU, face legibility "
                                       "(CPU, about 10 minutes on 2 cores; needs the test extra; takes --config, --method, "
                                       "--segmentation, --size, --device, --precision, --json).")) -> None:
    """Measure the pipeline over the configured camera (a file works), without a sink."""
    setup_logging("WARNING")
    from vcamstyle.bench import runner as bench_module
    from vcamstyle.config import override
    if quality:
        ignored = [name for name, given in (("--width", width is not None), ("--height", height is not None),
                                            ("--threads", threads is not None), ("--random-weights", random_weights),
                                            ("--seed-baseline", seed_baseline), ("--latency", latency),
                                            ("--soak", soak)) if given]
        if ignored:
            raise typer.BadParameter(f"{', '.join(ignored)} cannot be combined with --quality: it measures its own "
                                     "clips (640x360 and 640x480) with the real weights", param_hint="--quality")
        from vcamstyle.bench import quality as quality_module
        cfg = override(load(config), {"segmentation.model": segmentation, "style.method": method, "style.size": size,
                                      "device": device or "cpu", "precision": precision})
        report = quality_module.run_quality(cfg)
        typer.echo(quality_module.format_quality(report))
        if as_json:
            typer.echo(json.dumps(report))
        return
    if latency or soak:
        from vcamstyle.bench import live
        path = config_path(config)
        load(config)
        report = live.run_soak(path) if soak else live.run_latency(path, frames=frames)
        typer.echo(json.dumps(report, indent=None if as_json else 2))
        return
    cfg = override(load(config), {"style.method": method, "segmentation.model": segmentation, "output.width": width,
                                  "output.height": height, "style.size": size, "device": device, "precision": precision,
                                  "threads": threads})
    if threads is not None:
        from vcamstyle import compute
        compute.set_threads(threads)
    if seed_baseline:
        from vcamstyle.daemon import reserved_cores, threads_for
        with threads_for(cfg.threads, reserved_cores(cfg)):
            report = bench_module.run_seed_comparison(cfg, frames=frames, warmup=warmup,
                                                      random_weights=random_weights, seed_size=seed_size.value)
    else:
        from vcamstyle.daemon import reserved_cores, threads_for
        with threads_for(cfg.threads, reserved_cores(cfg)):
            report = bench_module.run_bench(cfg, frames=frames, warmup=warmup, random_weights=random_weights)
    typer.echo(bench_module.format_report(report))
    if as_json:
        typer.echo(json.dumps(report))


@app.command()
def doctor(config: Optional[Path] = ConfigOption) -> None:
    """Check cameras, v4l2loopback devices, permissions, models and the GPU; print what to fix."""
    from vcamstyle.commands import run_checks
    problems = 0
    checks = []
    for check in run_checks(config_path(config)):
        mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[check.level]
        typer.echo(f"[{mark}] {check.title}: {check.detail}")
        if check.fix:
            typer.echo(f"       fix: {check.fix}")
        problems += check.level == "fail"
        checks.append(check)
    from vcamstyle.commands import next_command
    command = next_command(checks)
    typer.echo(f"next: {command}" if command else "next: nothing is missing; `vcamstyle start` runs the camera")
    raise typer.Exit(1 if problems else 0)


# ------------------------------------------------------------------------------------------ config
@config_app.command("init")
@handles_errors
def config_init(config: Optional[Path] = ConfigOption, force: bool = typer.Option(False, "--force", help="Overwrite.")) -> None:
    """Write the commented template to the config path."""
    from vcamstyle.config import dump_default
    path = config_path(config)
    if path.exists() and not force:
        fail(f"{path} already exists", "use --force to overwrite it", 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_default())
    typer.echo(f"wrote {path}")


@config_app.command("check", cls=PlainUsage)
@handles_errors
def config_check(file: Optional[Path] = typer.Argument(None, metavar="FILE",
                                                     help="The file to check (default: --config, else the default path)."),
                 config: Optional[Path] = ConfigOption) -> None:
    """Validate a config file and the pictures it names; print every problem with its key path."""
    from vcamstyle.commands import check_config_files
    if file is not None and config is not None and config_path(file) != config_path(config):
        fail(f"two different files given: {file} and --config {config}", "give the file once", 2)
    config = file or config
    cfg = load(config, create=False)
    check_config_files(cfg, config_path(config))
    typer.echo(f"{config_path(config)} is valid: person {cfg.summary_region('person')}; "
               f"background {cfg.summary_region('background')}; method {cfg.style.method}")


@config_app.command("path")
def config_path_cmd(config: Optional[Path] = ConfigOption) -> None:
    """Print the config path in use."""
    typer.echo(str(config_path(config)))


# ------------------------------------------------------------------------------------------ weights
def _weights_dir(config: Optional[Path]) -> Path:
    from vcamstyle.config import load_config
    from vcamstyle.models.weights import resolve_weights_dir
    path = config_path(config)
    value = load_config(path).weights_dir if path.exists() else None
    return resolve_weights_dir(str(value) if value else None)


@weights_app.command("list")
@handles_errors
def weights_list(config: Optional[Path] = ConfigOption) -> None:
    """Show which checkpoint files are present, missing or corrupt."""
    from vcamstyle.models.weights import list_status
    directory = _weights_dir(config)
    typer.echo(f"weights directory: {directory}")
    for item in list_status(directory):
        size = f"{item.size / 1e6:.1f} MB" if item.size else "-"
        typer.echo(f"  {item.state:<10} {item.filename:<30} {size:>9}  ({', '.join(item.models)}){'  ' + item.note if item.note else ''}")


@weights_app.command("fetch", cls=PlainUsage)
@handles_errors
def weights_fetch(names: list[str] = typer.Argument(..., metavar="NAME", help="Model names (adain, sanet, avatarnet, unet_resnet18) or file names."),
                  config: Optional[Path] = ConfigOption,
                  force: bool = typer.Option(False, "--force", help="Download again even if present.")) -> None:
    """Download checkpoints (resumable, verified, atomic)."""
    from vcamstyle.models.weights import fetch
    for item in fetch(names, _weights_dir(config), progress=True, force=force):
        typer.echo(f"  {item.state:<10} {item.path}")


@weights_app.command("verify")
@handles_errors
def weights_verify(config: Optional[Path] = ConfigOption) -> None:
    """Check every present file against its checksum; exit 1 if any is corrupt."""
    from vcamstyle.models.weights import verify
    bad = 0
    for item in verify(_weights_dir(config)):
        typer.echo(f"  {item.state:<10} {item.filename}{'  ' + item.note if item.note else ''}")
        bad += item.state == "corrupt"
    raise typer.Exit(1 if bad else 0)


@weights_app.command("path")
@handles_errors
def weights_path(config: Optional[Path] = ConfigOption) -> None:
    """Print the weights directory in use."""
    typer.echo(str(_weights_dir(config)))



def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
