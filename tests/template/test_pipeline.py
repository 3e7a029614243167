"""The pipeline cannot run here, so what makes it safe is checked statically: pinned actions, who may deploy.

Every test here reads: GIVEN the workflow and the pipeline's role template as committed, THEN what
its name says.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from cfnlint.decode import cfn_yaml

from sam_testkit.sam_template import read_template, resources_of_type, transformed

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ROLE_TEMPLATE = cfn_yaml.load(str(ROOT / "pipeline" / "github-oidc-role.yaml"))


def _workflows() -> list[dict[str, Any]]:
    assert WORKFLOWS, "no workflow in .github/workflows"
    return [yaml.safe_load(workflow.read_text()) for workflow in WORKFLOWS]


def _steps() -> list[dict[str, Any]]:
    found = [step for document in _workflows() for job in document["jobs"].values() for step in job.get("steps", [])]
    assert found, "the workflows have no steps"
    return found


def test_every_action_is_pinned_to_a_full_commit_sha():
    used = [step["uses"] for step in _steps() if "uses" in step]
    assert used
    assert [u for u in used if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u)] == []


def test_only_deploy_jobs_get_an_oidc_token_and_pull_requests_never_deploy():
    deploying = 0
    for document in _workflows():
        assert "id-token" not in document.get("permissions", {})  # not workflow-wide
        for name, job in document["jobs"].items():
            if job.get("permissions", {}).get("id-token") == "write":
                deploying += 1
                assert job.get("environment"), f"{name}: an OIDC token only in an environment the role trusts"
                assert "github.event_name == 'push'" in job["if"], f"{name}: never on a pull request"
    assert deploying, "no deploy job found to check"


def _statements(resource: str) -> list[dict[str, Any]]:
    properties = ROLE_TEMPLATE["Resources"][resource]["Properties"]
    documents = [p["PolicyDocument"] for p in properties.get("Policies", [])] or [properties["PolicyDocument"]]
    found = [statement for document in documents for statement in document["Statement"]]
    assert found, f"{resource} has no statement"
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_deploy_role_trusts_only_its_own_environments_jobs():
    # one pipeline stack per environment: dev's job cannot assume prod's role and skip prod's reviewers
    role = ROLE_TEMPLATE["Resources"]["GitHubDeployRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    condition = statement["Condition"]
    assert list(condition) == ["StringEquals"]  # exact subjects: no StringLike wildcard on the repository
    assert condition["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subject = condition["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subject == {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:environment:${Environment}"}
    assert ROLE_TEMPLATE["Parameters"]["Environment"]["AllowedValues"] == ["dev", "prod"]


def test_the_deploy_role_reaches_only_its_environments_stack_and_functions():
    resources = [s["Resource"] for s in _statements("GitHubDeployRole") if s["Effect"] == "Allow"]
    scoped = [r["Fn::Sub"] for r in resources if isinstance(r, dict) and "Fn::Sub" in r]
    stack = [r for r in scoped if ":stack/" in r]
    functions = [r for r in scoped if ":function:" in r]
    assert stack == [
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackNamePrefix}-${Environment}/*"
    ]
    assert functions == [
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${StackNamePrefix}-${Environment}-*"
    ]


def test_the_deploy_role_can_pass_only_its_execution_role_and_only_to_cloudformation():
    statements = _statements("GitHubDeployRole")
    (pass_role,) = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert not any(s["Action"] == "*" or s["Action"] == ["*"] for s in statements)


# What IAM checks iam:PermissionsBoundary on: writing one of these without the boundary is escalation.
ROLE_WRITES = {
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
}


def test_the_execution_role_writes_roles_only_with_the_boundary_and_only_its_environments():
    statements = _statements("CloudFormationExecutionRole")
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert any(set(_actions(s)) & ROLE_WRITES for s in allowed), "no role-writing statement found to check"
    for statement in allowed:
        actions = set(_actions(statement))
        assert not {a for a in actions if a in {"iam:*", "*"}}, statement.get("Sid")
        if actions & ROLE_WRITES:
            assert statement["Condition"] == {
                "StringEquals": {"iam:PermissionsBoundary": {"Ref": "ServiceRolesBoundary"}}
            }
        if any(a.startswith("iam:") and a != "iam:CreateServiceLinkedRole" for a in actions):
            assert statement["Resource"] == {
                "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${StackNamePrefix}-${Environment}-*"
            }
    assert {a for s in allowed for a in _actions(s)} >= ROLE_WRITES  # CloudFormation can still create the roles
    denied = {a for s in statements if s["Effect"] == "Deny" for a in _actions(s)}
    assert {"iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"} <= denied


# The IAM service prefix of each CloudFormation namespace the service's template creates resources in.
SERVICE_PREFIXES = {
    "ApiGatewayV2": "apigateway",
    "ApplicationAutoScaling": "application-autoscaling",
    "ApplicationSignals": "application-signals",
    "CloudWatch": "cloudwatch",
    "Cognito": "cognito-idp",
    "DynamoDB": "dynamodb",
    "EC2": "ec2",
    "IAM": "iam",
    "Lambda": "lambda",
    "Logs": "logs",
    "RDS": "rds",
    "Scheduler": "scheduler",
    "SecretsManager": "secretsmanager",
    "SNS": "sns",
    "SQS": "sqs",
    "XRay": "xray",
}


def test_the_execution_role_may_create_every_kind_of_resource_the_service_template_declares():
    """A resource of a service the execution role has no action of fails the deploy, and no local run shows it."""
    kinds = {resource["Type"] for resource in transformed(read_template(TEMPLATE))["Resources"].values()}
    allowed = {
        a.split(":")[0]
        for s in _statements("CloudFormationExecutionRole")
        if s["Effect"] == "Allow"
        for a in _actions(s)
    }
    for kind in kinds:
        namespace = kind.split("::")[1]
        assert namespace in SERVICE_PREFIXES, f"{kind}: which IAM service creates it? add it to SERVICE_PREFIXES"
        assert SERVICE_PREFIXES[namespace] in allowed, (
            f"{kind}: the execution role has no {SERVICE_PREFIXES[namespace]} action"
        )


def test_the_execution_role_may_create_the_service_linked_roles_the_stack_needs():
    (statement,) = [
        s for s in _statements("CloudFormationExecutionRole") if s.get("Sid") == "ServiceLinkedRolesTheServicesNeed"
    ]
    names = set(statement["Condition"]["StringEquals"]["iam:AWSServiceName"])
    kinds = {resource["Type"] for resource in transformed(read_template(TEMPLATE))["Resources"].values()}
    if "AWS::ApplicationSignals::ServiceLevelObjective" in kinds:  # its first SLO creates the role
        assert "application-signals.cloudwatch.amazonaws.com" in names


def test_the_boundary_admits_no_iam_sts_or_wildcard_action():
    actions = {a for s in _statements("ServiceRolesBoundary") for a in _actions(s)}
    assert actions
    assert [a for a in actions if a.split(":")[0] in {"iam", "sts", "organizations", "s3"} or "*" in a] == []


def _service_roles(boundary_name: str) -> dict[str, dict[str, Any]]:
    stack = transformed(read_template(TEMPLATE), {"PermissionsBoundaryName": boundary_name})
    roles = resources_of_type(stack, "AWS::IAM::Role")
    assert len(roles) > len(resources_of_type(stack, "AWS::Lambda::Function")), "a role per function, and the proxy's"
    return roles


def test_every_role_of_the_service_stack_carries_the_pipelines_boundary():
    expected = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${PermissionsBoundaryName}"}
    roles = _service_roles("orders-service-dev-boundary")
    assert roles
    for name, role in roles.items():
        boundary = role["Properties"].get("PermissionsBoundary")
        assert boundary == {"Fn::If": ["HasPermissionsBoundary", expected, {"Ref": "AWS::NoValue"}]}, name


def test_each_environments_samconfig_names_the_boundary_its_pipeline_stack_creates():
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    name = ROLE_TEMPLATE["Resources"]["ServiceRolesBoundary"]["Properties"]["ManagedPolicyName"]["Fn::Sub"]
    prefix = ROLE_TEMPLATE["Parameters"]["StackNamePrefix"]["Default"]
    for section, environment in (("default", "dev"), ("prod", "prod")):
        overrides = dict(
            o.split("=", 1) for o in config[section]["deploy"]["parameters"]["parameter_overrides"].split()
        )
        expected = name.replace("${StackNamePrefix}", prefix).replace("${Environment}", environment)
        assert overrides["PermissionsBoundaryName"] == expected, section
        assert config[section]["global"]["parameters"]["stack_name"] == f"{prefix}-{environment}"


def test_the_boundary_leaves_every_service_role_what_its_policies_grant():
    # GIVEN the actions the boundary admits, and what each role of the stack is granted
    admitted = [a for s in _statements("ServiceRolesBoundary") for a in _actions(s)]
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    managed = json.loads(aws_managed_policies_data)
    for name, role in _service_roles("b").items():
        documents = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            documents.append(managed[arn.rsplit("/", 1)[1]]["Document"])
        granted = {a for d in documents for s in d["Statement"] if s["Effect"] == "Allow" for a in _actions(s)}
        # THEN each granted action is admitted (a boundary that cuts one breaks that path on AWS only)
        assert [a for a in granted if not any(fnmatch.fnmatchcase(a, b) for b in admitted)] == [], name


def test_the_pre_commit_hooks_are_valid_and_run_the_venvs_pinned_tools():
    config = ROOT / ".pre-commit-config.yaml"
    pre_commit = Path(sys.executable).with_name("pre-commit")
    subprocess.run([str(pre_commit), "validate-config", str(config)], check=True, capture_output=True)  # noqa: S603
    hooks = [hook for repo in yaml.safe_load(config.read_text())["repos"] for hook in repo["hooks"]]
    assert {"ruff", "ruff-format", "mypy", "cfn-lint", "actionlint"} <= {hook["id"] for hook in hooks}
    tools = [word for hook in hooks for word in hook["entry"].split() if word.startswith(".venv/bin/")]
    assert tools
    installed = {path.name for path in Path(sys.executable).parent.iterdir()}  # the venv's bin/
    assert [tool for tool in tools if Path(tool).name not in installed] == []
