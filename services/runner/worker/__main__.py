"""Command line of the QGIS worker.

``python3 -m runner.worker run`` reads one job spec (JSON) from stdin and speaks the JSON-lines
protocol on stdout (see ``protocol``). ``python3 -m runner.worker inspect DIR PROJECT_FILE`` checks
a local project and prints ``{"project_details": ...}`` or ``{"error": ..., "error_type": ...}``.
``python3 -m runner.worker package-local DIR PROJECT_FILE OUT_DIR`` packages a local project into the
empty (or new) OUT_DIR and prints ``{"layers_by_id", "packaged_layers_by_id", "files"}`` or the error.
``python3 -m runner.worker apply-local DIR PROJECT_FILE DELTAFILE [--no-overwrite]`` applies a deltafile
(JSON, with optional ``clientPks``) to the local project in place and prints
``{"delta_feedback": [...], "changed_files": [...]}`` or the error.
Exit codes: 0 success, 1 clean job failure, 2 bad invocation or job spec, 3 unexpected worker error;
anything else (e.g. a signal) is a crash.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import traceback
import typing

from runner.worker import commands, job, protocol, qgis_app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m runner.worker", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one job; the job spec (JSON) is read from stdin")
    run.add_argument(
        "--warm", action="store_true", help="start QGIS first, print a ready line, then wait for the job spec"
    )
    inspect = sub.add_parser("inspect", help="check a local project without the API")
    inspect.add_argument("directory", type=pathlib.Path)
    inspect.add_argument("project_file")
    package_local = sub.add_parser("package-local", help="package a local project without the API")
    package_local.add_argument("directory", type=pathlib.Path)
    package_local.add_argument("project_file")
    package_local.add_argument("out_dir", type=pathlib.Path)
    apply_local = sub.add_parser("apply-local", help="apply a deltafile to a local project in place")
    apply_local.add_argument("directory", type=pathlib.Path)
    apply_local.add_argument("project_file")
    apply_local.add_argument("deltafile", type=pathlib.Path)
    apply_local.add_argument(
        "--no-overwrite", action="store_true", help="report conflicts instead of applying over them"
    )
    return parser


def _run(out: typing.TextIO, warm: bool) -> int:
    reporter = protocol.JsonLinesReporter(out)
    relay = _LogRelay()
    started = None
    if warm:
        work_dir = commands.new_work_dir("warm")
        started = (work_dir, qgis_app.start(work_dir, relay))
        out.write(protocol.dumps({"kind": "ready"}) + "\n")
        out.flush()
    text = sys.stdin.readline() if warm else sys.stdin.read()
    try:
        spec = job.parse_spec(text)
        _apply_environment(text)
    except job.JobSpecError as error:
        print(f"runner.worker: {error}", file=sys.stderr)
        return 2
    relay.target = reporter.log  # QGIS messages from now on belong to the job's log
    return commands.run_job(spec, reporter, started)


class _LogRelay:
    """Where QGIS messages go: nowhere while a warm worker waits, the job's log once it has one."""

    def __init__(self) -> None:
        self.target: typing.Callable[[str], None] | None = None

    def __call__(self, line: str) -> None:
        if self.target is not None:
            self.target(line)


def _apply_environment(text: str) -> None:
    """A warm worker gets its job's environment (secrets, PGSERVICEFILE) with the spec, not at start."""
    import json

    env = json.loads(text).get("env") or {}
    if not isinstance(env, dict):
        raise job.JobSpecError("env must be an object")
    os.environ.update({str(key): str(value) for key, value in env.items()})


def _inspect(out: typing.TextIO, directory: pathlib.Path, project_file: str) -> int:
    if not directory.is_dir():
        print(f"runner.worker: {directory} is not a directory", file=sys.stderr)
        return 2
    result, code = commands.inspect_project(directory, project_file, protocol.StderrReporter())
    out.write(protocol.dumps(result) + "\n")
    return code


def _package_local(
    out: typing.TextIO, directory: pathlib.Path, project_file: str, out_dir: pathlib.Path
) -> int:
    if not directory.is_dir():
        print(f"runner.worker: {directory} is not a directory", file=sys.stderr)
        return 2
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        print(f"runner.worker: {out_dir} must be an empty or new directory", file=sys.stderr)
        return 2
    result, code = commands.package_local(directory, project_file, out_dir, protocol.StderrReporter())
    out.write(protocol.dumps(result) + "\n")
    return code


def _apply_local(out: typing.TextIO, args: argparse.Namespace) -> int:
    import json

    if not args.directory.is_dir():
        print(f"runner.worker: {args.directory} is not a directory", file=sys.stderr)
        return 2
    try:
        deltafile = json.loads(args.deltafile.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"runner.worker: cannot read the deltafile {args.deltafile}: {error}", file=sys.stderr)
        return 2
    result, code = commands.apply_local(
        args.directory,
        args.project_file,
        deltafile,
        protocol.StderrReporter(),
        overwrite_conflicts=not args.no_overwrite,
    )
    out.write(protocol.dumps(result) + "\n")
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = protocol.take_stdout()
    if args.command == "run":
        code = _run(out, args.warm)
    elif args.command == "inspect":
        code = _inspect(out, args.directory, args.project_file)
    elif args.command == "apply-local":
        code = _apply_local(out, args)
    else:
        code = _package_local(out, args.directory, args.project_file, args.out_dir)
    out.flush()
    sys.stderr.flush()
    return code


def _guarded_main() -> int:
    """Never let an unexpected exception exit with 1, which means "job failed cleanly"."""
    try:
        return main()
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 2
    except BaseException:
        traceback.print_exc()
        return 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    # os._exit skips interpreter finalisation, where leftover sip/Qt objects can still segfault
    # after a clean exitQgis(); every stream that matters has been flushed by main().
    os._exit(_guarded_main())
