"""A local AWS: a moto server on a loopback port, with every resource the template declares.

Resources are created from the translated template itself (queues with their redrive policies,
tables with their keys and indexes, secrets, buckets, topics, SSM parameters), and every request the functions make
is counted at the server, by operation — the way a bill or CloudTrail would see them.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable

from sam_testkit.run_scope import RunScope
from workbench.emulator.aws_server import COUNTS_PATH, ERRORS_PATH, LAMBDA_ROUTE_PATH, ROTATION_PATH
from workbench.emulator.environment import say_once
from workbench.emulator.iam import ADMIN_ACCESS_KEY, LOCAL_REST_SERVICES, REPORT_PATH, TARGET_PREFIXES
from workbench.emulator.template import PROJECT_ROOT, SamApplication

ACCOUNT_ID = DEFAULT_ACCOUNT_ID  # the account moto's backends (and so every ARN the local cloud makes) are in
STACK_NAME = "sam-local"  # local resources are named "<stack>-<LogicalId>", as the names CloudFormation gives
LOCAL_SERVICES = {*TARGET_PREFIXES.values(), *LOCAL_REST_SERVICES}  # what the functions call; IAM judges each
# The runner's own calls (provisioning, the event sources' emulation devices, tests' inspection):
# the local cloud lets this key do anything; every function calls as its role (emulator/iam.py).
ADMIN_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def start_aws_server(
    host: str, port: int, environment: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """moto in its own process (emulator/aws_server.py); returns it and the port it listens on."""
    server = subprocess.Popen(  # noqa: S603 - our own server module
        [sys.executable, "-m", "workbench.emulator.aws_server", host, str(port)],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, int(server.stdout.readline())


class RequestCounts:
    """The AWS calls counted by the moto server, by "service.Operation"."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def snapshot(self) -> dict[str, int]:
        return self._read(COUNTS_PATH)

    def server_errors(self) -> dict[str, int]:
        """The 5xx the local cloud answered, by operation: each one is a fault of the emulation."""
        return self._read(ERRORS_PATH)

    def _read(self, path: str) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.endpoint_url}{path}", timeout=10) as response:  # noqa: S310
            return {str(k): int(v) for k, v in json.loads(response.read()).items()}


@dataclass
class RoleUsage:
    """One function's execution role as the local cloud saw it used."""

    function: str
    role: str
    calls: dict[str, int]  # allowed checks by action
    denied: list[dict[str, str]]  # the first denials: session, action, resource
    denied_count: int
    unused: list[dict[str, Any]]  # Allow statements' actions never used: policy, statement, actions, resources
    conditions_not_evaluated: list[str]

    def never_used(self, labels: dict[str, str]) -> dict[str, list[str]]:
        """Allowed actions no call used, by policy (its template name where `labels` has one).

        Only services the local cloud serves: logs, ENIs and X-Ray are used by Lambda itself.
        """
        unused: dict[str, list[str]] = {}
        for statement in self.unused:
            actions = [a for a in statement["actions"] if a.split(":")[0] in LOCAL_SERVICES]
            if actions:
                unused.setdefault(labels.get(statement["policy"], statement["policy"]), []).extend(actions)
        return unused


@dataclass
class DatabaseEndpoint:
    """Where the functions' MySQL really is, and the credentials the secret should hold."""

    host: str
    port: int
    username: str
    password: str
    database: str
    tls: bool


