"""A SAM application running locally: MySQL, moto provisioned from the template, function pools."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

from sam_testkit.db_proxy import CountingRelay
from sam_testkit.run_scope import stop_cleanly_on_sigterm
from workbench.emulator.app_config import AppConfig
from workbench.emulator.authorizer import LocalAuthorizers
from workbench.emulator.build import LocalBuild
from workbench.emulator.cloud import DatabaseEndpoint, LocalCloud
from workbench.emulator.environment import (
    Emulation,
    FunctionConfigError,
    FunctionPool,
    Lifecycle,
    check_environment_size,
    say_once,
)
from workbench.emulator.host import Host
from workbench.emulator.mysql_server import LocalMySql
from workbench.emulator.template import DEFAULT_TEMPLATE, FunctionSpec, SamApplication
from workbench.emulator.xray import TraceCollector

_LOCAL_ONLY = {
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "POWERTOOLS_TRACE_DISABLED",
}
DEFAULT_MAX_ENVIRONMENTS = 10
# What makes a run start MySQL (unless the application says otherwise: emulator/app_config.py).
DATABASE_RESOURCE_TYPES = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::RDS::DBProxy")
_T = TypeVar("_T")


class NoDatabaseError(RuntimeError):
    """Something asked for the run's database, and the template declares none."""


def load_env_vars_file(path: Path | None) -> dict[str, dict[str, str]]:
    """SAM's --env-vars format: {"Parameters": {...all functions...}, "<LogicalId>": {...}}."""
    if path is None:
        return {}
    document = json.loads(path.read_text())
    return {key: {k: str(v) for k, v in values.items()} for key, values in document.items()}


def log_group_of(template: dict[str, Any], function: str) -> str:
    """A function's log group: the one its LoggingConfig names (a logical id), or Lambda's default for it."""
    group = template["Resources"][function]["Properties"].get("LoggingConfig", {}).get("LogGroup")
    return str(group["Ref"]) if isinstance(group, dict) and "Ref" in group else f"/aws/lambda/{function}"


def log_file_name(group: str) -> str:
    """A log group's file in a log_dir: its logical id, or its name with / as ."""
    return f"{group.strip('/').replace('/', '.')}.log"


