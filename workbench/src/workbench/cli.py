"""`workbench`: a Docker-free `sam local` (invoke, start-api, start-lambda, serve-aws, token, transform,
fire-schedule, rotate-secret), the scenarios that drive the service (demo, chaos, load) and the measurements
(bench, tune, cost, sqs, proxy)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from samcli.commands._utils.template import TemplateFailedParsingException

from workbench.emulator.app_config import AppConfigError
from workbench.emulator.authorizer import DEFAULT_TOKEN_LIFETIME_S
from workbench.emulator.build import BuildError
from workbench.emulator.environment import FunctionConfigError, Lifecycle, RequestTooLargeError, ThrottledError
from workbench.emulator.event_sources import DrainError
from workbench.emulator.host import UnsupportedHostError
from workbench.emulator.mysql_server import NoMySqlError
from workbench.emulator.schedules import ScheduleError
from workbench.emulator.template import DEFAULT_TEMPLATE
from workbench.emulator.wsgi import ServeError


def parse_parameter_overrides(values: list[str]) -> dict[str, str]:
    """Both of SAM's spellings: `Key=Value` and `ParameterKey=Key,ParameterValue=Value`."""
    overrides: dict[str, str] = {}
    for value in " ".join(values).split():
        if value.startswith("ParameterKey="):
            key_part, _, value_part = value.partition(",")
            overrides[key_part.removeprefix("ParameterKey=")] = value_part.removeprefix("ParameterValue=")
        else:
            key, _, val = value.partition("=")
            overrides[key] = val
    return overrides


class UsageError(ValueError):
    """Bad input to a command: one line, exit 2."""


def read_event(source: str | None) -> Any:
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return json.loads(text) if text.strip() else {}
    except OSError as error:
        raise UsageError(f"event {source}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"event {source} is not JSON: {error}") from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (template.yaml)")
    parser.add_argument("-n", "--env-vars", type=Path, help="JSON file of environment overrides, SAM's format")
    parser.add_argument("--parameter-overrides", nargs="*", default=[], help="Key=Value … (as sam)")
    parser.add_argument("--trace", action="store_true", help="collect X-Ray segments and print the trace tree")
    parser.add_argument(
        "--log-file", type=Path, help="append the functions' log streams here (default: this terminal), as sam"
    )
    parser.add_argument(
        "--warm",
        choices=("lazy", "eager", "never"),
        default="lazy",
        help="environments: on demand (lazy, Lambda's way), one per function before traffic (eager), "
        "a fresh one per invocation (never)",
    )
    parser.add_argument(
        "--debug-port", type=int, metavar="N", help="run the function's environment under debugpy, listening on N"
    )
    parser.add_argument("--debug-function", metavar="LogicalId", help="which function --debug-port debugs")
    parser.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="S",
        help="retire an environment idle this many seconds, as Lambda does",
    )


