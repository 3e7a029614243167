"""The SAM template keeps its promises: architecture, tracing, queues, retries, least privilege.

Every test here reads: GIVEN the template as CloudFormation receives it (the SAM transform, no AWS
call; `cloudformation_with` for parameter values), THEN what its name says; the few that run
something say their WHEN.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from sam_testkit.sam_template import read_template, resources_of_type, transformed

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@cache
def sam_template() -> dict[str, Any]:
    return read_template(TEMPLATE)


@cache
def cloudformation() -> dict[str, Any]:
    """The template after the SAM transform, as CloudFormation would deploy it (no AWS calls)."""
    return transformed(sam_template())


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type; none found fails, so no test passes on an empty loop."""
    found = resources_of_type(template, resource_type)
    assert found, f"no {resource_type} in the template"
    return found


def _resources_of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return resources_of(cloudformation(), resource_type)


def functions() -> dict[str, dict[str, Any]]:
    return resources_of(cloudformation(), "AWS::Lambda::Function")


FUNCTIONS = [
    "ApiFunction",
    "OrdersConsumer",
    "DailyRollupFunction",
    "SchemaMigrationFunction",
    "AppSecretRotationFunction",
]


def test_there_are_the_five_functions():
    assert set(functions()) == set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_is_python313_arm64_traced_with_the_layer(name: str):
    properties = functions()[name]["Properties"]
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Layers"] == [{"Ref": next(iter(resources_of(cloudformation(), "AWS::Lambda::LayerVersion")))}]
    assert properties["Handler"].startswith("orders.handlers.")
    assert properties["LoggingConfig"]["LogFormat"] == "JSON"


def test_the_layer_is_arm64_python313():
    (layer,) = resources_of(sam_template(), "AWS::Serverless::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"


POLLERS = {"on-demand": {}, "provisioned": {"ConsumerMinimumPollers": "2", "ConsumerMaximumPollers": "50"}}


def consumer_mapping(pollers: str) -> dict[str, Any]:
    """The consumer's event source mapping as CloudFormation would apply it with these pollers."""
    parameters = POLLERS[pollers]
    template = cloudformation_with(**parameters)
    (mapping,) = resources_of(template, "AWS::Lambda::EventSourceMapping").values()
    applied = {name: _applied(template, value, parameters) for name, value in mapping["Properties"].items()}
    return {name: value for name, value in applied.items() if value is not None}


@pytest.mark.parametrize("pollers", POLLERS)
def test_the_consumer_reports_batch_item_failures(pollers: str):
    properties = consumer_mapping(pollers)
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] > 10
    if pollers == "on-demand":
        assert 1 <= properties["MaximumBatchingWindowInSeconds"] <= 300  # required above 10 messages
        assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "ConsumerMaximumConcurrency"}}
        assert "ProvisionedPollerConfig" not in properties
    else:  # Lambda refuses MaximumConcurrency in provisioned mode, and advises no batching window
        assert properties["MaximumBatchingWindowInSeconds"] == 0
        assert "ScalingConfig" not in properties
        assert properties["ProvisionedPollerConfig"] == {
            "MinimumPollers": {"Ref": "ConsumerMinimumPollers"},
            "MaximumPollers": {"Ref": "ConsumerMaximumPollers"},
        }


