"""`python -m lab bench [--quick]`, `tune FN EVENT [--memory …]`, `cost [profile.json]`, `sqs`, `proxy`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local_runner.template import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parser = argparse.ArgumentParser(prog="python -m lab")
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="every optimization against its naive twin")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions; counts stay exact (CI)")
    bench.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    cost = commands.add_parser("cost", help="monthly cost per memory size, x86 vs arm64, on-demand vs PC")
    cost.add_argument("profile", type=Path, nargs="?", default=PROJECT_ROOT / "lab" / "traffic_profile.json")
    cost.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    commands.add_parser(
        "tune", help="local AWS Lambda Power Tuning: one function, one event, memory sizes", add_help=False
    )
    argv = sys.argv[1:] if argv is None else argv
    commands.add_parser("sqs", help="SQS call cost against the local cloud as the queue grows", add_help=False)
    commands.add_parser("proxy", help="what the local proxy adds to a MySQL query and connect", add_help=False)
    if argv[:1] == ["proxy"]:
        from lab.db_proxy_cost import main as proxy_main

        return proxy_main(argv[1:])
    if argv[:1] == ["sqs"]:
        from lab.sqs_depth import main as sqs_main

        return sqs_main(argv[1:])
    if argv[:1] == ["tune"]:
        from lab.tune import main as tune_main

        return tune_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "bench":
        from lab.report import run_bench

        return run_bench(quick=args.quick, out_dir=args.out)
    from lab.cost import main as cost_main

    return cost_main(args.profile, args.out)


if __name__ == "__main__":
    sys.exit(main())