# Commands that parse their own arguments (`workbench <command> --help`): module, one line of help.
OWN_PARSERS = {
    "bench": ("workbench.measure.report", "every optimization against its naive twin: table, results, chart"),
    "tune": ("workbench.measure.tune", "local AWS Lambda Power Tuning: one function, one event, memory sizes"),
    "cost": ("workbench.measure.cost", "monthly cost per memory size, x86 vs arm64, on-demand vs PC vs SnapStart"),
    "capacity": (
        "workbench.measure.capacity",
        "a rate of orders/s against every quota and setting, and its cost",
    ),
    "spike": ("workbench.measure.spike", "a traffic spike through the service, simulated second by second"),
    "dashboard": ("workbench.measure.dashboard", "the template's CloudWatch dashboard, drawn from make demo's logs"),
    "sqs": ("workbench.measure.sqs_depth", "what an SQS call costs against the local cloud as the queue grows"),
    "proxy": ("workbench.measure.db_proxy_cost", "what the local RDS Proxy relay adds to a MySQL query and connect"),
    "chaos": ("workbench.scenarios.chaos", "orders through API + consumer under injected faults: 0 lost"),
    "load": ("workbench.scenarios.load", "concurrent clients against start-api: 0 errors, bounded connections"),
}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in OWN_PARSERS:
        command: Any = importlib.import_module(OWN_PARSERS[argv[0]][0])
        return int(command.main(argv[1:]))
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, summary) in OWN_PARSERS.items():
        commands.add_parser(name, help=summary, add_help=False)

    invoke = commands.add_parser("invoke", help="invoke one function once, like `sam local invoke`")
    invoke.add_argument("function_logical_id")
    invoke.add_argument("-e", "--event", help="event file, or - for stdin (default: {})")
    _common(invoke)

    start_api = commands.add_parser(
        "start-api", help="serve the API routes and poll the queues, like `sam local start-api`"
    )
    start_api.add_argument("-p", "--port", type=int, default=3000)
    start_api.add_argument("--host", default="127.0.0.1")
    start_api.add_argument(
        "--lambda-port", type=int, help="the Lambda API's port, for SDK and CLI invokes (default: -p + 1)"
    )
    start_api.add_argument(
        "--url-port", type=int, help="the first function URL's port, the next ones follow (default: -p + 2)"
    )
    start_api.add_argument(
        "--schedules", action="store_true", help="fire the template's schedules on their clock while it runs"
    )
    start_api.add_argument("--no-watch", action="store_true", help="no hot reload: the code as it was at start")
    _common(start_api)

    start_lambda = commands.add_parser(
        "start-lambda", help="serve the Lambda API's Invoke for boto3 and the AWS CLI, like `sam local start-lambda`"
    )
    start_lambda.add_argument("-p", "--port", type=int, default=3001)
    start_lambda.add_argument("--host", default="127.0.0.1")
    start_lambda.add_argument("--no-watch", action="store_true", help="no hot reload: the code as it was at start")
    _common(start_lambda)

    serve_aws = commands.add_parser(
        "serve-aws", help="only the local AWS (moto) and MySQL, for `sam local invoke --env-vars env.json`"
    )
    serve_aws.add_argument("--host", default="127.0.0.1", help="0.0.0.0 so Docker containers reach it")
    serve_aws.add_argument("--port", type=int, default=5000)
    serve_aws.add_argument("--docker-host", default="host.docker.internal")
    serve_aws.add_argument(
        "--write-env-json",
        type=Path,
        default=Path(".aws-sam/env.json"),
        help="where to write SAM --env-vars for this run (its database, ports, role sessions)",
    )
    _common(serve_aws)

    token = commands.add_parser(
        "token", help="print an access token the local HTTP API's JWT authorizer accepts (for curl)"
    )
    token.add_argument("--sub", required=True, type=_non_empty, help="the customer: the token's subject")
    token.add_argument(
        "--scope", action="append", help="a scope to grant (repeat; default: every scope the routes name)"
    )
    token.add_argument(
        "--expires-in", type=int, default=DEFAULT_TOKEN_LIFETIME_S, help="seconds from now (negative: already expired)"
    )
    token.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (template.yaml)")
    token.add_argument("--parameter-overrides", nargs="*", default=[], help="Key=Value … (as sam)")

    transform = commands.add_parser(
        "transform", help="print the template after the SAM transform, as CloudFormation receives it (JSON)"
    )
    transform.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (template.yaml)")
    transform.add_argument("--parameter-overrides", nargs="*", default=[], help="Key=Value … (as sam)")

    fire = commands.add_parser(
        "fire-schedule", help="run a function's schedule once, as EventBridge runs it (retries, destinations)"
    )
    fire.add_argument("function_logical_id")
    fire.add_argument("--event", help="which schedule event, if the function has more than one")
    fire.add_argument("--time", help="the scheduled time (ISO 8601, default: now)")
    _common(fire)

    rotate = commands.add_parser(
        "rotate-secret", help="rotate a secret once with its RotationSchedule's function, as Secrets Manager does"
    )
    rotate.add_argument("secret_logical_id")
    _common(rotate)

    demo = commands.add_parser("demo", help="drive the whole service end to end and print the books")
    demo.add_argument("--orders", type=int, default=300)
    demo.add_argument("--poison", type=int, default=5)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (template.yaml)")
    demo.add_argument("--parameter-overrides", nargs="*", default=[], help="Key=Value … (as sam)")

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (
        NoMySqlError,
        AppConfigError,
        UsageError,
        TemplateFailedParsingException,
        FunctionConfigError,
        UnsupportedHostError,
        BuildError,
        ScheduleError,
        ServeError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DrainError as error:  # the consumer left work behind: the books cannot balance
        print(f"error: the queue did not drain: {error}", file=sys.stderr)
        return 1


def _debugged(args: argparse.Namespace) -> tuple[str, int] | None:
    """--debug-port's function: named, or the one the command runs, or the template's only one."""
    if args.debug_port is None:
        if args.debug_function is not None:
            raise UsageError("--debug-function needs --debug-port")
        return None
    from workbench.emulator.template import SamApplication

    functions = SamApplication(args.template, parse_parameter_overrides(args.parameter_overrides)).functions
    function = args.debug_function or getattr(args, "function_logical_id", None)
    if function is None and len(functions) == 1:
        (function,) = functions
    if function not in functions:
        known = ", ".join(sorted(functions))
        raise UsageError(f"--debug-port: name the function to debug with --debug-function (one of {known})")
    return function, args.debug_port


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return seconds


def _non_empty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _token(args: argparse.Namespace) -> int:
    """Only the template is read: no local cloud, no MySQL — the issuer's key is the checkout's."""
    from workbench.emulator.authorizer import LocalAuthorizers
    from workbench.emulator.routes import route_scopes
    from workbench.emulator.template import SamApplication

    app = SamApplication(args.template, parse_parameter_overrides(args.parameter_overrides))
    scopes = args.scope if args.scope is not None else route_scopes(app)
    try:
        token = LocalAuthorizers.of_template(app).token(args.sub, scopes, expires_in=args.expires_in)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"scopes: {' '.join(scopes) or '(none)'}; expires in {args.expires_in} s", file=sys.stderr)
    print(token)
    return 0