@pytest.mark.parametrize("pollers", POLLERS)
def test_the_orders_queue_redrives_to_a_dlq_and_outlives_the_consumer(pollers: str):
    queue = cloudformation()["Resources"]["OrdersQueue"]["Properties"]
    consumer = functions()["OrdersConsumer"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["OrdersDeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
    window = consumer_mapping(pollers)["MaximumBatchingWindowInSeconds"]
    assert queue["VisibilityTimeout"] >= 6 * consumer["Timeout"] + window


def test_the_consumer_has_no_function_dlq():
    """An SQS-triggered function's failures go to the queue's DLQ; a function DLQ never sees them."""
    assert "DeadLetterConfig" not in functions()["OrdersConsumer"]["Properties"]


def test_dead_letter_queues_have_depth_alarms():
    alarms = [a["Properties"] for a in resources_of(cloudformation(), "AWS::CloudWatch::Alarm").values()]
    depth = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    watched = {alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for alarm in depth}
    assert watched == {"OrdersDeadLetterQueue", "RollupFailureQueue"}
    assert all(alarm["Threshold"] == 0 for alarm in depth)  # one message is one order to look at


def test_the_schedule_retries_and_dead_letters():
    (schedule,) = resources_of(cloudformation(), "AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["RollupFailureQueue", "Arn"]}
    assert "<aws.scheduler.scheduled-time>" in target["Input"]


def test_the_rollup_bounds_async_retries_and_has_an_on_failure_destination():
    (config,) = resources_of(cloudformation(), "AWS::Lambda::EventInvokeConfig").values()
    properties = config["Properties"]
    assert properties["MaximumRetryAttempts"] <= 2
    assert properties["MaximumEventAgeInSeconds"] <= 6 * 3600
    assert properties["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["RollupFailureQueue", "Arn"]}


@cache
def cloudformation_with(**parameters: str) -> dict[str, Any]:
    """The transform with parameter values, as `sam deploy --parameter-overrides` hands them over."""
    return transformed(sam_template(), parameters)


def _applied(template: dict[str, Any], value: Any, parameters: dict[str, str]) -> Any:
    """A property as CloudFormation would apply it: Fn::If decided from the Conditions and parameters."""
    if not (isinstance(value, dict) and "Fn::If" in value):
        return value
    condition, when_true, otherwise = value["Fn::If"]
    expression = template["Conditions"][condition]
    negated = "Fn::Not" in expression
    (left, right) = (expression["Fn::Not"][0] if negated else expression)["Fn::Equals"]
    value = parameters.get(left["Ref"], template["Parameters"][left["Ref"]].get("Default"))
    holds = (str(value) == right) != negated  # CloudFormation compares parameter values as strings
    chosen = when_true if holds else otherwise
    return None if chosen == {"Ref": "AWS::NoValue"} else chosen


@pytest.mark.parametrize(
    ("strategy", "provisioned", "snapstart"),
    [
        ("on-demand", None, None),
        ("provisioned", {"ProvisionedConcurrentExecutions": {"Ref": "ApiProvisionedConcurrency"}}, None),
        ("snapstart", None, {"ApplyOn": "PublishedVersions"}),
    ],
)
def test_each_cold_start_strategy_applies_exactly_its_own_setting(strategy: str, provisioned: Any, snapstart: Any):
    # GIVEN the template translated with this strategy, as `sam deploy` would with the override
    parameters = {"ColdStartStrategy": strategy}
    template = cloudformation_with(**parameters)
    resources = template["Resources"]
    alias = resources["ApiFunctionAliaslive"]["Properties"]

    # THEN provisioned concurrency (on the live alias) and SnapStart (on the function) apply as chosen
    assert _applied(template, alias.get("ProvisionedConcurrencyConfig"), parameters) == provisioned
    assert _applied(template, resources["ApiFunction"]["Properties"].get("SnapStart"), parameters) == snapstart
    # … never both: Lambda refuses SnapStart and provisioned concurrency on one version
    assert provisioned is None or snapstart is None
    # … and the alias keeps pointing at a published version, whatever the strategy
    assert alias["FunctionVersion"]["Fn::GetAtt"][1] == "Version"


def test_each_samconfig_environment_picks_a_strategy():
    samconfig = tomllib.loads((TEMPLATE.parent / "samconfig.toml").read_text())
    chosen = {
        environment: re.search(r"ColdStartStrategy=([\w-]+)", section["deploy"]["parameters"]["parameter_overrides"])
        for environment, section in samconfig.items()
        if isinstance(section, dict) and "deploy" in section
    }
    allowed = set(sam_template()["Parameters"]["ColdStartStrategy"]["AllowedValues"])
    assert {env: m.group(1) if m else None for env, m in chosen.items()} == {
        "default": "on-demand",
        "staging": "snapstart",
        "prod": "provisioned",
    }
    assert {m.group(1) for m in chosen.values() if m} == allowed


def test_the_http_api_routes_reach_the_live_alias():
    permissions = resources_of(cloudformation(), "AWS::Lambda::Permission").values()
    invoked_by_the_api = [p for p in permissions if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]
    assert {json.dumps(p["Properties"]["FunctionName"]) for p in invoked_by_the_api} == {
        '{"Ref": "ApiFunctionAliaslive"}'
    }


def test_only_secrets_manager_invokes_the_rotation_function_and_only_for_its_secret():
    permissions = resources_of(cloudformation(), "AWS::Lambda::Permission")
    rotation = permissions["AppSecretRotationPermission"]["Properties"]
    assert rotation["Principal"] == "secretsmanager.amazonaws.com"
    assert rotation["SourceArn"] == {"Ref": "AppDatabaseSecret"}
    schedule = cloudformation()["Resources"]["AppDatabaseSecretRotation"]["Properties"]
    assert schedule["RotationLambdaARN"] == {"Fn::GetAtt": ["AppSecretRotationFunction", "Arn"]}
    assert schedule["RotateImmediatelyOnUpdate"] is False  # the app user exists only after the migration


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role, statement) for every inline statement of every role; none found fails."""
    found = [
        (name, statement)
        for name, resource in resources_of(template, "AWS::IAM::Role").items()
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert len(found) >= len(FUNCTIONS), "fewer statements than functions: did the template change shape?"
    return found


def test_no_iam_statement_grants_a_wildcard_action():
    for role, statement in _statements(cloudformation()):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action != "*", f"{role} grants every action"
            assert not action.endswith(":*"), f"{role} grants {action}"


MASTER_SECRET = {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
MASTER_SECRET_JSON = json.dumps(MASTER_SECRET)


def _secret_refs(resource: Any) -> set[str]:
    """The secrets a statement's Resource names: a Ref, or the cluster's RDS-managed master secret."""
    text = json.dumps(resource)
    refs = set(re.findall(r'\{"Ref": "(\w+Secret)"\}', text))
    if MASTER_SECRET_JSON in text:
        refs.add("master secret")
    return refs


def test_each_role_reads_only_the_database_secrets_it_needs():
    readers: dict[str, set[str]] = {}
    for role, statement in _statements(cloudformation()):
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"]):
            readers.setdefault(role, set()).update(_secret_refs(statement["Resource"]))
    assert readers == {
        "ApiFunctionRole": {"AppDatabaseSecret"},  # the least-privilege MySQL user
        "DailyRollupFunctionRole": {"AppDatabaseSecret"},
        "SchemaMigrationFunctionRole": {"master secret", "AppDatabaseSecret"},  # master, to create the app user
        "DatabaseProxyRole": {"master secret", "AppDatabaseSecret"},  # the proxy signs in as either
        "AppSecretRotationFunctionRole": {"AppDatabaseSecret"},  # the one secret it rotates
    }


_SECRET_LOOKING = re.compile(r"(PASSWORD|SECRET|TOKEN|KEY)$")


def test_no_secret_value_is_in_an_environment_variable():
    for name, function in functions().items():
        variables = function["Properties"]["Environment"]["Variables"]
        for key, value in variables.items():
            if _SECRET_LOOKING.search(key) or "password" in json.dumps(value).lower():
                assert key == "DB_SECRET_ID", f"{name}: {key} looks like a secret value"
                assert value in ({"Ref": "AppDatabaseSecret"}, MASTER_SECRET), f"{name}: DB_SECRET_ID must be an ARN"


def test_the_proxy_requires_tls_and_reads_the_generated_secret():
    proxy = cloudformation()["Resources"]["DatabaseProxy"]["Properties"]
    assert proxy["RequireTLS"] is True
    assert proxy["EngineFamily"] == "MYSQL"
    assert [auth["SecretArn"] for auth in proxy["Auth"]] == [MASTER_SECRET, {"Ref": "AppDatabaseSecret"}]
    assert "GenerateSecretString" in cloudformation()["Resources"]["AppDatabaseSecret"]["Properties"]


def test_rds_manages_and_rotates_the_master_password():
    # RDS creates the secret, never shows the password to CloudFormation, and rotates it (7 days by default).
    cluster = cloudformation()["Resources"]["DatabaseCluster"]["Properties"]
    assert cluster["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in cluster
    assert not cloudformation()["Resources"].keys() & {"DatabaseSecret", "DatabaseSecretAttachment"}


def test_every_security_group_names_its_egress_and_takes_ingress_only_from_security_groups():
    # An inline egress list replaces the default allow-all; ingress by group, never by address range.
    for name, group in _resources_of_type("AWS::EC2::SecurityGroup").items():
        properties = group["Properties"]
        assert properties.get("SecurityGroupEgress"), f"{name}: no explicit egress, so all outbound is allowed"
        for rule in properties.get("SecurityGroupIngress", []):
            assert set(rule) & {"SourceSecurityGroupId"}, f"{name}: ingress from {rule.get('CidrIp')}"


def _function_variables() -> dict[str, dict[str, Any]]:
    """Each function's environment as deployed: the Globals' variables merged with its own."""
    functions = resources_of(cloudformation(), "AWS::Lambda::Function")
    return {name: function["Properties"]["Environment"]["Variables"] for name, function in functions.items()}


def _settings_of(function: str) -> type[BaseModel]:
    """The settings model the function's handler module declares it reads (`SETTINGS`)."""
    handler = sam_template()["Resources"][function]["Properties"]["Handler"]
    return importlib.import_module(handler.rsplit(".", 1)[0]).SETTINGS  # type: ignore[no-any-return]


def test_the_functions_in_the_vpc_reach_mysql_through_the_proxy():
    variables = _function_variables()
    for function in ("ApiFunction", "DailyRollupFunction"):
        assert variables[function]["DB_HOST"] == {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}
        assert variables[function]["DB_TLS"] == "true"


def test_each_function_is_given_what_its_settings_read_and_nothing_more():
    # GIVEN every function as deployed, and the settings model its handler declares
    variables = _function_variables()
    assert len(variables) == 5
    for function, given in variables.items():
        model = _settings_of(function)
        fields = model.model_fields.values()
        # THEN each variable it must have is set, and each variable it is given is one it reads
        assert {field.alias for field in fields if field.is_required()} <= set(given), function
        assert set(given) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= {f.alias for f in fields}, (
            function
        )
    assert not any(name.startswith("DB_") for name in variables["OrdersConsumer"])  # outside the VPC


def test_queues_and_tables_are_encrypted_and_logs_expire():
    template = cloudformation()
    for queue in resources_of(template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    for table in resources_of(template, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert all("RetentionInDays" in group["Properties"] for group in groups.values())
    for function in functions().values():
        assert function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups
    (stage,) = resources_of(template, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}


def test_every_scanner_skip_says_why():
    skips = [
        (name, skip)
        for name, resource in sam_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "no checkov skip found: has the Metadata layout changed?"
    for name, skip in skips:
        assert len(skip.get("comment", "")) > 20, f"{name} skips {skip['id']} without a reason"


def test_singleton_functions_are_capped_at_one_and_the_rollup_at_its_runs():
    assert functions()["SchemaMigrationFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert functions()["DailyRollupFunction"]["Properties"]["ReservedConcurrentExecutions"] == {"Ref": "RollupRuns"}
    assert sam_template()["Parameters"]["RollupRuns"]["Default"] == 1  # one run a day unless a day needs more


def test_transaction_search_is_switched_on_behind_a_parameter_and_survives_the_stack():
    # GIVEN the resources that let X-Ray receive the functions' OpenTelemetry spans
    resources = cloudformation()["Resources"]
    config, policy = resources["TransactionSearch"], resources["TransactionSearchLogPolicy"]

    # THEN both exist only when EnableTransactionSearch is "true" (an account that has it on says "false") …
    assert cloudformation()["Conditions"]["CreateTransactionSearch"] == {
        "Fn::Equals": [{"Ref": "EnableTransactionSearch"}, "true"]
    }
    assert config["Condition"] == policy["Condition"] == "CreateTransactionSearch"
    # … outlive the stack: they are account-wide settings other services may rely on
    assert config["DeletionPolicy"] == policy["DeletionPolicy"] == "Retain"
    assert config["DependsOn"] == "TransactionSearchLogPolicy"
    # … and X-Ray may write spans only into the span log groups, only from this account
    document = json.loads(policy["Properties"]["PolicyDocument"]["Fn::Sub"])
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "xray.amazonaws.com"}
    assert statement["Action"] == "logs:PutLogEvents"
    assert all(":log-group:aws/spans:" in r or "application-signals" in r for r in statement["Resource"])
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "${AWS::AccountId}"}


@pytest.mark.parametrize("name", ["ApiFunction", "OrdersConsumer", "DailyRollupFunction", "SchemaMigrationFunction"])
def test_every_function_may_send_spans_to_the_xray_daemon(name: str):
    role = cloudformation()["Resources"][f"{name}Role"]["Properties"]
    assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in json.dumps(role["ManagedPolicyArns"])


def test_every_route_needs_a_token_with_its_own_scope():
    body = cloudformation()["Resources"]["OrdersHttpApi"]["Properties"]["Body"]
    scopes = {
        f"{method.upper()} {path}": operation.get("security")
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
        if method != "x-amazon-apigateway-any-method"
    }
    assert scopes == {
        "POST /orders": [{"OrdersJwt": ["orders/write"]}],
        "GET /orders/{order_id}": [{"OrdersJwt": ["orders/read"]}],
    }
    authorizer = body["components"]["securitySchemes"]["OrdersJwt"]["x-amazon-apigateway-authorizer"]
    assert authorizer["identitySource"] == "$request.header.Authorization"
    assert authorizer["type"] == "jwt"


@pytest.mark.parametrize(("issuer", "user_pool"), [("", True), ("https://login.example.com/", False)])
def test_the_user_pool_exists_only_without_an_issuer_of_your_own(issuer: str, user_pool: bool):
    parameters = {"JwtIssuer": issuer}
    template = cloudformation_with(**parameters)
    for name in ("OrdersUserPool", "OrdersResourceServer", "OrdersAppClient"):
        condition = template["Resources"][name]["Condition"]
        (left, right) = template["Conditions"][condition]["Fn::Equals"]
        assert (parameters[left["Ref"]] == right) is user_pool


def test_the_orders_table_survives_a_deleted_stack_and_a_careless_delete():
    table = sam_template()["Resources"]["OrdersTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_a_late_orders_day_is_marked_by_the_consumer_and_cleared_by_the_rollup_only():
    late_days = {"Fn::GetAtt": ["LateDaysTable", "Arn"]}
    granted: dict[str, set[str]] = {}
    for role, statement in _statements(cloudformation()):
        if statement.get("Resource") == late_days:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted.setdefault(role, set()).update(actions)
    assert granted == {
        "OrdersConsumerRole": {"dynamodb:UpdateItem"},
        "DailyRollupFunctionRole": {"dynamodb:Scan", "dynamodb:DeleteItem"},
    }


def test_a_deployed_pool_can_give_a_user_a_token_with_the_routes_scopes():
    # Cognito issues custom scopes only from its OAuth endpoints, which need the pool's domain
    resources = sam_template()["Resources"]
    (domain,) = [r for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolDomain"]
    assert domain["Properties"]["UserPoolId"] == {"Ref": "OrdersUserPool"}
    assert domain["Condition"] == "CreateUserPool"
    client = resources["OrdersAppClient"]["Properties"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["GenerateSecret"] is False  # a public client: the code flow with PKCE
    assert {"orders/read", "orders/write"} <= set(client["AllowedOAuthScopes"])
    outputs = sam_template()["Outputs"]
    assert {"AuthorizeUrl", "TokenUrl", "AppClientId", "Scopes"} <= set(outputs)
    assert "/oauth2/token" in outputs["TokenUrl"]["Value"]["Fn::Sub"]


def test_the_machine_client_is_opt_in_read_only_and_signs_in_by_client_credentials_only():
    resources, conditions = sam_template()["Resources"], sam_template()["Conditions"]
    client = resources["OrdersMachineClient"]
    # GIVEN the parameter off by default (Cognito bills each such client monthly)
    assert sam_template()["Parameters"]["MachineClient"]["Default"] == "false"
    assert conditions[client["Condition"]] == {
        "Fn::And": [{"Condition": "CreateUserPool"}, {"Fn::Equals": [{"Ref": "MachineClient"}, "true"]}]
    }
    # THEN a confidential client whose only grant is client credentials, for reading
    properties = client["Properties"]
    assert properties["GenerateSecret"] is True
    assert properties["AllowedOAuthFlows"] == ["client_credentials"]
    assert properties["AllowedOAuthScopes"] == ["orders/read"]
    assert properties["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    # … that the authorizer accepts only when it exists, and whose secret the pipeline's role can name
    audience = resources["OrdersHttpApi"]["Properties"]["Auth"]["Authorizers"]["OrdersJwt"]["JwtConfiguration"]
    assert audience["audience"]["Fn::If"][1] == {
        "Fn::If": [
            "CreateMachineClient",
            [{"Ref": "OrdersAppClient"}, {"Ref": "OrdersMachineClient"}],
            [{"Ref": "OrdersAppClient"}],
        ]
    }
    assert resources["OrdersMachineClientSecret"]["Properties"]["Name"] == {
        "Fn::Sub": "${AWS::StackName}/machine-client"
    }


def test_only_dev_pays_for_the_machine_client_its_smoke_test_signs_in_with():
    samconfig = tomllib.loads((TEMPLATE.parent / "samconfig.toml").read_text())
    overrides = {
        env: section["deploy"]["parameters"]["parameter_overrides"]
        for env, section in samconfig.items()
        if isinstance(section, dict)  # not `version`
    }
    assert "MachineClient=true" in overrides["default"]
    assert "MachineClient" not in overrides["prod"]


def test_a_rollup_handed_out_to_runs_may_invoke_itself_only_and_reaches_lambda_from_the_vpc():
    # GIVEN the stack as SAM transforms it (CloudFormation decides the condition from RollupRuns)
    stack = transformed(read_template(TEMPLATE), {"RollupRuns": "4"})
    policy = stack["Resources"]["RollupRunsPolicy"]
    # THEN the invoke grant and the Lambda endpoint exist only when RollupRuns > 1, and the grant names itself
    own_arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-daily-rollup"
    assert policy["Properties"]["Roles"] == [{"Ref": "DailyRollupFunctionRole"}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Fn::Sub": own_arn}}
    ]
    assert policy["Condition"] == stack["Resources"]["LambdaEndpoint"]["Condition"] == "FanOutRollup"
    assert stack["Conditions"]["FanOutRollup"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RollupRuns"}, "1"]}]}
    function = stack["Resources"]["DailyRollupFunction"]["Properties"]
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-daily-rollup"}