class LocalService:
    def __init__(
        self,
        *,
        template: Path = DEFAULT_TEMPLATE,
        parameter_overrides: dict[str, str] | None = None,
        env_vars: dict[str, dict[str, str]] | None = None,
        trace: bool = False,
        log_sink: IO[str] | None = None,
        log_dir: Path
        | None = None,  # a file per log group, as CloudWatch keeps them (the functions', an API's access log)
        aws_host: str = "127.0.0.1",
        aws_port: int = 0,
        emulation: Emulation | None = None,
        lifecycle: Lifecycle | None = None,
        debug: tuple[str, int] | None = None,  # (function, port): that function's environment under debugpy
    ) -> None:
        self.debug = debug
        Host.this().check()  # a host that cannot run the functions is told so before anything starts
        self.emulation = emulation or Emulation.from_environment()
        self.lifecycle = lifecycle or Lifecycle()
        stop_cleanly_on_sigterm()  # close() must run: the MySQL server is shared
        self._mysql: LocalMySql | None = None
        self._database: DatabaseEndpoint | None = None
        self._database_proxy: CountingRelay | None = None
        try:
            self._start(template, parameter_overrides, aws_host, aws_port)
        except BaseException:  # a run that cannot start still drops what it made on the shared server
            self._release()
            raise
        self.authorizers = LocalAuthorizers(self.app, self.cloud.resolve)  # the HTTP API's, and tokens for them
        self.env_vars = env_vars or {}
        self.traces = TraceCollector() if trace else None
        self.log_sink = log_sink
        self.log_dir = log_dir
        self._log_files: dict[str, IO[str]] = {}
        self._log_files_lock = threading.Lock()
        self.pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()

    def _start(self, template: Path, parameter_overrides: dict[str, str] | None, aws_host: str, aws_port: int) -> None:
        self.config = AppConfig.beside(template)
        self.app = SamApplication(template, parameter_overrides)
        functions_database: DatabaseEndpoint | None = None
        declares_rds = any(self.app.resources_of_type(kind) for kind in DATABASE_RESOURCE_TYPES)
        if self.config.wants_database(declares_rds):
            functions_database = self._start_database(template, aws_host)
        else:
            self.config.check_without_database()
        self.build = LocalBuild(self.app)
        self.build.sam_build()
        say_once(self.build.native_note)
        self.cloud = LocalCloud(
            self.app,
            functions_database,
            self._mysql.scope if self._mysql else None,
            host=aws_host,
            port=aws_port,
            local_environment=self.config.local_environment,
        )
        self.cloud.start()
        for logical_id in self.app.functions:  # what CreateFunction refuses, refused before anything runs
            check_environment_size(logical_id, self.cloud.template_variables(logical_id))

    def _start_database(self, template: Path, aws_host: str) -> DatabaseEndpoint:
        """This run's database on the (shared) MySQL, reached by the functions as through RDS Proxy."""
        self._mysql = LocalMySql()
        name = self.config.database_parameter
        if name and name not in self.app.parameter_overrides:  # this run's own, unless chosen on purpose
            database = self._mysql.scope.database(self.app.parameters.get(name) or "db")
            self.app = SamApplication(template, {**self.app.parameter_overrides, name: database})
        database = str(self.app.parameters[name]) if name else self._mysql.scope.database("db")
        self._database = self._mysql.prepare(database)
        # The functions reach MySQL as through RDS Proxy: by a relay that counts this run's connections.
        self._database_proxy = CountingRelay((self._database.host, self._database.port), host=aws_host)
        proxy_host = "127.0.0.1" if aws_host in ("0.0.0.0", "") else aws_host  # noqa: S104 - what was bound
        return dataclasses.replace(self._database, host=proxy_host, port=self._database_proxy.port)

    @property
    def mysql(self) -> LocalMySql:
        """The admin side of this run's MySQL (its scope, its SQL)."""
        return self._require(self._mysql)

    @property
    def database(self) -> DatabaseEndpoint:
        """This run's database and master user, on the MySQL server itself."""
        return self._require(self._database)

    @property
    def database_proxy(self) -> CountingRelay:
        """What the functions connect to: the relay standing in for RDS Proxy, counting connections."""
        return self._require(self._database_proxy)

    def _require(self, value: _T | None) -> _T:
        if value is None:
            raise NoDatabaseError(f"this run has no database: {self._why_no_database()}")
        return value

    def environment(self, logical_id: str) -> dict[str, str]:
        variables = self.cloud.function_environment(logical_id)
        if self.traces is not None:
            variables["AWS_XRAY_DAEMON_ADDRESS"] = self.traces.address
            variables["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        else:
            variables["POWERTOOLS_TRACE_DISABLED"] = "true"  # no daemon to send segments to
        variables.update(self.env_vars.get("Parameters", {}))
        variables.update(self.env_vars.get(logical_id, {}))
        return variables

    def pool(self, logical_id: str) -> FunctionPool:
        if logical_id not in self.app.functions:
            known = ", ".join(sorted(self.app.functions))
            raise KeyError(f"no function {logical_id!r} in {self.app.template_path.name} (functions: {known})")
        with self._pools_lock:  # concurrent first requests must share one pool (two would lose invocations)
            if logical_id not in self.pools:
                self.pools[logical_id] = self._new_pool(logical_id)
            return self.pools[logical_id]

    def rebuild(self) -> set[str]:
        """After the code changed: build it again (what did not change comes from the build's cache) and retire
        the environments of the functions whose code changed; returns those functions."""
        with self._pools_lock:
            pools = dict(self.pools)
        in_use = {folder for pool in pools.values() for folder in pool.builds_in_use()}
        changed = self.build.rebuild(in_use)
        for name, pool in pools.items():
            spec = self._spec(name)
            if name in changed:
                pool.retire(spec)
            else:  # the same code, in the new build: its warm environments stay
                pool.spec = spec
        return changed

    def _new_pool(self, logical_id: str) -> FunctionPool:
        snapstart = self.cloud.applied(self.app.cloudformation["Resources"][logical_id]["Properties"].get("SnapStart"))
        provisioned = self._provisioned(logical_id)
        if provisioned > self._host_limit(logical_id):
            raise FunctionConfigError(
                f"{logical_id}: provisions {provisioned} environments; this host runs at most "
                f"{self._host_limit(logical_id)} of a function (ParameterOverrides can lower it locally)"
            )
        debug_port = self.debug[1] if self.debug is not None and self.debug[0] == logical_id else None
        if debug_port is not None:
            say_once(
                f"{logical_id}: under debugpy on 127.0.0.1:{debug_port}; its environment waits for a client at INIT, "
                f"one at a time, INIT and invocation timeouts suspended; pathMappings remoteRoot: "
                f"{self._spec(logical_id).code_dir}"
            )
            snapstart = False  # a debugger in a snapshot would be forked into every environment
            provisioned = min(provisioned, 1)  # one port: one environment
        return FunctionPool(
            self._spec(logical_id),
            self.environment(logical_id),
            max_environments=1 if debug_port is not None else self._host_limit(logical_id),
            reserved_concurrency=self._reserved(logical_id),
            log_sink=self._function_log(logical_id),
            emulation=self.emulation,
            snapstart=bool(snapstart),  # INIT once, environments restored from its snapshot
            provisioned=provisioned,
            lifecycle=self.lifecycle,
            debug_port=debug_port,
        )

    def _spec(self, logical_id: str) -> FunctionSpec:
        """The function as built; run from a path that outlives rebuilds when it is the one debugged."""
        function = self.app.functions[logical_id]
        debugged = self.debug is not None and self.debug[0] == logical_id
        return self.build.debug_spec(function) if debugged else self.build.spec(function)

    def _provisioned(self, logical_id: str) -> int:
        """Its aliases' ProvisionedConcurrentExecutions: environments Lambda initialises before traffic."""
        configs = [
            self.cloud.applied(alias["Properties"].get("ProvisionedConcurrencyConfig"))
            for alias in self.app.resources_of_type("AWS::Lambda::Alias").values()
            if alias["Properties"].get("FunctionName") == {"Ref": logical_id}
        ]
        return sum(int(self.cloud.resolve(c["ProvisionedConcurrentExecutions"])) for c in configs if c)

    def prepare_environments(self, functions: Iterable[str] | None = None) -> list[str]:
        """Before traffic: each function's provisioned environments (and, `--warm eager`, one of each other
        function), INIT run as Lambda runs it for them; one line per function that has some."""
        said = []
        for name in self.app.functions if functions is None else functions:
            started = self.pool(name).prepare()
            if started:
                inits = ", ".join(f"{e.init_duration_ms:.0f} ms" for e in started if e.init_duration_ms is not None)
                kind, how = (
                    ("provisioned", "at the CPU its memory buys, as Lambda runs a provisioned INIT")
                    if self.pool(name).provisioned
                    else ("eager (on-demand)", "as an on-demand INIT")
                )
                said.append(f"{name}: {len(started)} {kind} environments initialised before traffic, {how} ({inits})")
        return said

    def _reserved(self, logical_id: str) -> int | None:
        """ReservedConcurrentExecutions, where Lambda throttles (0: every invocation)."""
        reserved = self.cloud.applied(
            self.app.cloudformation["Resources"][logical_id]["Properties"].get("ReservedConcurrentExecutions")
        )
        return None if reserved is None else int(self.cloud.resolve(reserved))  # a number, or a parameter's

    def _host_limit(self, logical_id: str) -> int:
        """How many environments this host runs at once: beyond, invocations wait (Lambda would start more)."""
        reserved = self._reserved(logical_id)
        if reserved is not None and reserved > DEFAULT_MAX_ENVIRONMENTS:
            say_once(
                f"{logical_id}: reserves {reserved}; this host runs at most {DEFAULT_MAX_ENVIRONMENTS} environments "
                "of a function, and further invocations wait for one instead of starting more"
            )
        return max(1, min(reserved if reserved is not None else DEFAULT_MAX_ENVIRONMENTS, DEFAULT_MAX_ENVIRONMENTS))

    def prepare_database(self, seed: bool = True) -> None:
        """What the application says runs after start (`[tool.workbench]`, emulator/app_config.py):
        its functions invoked in order (a deploy's migration), then its SQL loaded into this run's database."""
        for function in self.config.after_start:
            invocation = self.pool(function).invoke({})
            if invocation.error:
                raise RuntimeError(f"{function}, run after start, failed: {invocation.error}")
        for sql in self.config.seed_sql if seed else ():  # none without a database (AppConfig checked)
            self.mysql.load_sql(self.database.database, sql)

    def docker_env_vars(self, docker_host: str) -> dict[str, dict[str, str]]:
        """`sam local invoke --env-vars` for functions in Docker: this moto and this MySQL, seen from a container."""
        local = self.cloud.endpoint_url.split("//")[1].split(":")[0]
        document: dict[str, dict[str, str]] = {}
        for logical_id in self.app.functions:
            variables = self.environment(logical_id)
            document[logical_id] = {
                key: value.replace(local, docker_host)  # a variable that holds the local address carries a host
                for key, value in variables.items()
                if key in set(self.app.functions[logical_id].raw_environment) | _LOCAL_ONLY
            }
            for key, value in list(document[logical_id].items()):
                if ":secretsmanager:" in value and ":secret:" in value:  # by name: its ARN ends in a random suffix
                    document[logical_id][key] = value.split(":secret:", 1)[1].rsplit("-", 1)[0]
            document[logical_id]["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon beside `sam local`
        return document

    def describe_database(self) -> str:
        """What this run made on the (shared) MySQL server, to say when it starts; all dropped when it ends."""
        if self._mysql is None:
            return f"no database: {self._why_no_database()}, so no MySQL is used"
        users = ", ".join([self.database.username, *self.cloud.database_users.values()])
        reached = self.cloud.database
        assert reached is not None  # the cloud has the database this service started
        return (
            f"MySQL at {self.database.host}:{self.database.port}"
            f"{' (started for this run)' if self.mysql.started_here else ''}, this run's database "
            f"{self.database.database} and users {users}, reached through a local proxy at "
            f"{reached.host}:{reached.port}"
        )

    def _why_no_database(self) -> str:
        if self.config.database == "none":
            return f'{self.config.source} [tool.workbench] says database = "none"'
        return f"{self.app.template_path.name} declares no RDS resource ({', '.join(DATABASE_RESOURCE_TYPES)})"

    def queue_url(self, logical_id: str) -> str:
        return str(self.cloud.symbols[logical_id]["QueueUrl"])

    def _function_log(self, logical_id: str) -> IO[str] | None:
        """Where a function's environments write: its log group's file with a log_dir, else the shared sink."""
        return self.log_file(log_group_of(self.app.cloudformation, logical_id)) if self.log_dir else self.log_sink

    def log_file(self, group: str) -> IO[str] | None:
        """The file of a log group (its logical id, or /aws/lambda/<function> for a function's default group)."""
        if self.log_dir is None:
            return None
        with self._log_files_lock:
            if group not in self._log_files:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                path = self.log_dir / log_file_name(group)
                self._log_files[group] = path.open("a", buffering=1)  # line-buffered: a line is one event
            return self._log_files[group]

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        if self.traces is not None:
            self.traces.close()
        for log in self._log_files.values():
            log.close()
        self._release()

    def _release(self) -> None:
        """Stop what _start() started, as far as it got; drop this run's database and users."""
        if hasattr(self, "cloud"):
            self.cloud.stop()
        if self._database_proxy is not None:
            self._database_proxy.close()
        if self._mysql is not None:
            self._mysql.close()

    def __enter__(self) -> LocalService:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