def _transform(args: argparse.Namespace) -> int:
    """For tools that read CloudFormation, not SAM (cfripper): Globals merged, events and policies expanded."""
    from workbench.emulator.template import SamApplication

    app = SamApplication(args.template, parse_parameter_overrides(args.parameter_overrides))
    print(json.dumps(app.cloudformation, indent=1, default=str))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "token":
        return _token(args)
    if args.command == "transform":
        return _transform(args)
    if args.command == "demo":
        from workbench.scenarios.demo import run_demo

        return run_demo(
            orders=args.orders,
            poison=args.poison,
            seed=args.seed,
            template=args.template,
            parameter_overrides=parse_parameter_overrides(args.parameter_overrides),
        )

    serving_aws = args.command == "serve-aws"
    log_file = args.log_file.open("a", encoding="utf-8") if args.log_file else None
    try:
        outcome = _serve(args, serving_aws, log_file)
    finally:
        if log_file is not None:
            log_file.close()
    if isinstance(outcome, str):  # hot reload of a template: everything it started has stopped; start again
        print(f"restarting: {outcome}", file=sys.stderr)
        os.execv(sys.executable, [sys.executable, "-m", "workbench", *sys.argv[1:]])  # noqa: S606 - ourselves
    return outcome


def _serve(args: argparse.Namespace, serving_aws: bool, log_file: Any) -> int | str:
    """The command's exit code, or why it must start again (a hot reload of the template)."""
    from workbench.emulator.schedules import choose_schedule_event
    from workbench.emulator.service import LocalService, load_env_vars_file
    from workbench.emulator.template import SamApplication

    # Bad input stops before anything starts.
    event = read_event(args.event) if args.command == "invoke" else None
    scheduled_time = _scheduled_time(args.time) if args.command == "fire-schedule" else None
    if args.command in ("invoke", "fire-schedule"):
        functions = SamApplication(args.template, parse_parameter_overrides(args.parameter_overrides)).functions
        if args.function_logical_id not in functions:
            known = ", ".join(sorted(functions)) or "none"
            raise UsageError(f"no function {args.function_logical_id!r} in {args.template.name} (functions: {known})")
        if args.command == "fire-schedule":
            choose_schedule_event(functions[args.function_logical_id], args.event)

    service = LocalService(
        template=args.template,
        parameter_overrides=parse_parameter_overrides(args.parameter_overrides),
        env_vars=load_env_vars_file(args.env_vars),
        trace=args.trace,
        aws_host=args.host if serving_aws else "127.0.0.1",
        aws_port=args.port if serving_aws else 0,
        log_sink=log_file,
        lifecycle=Lifecycle(args.warm, args.idle_timeout),
        debug=_debugged(args),
    )
    with service:
        print(service.describe_database(), file=sys.stderr)
        service.prepare_database()
        if not serving_aws:
            print(f"Environments: {service.lifecycle.describe()}", file=sys.stderr)
            one = [args.function_logical_id] if args.command in ("invoke", "fire-schedule") else None
            for line in service.prepare_environments(one):
                print(line, file=sys.stderr)
        if args.command == "invoke":
            return _invoke(service, args.function_logical_id, event, args.trace)
        if args.command == "rotate-secret":
            return _rotate(service, args.secret_logical_id)
        if args.command == "fire-schedule":
            return _fire(service, args.function_logical_id, args.event, scheduled_time)
        if serving_aws:
            return _serve_aws(service, args.docker_host, args.write_env_json)
        if args.command == "start-lambda":
            from workbench.emulator.lambda_api import serve_lambda_forever

            return serve_lambda_forever(service, args.host, args.port, watch=not args.no_watch) or 0
        from workbench.emulator.api_server import serve_forever

        return (
            serve_forever(
                service,
                args.host,
                args.port,
                lambda_port=args.lambda_port,
                url_port=args.url_port,
                schedules=args.schedules,
                watch=not args.no_watch,
            )
            or 0
        )


