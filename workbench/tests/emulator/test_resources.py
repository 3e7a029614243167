"""Resources of any template, provisioned in the local cloud and guarded by the functions' roles
(templates/resources/: a bucket, a topic and a parameter; one function granted them by SAM's policy
templates, one granted nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "resources"


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    folder = application_copy(APPLICATION, tmp_path_factory.mktemp("resources"))
    with LocalService(template=folder / "template.yaml") as service:
        yield service


def test_the_templates_bucket_topic_and_parameter_exist_with_their_local_names(provisioned: LocalService):
    symbols = provisioned.cloud.symbols
    assert symbols["Uploads"]["Ref"] == "sam-local-uploads"  # S3 names are lower case
    assert symbols["Notices"]["Ref"].endswith(":sam-local-Notices")  # a topic's Ref is its ARN
    assert symbols["Colour"]["Ref"] == "local-colour"  # its declared Name
    s3 = provisioned.cloud.client("s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["sam-local-uploads"]
    assert provisioned.cloud.client("ssm").get_parameter(Name="local-colour")["Parameter"]["Value"] == "blue"


def test_a_function_can_do_what_its_policy_templates_grant_and_nothing_more(provisioned: LocalService):
    # WHEN the granted function writes and reads the bucket, deletes it, publishes and reads the parameter
    answered = provisioned.pool("Granted").invoke({}).payload

    # THEN what S3CrudPolicy, SNSPublishMessagePolicy and SSMParameterReadPolicy allow works; DeleteBucket is denied
    assert answered == {
        "put": "ok",
        "get": "hello",
        "delete_bucket": "AccessDenied",
        "publish": "ok",
        "parameter": "blue",
    }


def test_a_function_granted_nothing_is_denied_everything(provisioned: LocalService):
    answered = provisioned.pool("Ungranted").invoke({}).payload
    assert answered == {
        "put": "AccessDenied",
        "get": "AccessDenied",
        "delete_bucket": "AccessDenied",
        "publish": "AccessDenied",
        "parameter": "AccessDeniedException",
    }
    denied = provisioned.cloud.iam_report()["Ungranted"].denied
    assert {d["action"] for d in denied} >= {"s3:PutObject", "s3:GetObject", "sns:Publish", "ssm:GetParameter"}