class LocalCloud:
    """moto in its own process, provisioned from the template; `symbols` resolves Ref/GetAtt to local values."""

    def __init__(
        self,
        app: SamApplication,
        database: DatabaseEndpoint | None,
        run_scope: RunScope | None,
        stack_name: str = STACK_NAME,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        local_environment: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.local_environment = local_environment or {}  # the application's [tool.workbench.local-environment]
        self.host = host
        self.port = port
        self.database = database  # None: the run has no database (no RDS resource in the template)
        self.run_scope = run_scope
        self.stack_name = stack_name
        self._server: subprocess.Popen[str] | None = None
        self._port = 0
        self.symbols: dict[str, dict[str, Any]] = {}
        self.role_credentials: dict[str, dict[str, str]] = {}  # per function: its role's session
        self.role_names: dict[str, str] = {}  # per function: its role's name in the local cloud
        self.policy_labels: dict[str, str] = {}  # inline policy name → the template's (DynamoDBReadPolicy, …)
        self.database_users: dict[str, str] = {}  # secret logical id → the MySQL user it names (not the master)

    # ---------------------------------------------------------------- server
    def start(self) -> LocalCloud:
        self._server, self._port = start_aws_server(self.host, self.port)
        self.requests = RequestCounts(self.endpoint_url)
        self.provision()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=10)
            self._server = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._port}"

    def client(self, service: str, *, as_function: str | None = None) -> Any:
        """A client of the local cloud: the administrator's, or `as_function`'s execution role's."""
        credentials = self.role_credentials.get(as_function or "", ADMIN_CREDENTIALS)
        return boto3.session.Session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
            region_name=self.app.region,
        ).client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def secret_rotation(self, secret: str, **change: str) -> None:
        """What Secrets Manager does to a secret itself (emulator/aws_server.py, `secret_rotation`)."""
        body = json.dumps({"secret": str(self.symbols[secret]["Ref"]), **change}).encode()
        request = urllib.request.Request(f"{self.endpoint_url}{ROTATION_PATH}", data=body, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - the local cloud
            pass

    def iam_report(self) -> dict[str, RoleUsage]:
        """Per function: what its role was allowed, denied and never used (emulator/iam.py)."""
        with urllib.request.urlopen(f"{self.endpoint_url}{REPORT_PATH}", timeout=10) as response:  # noqa: S310
            roles = json.loads(response.read())["roles"]
        return {function: RoleUsage(function, role, **roles[role]) for function, role in self.role_names.items()}

    # ---------------------------------------------------------------- resources
    def provision(self) -> None:
        """Create what the functions call at run time; everything else is only given a local name."""
        self.symbols.update(local_names(self.app, self.stack_name))
        queues = self.app.resources_of_type("AWS::SQS::Queue")
        for logical_id in _dead_letter_queues_first(queues):
            self._create_queue(logical_id, queues[logical_id]["Properties"])
        for logical_id, table in self.app.resources_of_type("AWS::DynamoDB::Table").items():
            self._create_table(logical_id, table["Properties"])
        for logical_id, bucket in self.app.resources_of_type("AWS::S3::Bucket").items():
            self._create_bucket(logical_id, bucket["Properties"])
        for logical_id, topic in self.app.resources_of_type("AWS::SNS::Topic").items():
            self._create_topic(logical_id, topic["Properties"])
        for logical_id, parameter in self.app.resources_of_type("AWS::SSM::Parameter").items():
            self._create_parameter(logical_id, parameter["Properties"])
        master = {
            attachment["Properties"]["SecretId"].get("Ref")
            for attachment in self.app.resources_of_type("AWS::SecretsManager::SecretTargetAttachment").values()
            if attachment["Properties"].get("TargetType") == "AWS::RDS::DBCluster"
        }
        for logical_id, secret in self.app.resources_of_type("AWS::SecretsManager::Secret").items():
            self._create_secret(logical_id, secret["Properties"], master=logical_id in master)
        if self.database is not None:
            self._point_database_resources(self.database)
        for logical_id, group in self.app.resources_of_type("AWS::Logs::LogGroup").items():
            if "LogGroupName" in group["Properties"]:  # its Ref is the name it declares
                self.symbols[logical_id]["Ref"] = str(self.resolve(group["Properties"]["LogGroupName"]))
        for logical_id in self.app.functions:
            self._name_function(logical_id)
            self._create_execution_role(logical_id)
        for rotated, function in rotation_schedules(self.app).items():  # what creating the schedule does
            self.secret_rotation(rotated, function=str(self.symbols[function]["Arn"]))
            say_once(
                f"{rotated}: rotated by {function} on a schedule in AWS, not here; "
                f"`workbench rotate-secret {rotated}` runs one rotation as Secrets Manager does"
            )

    def _point_database_resources(self, database: DatabaseEndpoint) -> None:
        """The cluster's and the proxy's endpoints are the local MySQL's (through its relay)."""
        for logical_id in self.app.resources_of_type("AWS::RDS::DBProxy"):
            self.symbols[logical_id]["Endpoint"] = database.host
        for logical_id, cluster in self.app.resources_of_type("AWS::RDS::DBCluster").items():
            self.symbols[logical_id]["Endpoint.Address"] = database.host
            self.symbols[logical_id]["Endpoint.Port"] = str(database.port)
            if self.applied(cluster["Properties"].get("ManageMasterUserPassword")) in (True, "true"):
                self._create_managed_master_secret(logical_id)

    def _name_function(self, logical_id: str) -> None:
        """Its Ref is its FunctionName, or the name CloudFormation would give it; its Arn follows."""
        declared = self.app.cloudformation["Resources"][logical_id]["Properties"].get("FunctionName")
        name = str(self.resolve(declared)) if declared else f"{self.stack_name}-{logical_id}"
        self.symbols[logical_id] = {"Ref": name, "Arn": self._arn("lambda", f"function:{name}")}

    def function_name(self, logical_id: str) -> str:
        return str(self.symbols[logical_id]["Ref"])

    def route_lambda(self, endpoint_url: str | None) -> None:
        """Where the functions' Lambda Invoke calls go once their role allows them (None: nowhere)."""
        body = json.dumps({"url": endpoint_url}).encode()
        request = urllib.request.Request(f"{self.endpoint_url}{LAMBDA_ROUTE_PATH}", data=body, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - the local cloud
            pass

    def _create_execution_role(self, function: str) -> None:
        """The function's role as the translated template declares it, and temporary credentials of it.

        Each environment calls the local cloud as its own role, as on Lambda, and the local cloud
        authorises every call against the role's policies (emulator/iam.py).
        """
        role_ref = self.app.cloudformation["Resources"][function]["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            return
        role_id = role_ref["Fn::GetAtt"][0]
        properties = self.app.cloudformation["Resources"][role_id]["Properties"]
        iam = self.client("iam")
        name = f"{self.stack_name}-{role_id}"[:64]
        arn = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"])
        )["Role"]["Arn"]
        self.symbols[role_id] = {"Ref": name, "Arn": arn}
        declared = self.app.sam_template["Resources"][function]["Properties"].get("Policies", [])
        for index, entry in enumerate(declared if isinstance(declared, list) else [declared]):
            entry = self.applied(entry)  # an entry inside !If: the branch its condition picks, or none
            if isinstance(entry, dict):  # SAM names the inline policy of Policies[i] "<Role>Policy<i>"
                kind = next(iter(entry))  # a policy template's name, or an inline "Statement"
                label = f"Policies[{index}] {kind}" if kind == "Statement" else kind
                self.policy_labels[f"{role_id}Policy{index}"] = label
        inline = [self.applied(policy) for policy in properties.get("Policies", [])]
        for policy in [*(p for p in inline if p is not None), *self._policies_attached_to(role_id)]:
            document = self.resolve(policy["PolicyDocument"])
            document.setdefault("Version", "2012-10-17")  # SAM's expanded policy templates carry none
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
        managed_arns = [self.applied(arn) for arn in properties.get("ManagedPolicyArns", [])]
        for managed in (str(self.resolve(arn)) for arn in managed_arns if arn is not None):
            try:
                iam.attach_role_policy(RoleName=name, PolicyArn=managed)
            except iam.exceptions.NoSuchEntityException:  # a managed policy newer than moto's copy
                say_once(f"{function}: {managed} is unknown to this moto, so not attached: its actions are denied")
        credentials = self.client("sts").assume_role(RoleArn=arn, RoleSessionName=function)["Credentials"]
        self.role_names[function] = name
        self.role_credentials[function] = {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def _policies_attached_to(self, role_id: str) -> list[dict[str, Any]]:
        """The template's AWS::IAM::Policy resources that name this role, those whose Condition holds."""
        attached = []
        for policy in self.app.resources_of_type("AWS::IAM::Policy").values():
            condition = policy.get("Condition")
            if condition is not None and self.resolve({"Fn::If": [condition, "yes", "no"]}) != "yes":
                continue  # CloudFormation would not create it
            if {"Ref": role_id} in policy["Properties"].get("Roles", []):
                attached.append(policy["Properties"])
        return attached

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.app.region}:{ACCOUNT_ID}:{resource}"

    def _create_queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = f"{self.stack_name}-{logical_id}"
        attributes: dict[str, str] = {
            key: str(properties[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
            if key in properties
        }
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(self.resolve(properties["RedrivePolicy"]))
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.symbols[logical_id] = {"Ref": url, "Arn": self._arn("sqs", name), "QueueName": name, "QueueUrl": url}

    def _create_table(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = f"{self.stack_name}-{logical_id}"
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if properties.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        self.client("dynamodb").create_table(**request)
        self.symbols[logical_id] = {"Ref": name, "Arn": self._arn("dynamodb", f"table/{name}")}

    def _create_bucket(self, logical_id: str, properties: dict[str, Any]) -> None:
        """A bucket by its declared name, else a local one (lower case: S3's rule for names)."""
        name = str(self.resolve(properties.get("BucketName", f"{self.stack_name}-{logical_id}".lower())))
        self.client("s3").create_bucket(Bucket=name)
        self.symbols[logical_id] = {
            "Ref": name,
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.app.region}.amazonaws.com",
        }

    def _create_topic(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = str(self.resolve(properties.get("TopicName", f"{self.stack_name}-{logical_id}")))
        arn = str(self.client("sns").create_topic(Name=name)["TopicArn"])
        self.symbols[logical_id] = {"Ref": arn, "TopicArn": arn, "TopicName": name}

    def _create_parameter(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = str(self.resolve(properties.get("Name", f"{self.stack_name}-{logical_id}")))
        value = str(self.resolve(properties.get("Value", "")))
        self.client("ssm").put_parameter(Name=name, Value=value, Type=str(properties.get("Type", "String")))
        self.symbols[logical_id] = {"Ref": name, "Type": str(properties.get("Type", "String")), "Value": value}

    def _create_secret(self, logical_id: str, properties: dict[str, Any], *, master: bool) -> None:
        """The cluster's master secret holds the local MySQL user's credentials; any other secret is
        generated as CloudFormation would (GenerateSecretString), its username named by this run's scope
        (one MySQL server serves every local run), so the run drops the user when it ends."""
        if master and self.database is not None:
            secret = self._master_credentials(self.database)
        else:
            generate = properties.get("GenerateSecretString", {})
            secret = json.loads(generate.get("SecretStringTemplate", "{}"))
            secret[generate.get("GenerateStringKey", "password")] = secrets.token_urlsafe(24)
            if "username" in secret and self.run_scope is not None:  # a MySQL user: named by this run
                secret["username"] = self.run_scope.name(secret["username"])
                self.database_users[logical_id] = secret["username"]
        arn = self._store_secret(f"{self.stack_name}/{logical_id}", secret)
        self.symbols[logical_id] = {"Ref": arn, "Arn": arn, "Id": arn}

    def _create_managed_master_secret(self, cluster: str) -> None:
        """ManageMasterUserPassword: RDS keeps the master credentials in a secret of its own (rds!cluster-…,
        {"username", "password"}); here they are the local MySQL user's. RDS rotates it every 7 days: not here."""
        assert self.database is not None  # only provisioned with a database
        arn = self._store_secret(f"rds!cluster-{self.stack_name}-{cluster}", self._master_credentials(self.database))
        self.symbols[cluster]["MasterUserSecret.SecretArn"] = arn
        say_once(f"{cluster}: its RDS-managed master secret holds the local MySQL user; RDS's rotation is not emulated")

    @staticmethod
    def _master_credentials(database: DatabaseEndpoint) -> dict[str, str]:
        return {"username": database.username, "password": database.password}

    def _store_secret(self, name: str, document: dict[str, Any]) -> str:
        return str(self.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(document))["ARN"])

    # ---------------------------------------------------------------- intrinsics
    def resolve(self, value: Any) -> Any:
        """Resolve Ref, GetAtt, Sub, If, … against the local resources, with SAM CLI's own resolver."""
        return resolve_intrinsics(self.app, self.symbols, self.stack_name, value)

    def applied(self, value: Any) -> Any:
        """A property as CloudFormation applies it: a top-level Fn::If decided, AWS::NoValue as None."""
        return applied(value, self.resolve)

    def template_variables(self, logical_id: str) -> dict[str, str]:
        """The function's Environment.Variables as the template declares them, resolved to local resources."""
        return {key: str(value) for key, value in self.resolve(self.app.functions[logical_id].raw_environment).items()}

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The function's Environment.Variables, resolved to local resources, plus where AWS is."""
        spec = self.app.functions[logical_id]
        variables = self.template_variables(logical_id)
        local = (
            {
                "database_host": self.database.host,
                "database_port": str(self.database.port),
                "database_tls": str(self.database.tls).lower(),
            }
            if self.database is not None
            else {}  # no placeholder is left to fill without a database (AppConfig.check_without_database)
        )
        for name, value in self.local_environment.items():
            if name in variables:  # a function that has no such variable is not given one
                variables[name] = value.format(**local)
        credentials = self.role_credentials.get(logical_id, ADMIN_CREDENTIALS)  # no role: a template's own Role ARN
        logging = self.app.cloudformation["Resources"][logical_id]["Properties"].get("LoggingConfig", {})
        log_group = (
            {"AWS_LAMBDA_LOG_GROUP_NAME": str(self.resolve(logging["LogGroup"]))} if "LogGroup" in logging else {}
        )
        platform = spec.log_config.variables() | log_group  # what Lambda sets from LoggingConfig
        return variables | platform | credentials | {"AWS_ENDPOINT_URL": self.endpoint_url}


def rotation_schedules(app: SamApplication) -> dict[str, str]:
    """Each RotationSchedule's secret (logical id) -> the template function that rotates it."""
    schedules: dict[str, str] = {}
    for schedule in app.resources_of_type("AWS::SecretsManager::RotationSchedule").values():
        properties = schedule["Properties"]
        function = properties.get("RotationLambdaARN", {}).get("Fn::GetAtt", [None])[0]
        secret = properties.get("SecretId", {}).get("Ref")
        if function in app.functions and secret:
            schedules[secret] = function
    return schedules


def local_names(app: SamApplication, stack_name: str = STACK_NAME) -> dict[str, dict[str, Any]]:
    """Every resource's Ref before anything is created: its local name (provisioning adds ARNs, URLs)."""
    return {logical_id: {"Ref": f"{stack_name}-{logical_id}"} for logical_id in app.cloudformation["Resources"]}


def applied(value: Any, resolve: Callable[[Any], Any]) -> Any:
    """A property as CloudFormation applies it: a top-level Fn::If decided by `resolve`, AWS::NoValue as None."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, otherwise = value["Fn::If"]
        value = when_true if resolve({"Fn::If": [condition, "yes", "no"]}) == "yes" else otherwise
    return None if value == {"Ref": "AWS::NoValue"} else value


def resolve_intrinsics(app: SamApplication, symbols: dict[str, dict[str, Any]], stack_name: str, value: Any) -> Any:
    """Ref, GetAtt, Sub, If, … resolved against `symbols` with SAM CLI's own resolver."""
    translator: dict[str, Any] = {
        "AWS::Region": app.region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    translator.update(app.parameters)
    translator.update(symbols)
    table = IntrinsicsSymbolTable(template=app.cloudformation, logical_id_translator=translator)
    return IntrinsicResolver(template=app.cloudformation, symbol_resolver=table).intrinsic_property_resolver(
        value, ignore_errors=False
    )


def _dead_letter_queues_first(queues: dict[str, dict[str, Any]]) -> Iterable[str]:
    """Queues that others redrive to must exist before the queues that name them."""
    return sorted(queues, key=lambda logical_id: "RedrivePolicy" in queues[logical_id]["Properties"])