def _serve_aws(service: Any, docker_host: str, env_json: Path) -> int:
    import signal
    import threading

    env_json.parent.mkdir(parents=True, exist_ok=True)
    env_json.write_text(json.dumps(service.docker_env_vars(docker_host), indent=2, sort_keys=True) + "\n")
    print(
        f"moto at {service.cloud.endpoint_url}; "
        f"sam local invoke <Function> --env-vars {env_json} -e events/<file>. Ctrl-C to stop.",
        file=sys.stderr,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    return 0


def _scheduled_time(text: str | None) -> Any:
    import datetime as dt

    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--time {text!r} is not an ISO 8601 time (e.g. 2026-12-02T00:15:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _fire(service: Any, function: str, event_name: str | None, scheduled_time: Any) -> int:
    """One scheduled run: the attempts EventInvokeConfig allows, then its destination."""
    from workbench.emulator.schedules import Schedule

    run = Schedule(service, function, event_name).fire(scheduled_time)
    for number, attempt in enumerate(run.attempts, 1):
        outcome = "ok" if attempt.error is None else f"failed: {attempt.error.get('errorMessage')}"
        print(f"{function} attempt {number}: {outcome} ({attempt.duration_ms:.0f} ms)", file=sys.stderr)
    if run.sent_to_failure_destination:
        print(f"{function}: retries exhausted, sent to its on-failure destination", file=sys.stderr)
    elif run.destination_arn is not None:
        print(f"{function}: its record sent to its on-success destination", file=sys.stderr)
    print(json.dumps(run.attempts[-1].response))
    return 0 if run.attempts[-1].error is None else 1


def _rotate(service: Any, secret: str) -> int:
    from workbench.emulator.rotation import STEPS, rotate

    try:
        run = rotate(service, secret)
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    for step, invocation in zip(STEPS, run.invocations, strict=False):
        outcome = "ok" if invocation.error is None else f"failed: {invocation.error.get('errorMessage')}"
        print(f"{secret} version {run.token}: {step} {outcome} ({invocation.duration_ms:.0f} ms)", file=sys.stderr)
    print(f"{secret}: {'rotated' if run.completed else 'not rotated (AWSPENDING left, as Secrets Manager leaves it)'}")
    return 0 if run.completed else 1


def _invoke(service: Any, logical_id: str, event: Any, trace: bool) -> int:
    from workbench.emulator.lambda_api import LocalLambdaApi

    print(f"Execution environments: {service.emulation.describe()}", file=sys.stderr)
    try:
        with LocalLambdaApi(service, quiet=True):  # a function that invokes another through the SDK reaches it
            invocation = service.pool(logical_id).invoke(event)
    except RequestTooLargeError as error:  # what `aws lambda invoke` prints for it; the function never ran
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ThrottledError as error:  # the Invoke API's 429: nothing ran
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not service.pool(logical_id).spec.log_config.platform_records_kept:  # its log stream has no REPORT: say it
        print(invocation.report_line(), file=sys.stderr)
    if trace and service.traces is not None:
        service.traces.settle()  # UDP: let the last segments land
        title = f"{logical_id} — trace {invocation.trace_id} — {invocation.duration_ms:.1f} ms"
        print(service.traces.tree(invocation.trace_id, title), file=sys.stderr)
    print(json.dumps(invocation.response))
    return 0
