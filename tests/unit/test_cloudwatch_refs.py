"""Reading CloudWatch's two sides (sam_testkit/cloudwatch.py): a widget's metric rows, and EMF lines."""

from __future__ import annotations

import json

from sam_testkit.cloudwatch import emf_metrics, widget_metrics


def test_a_widgets_shorthand_repeats_the_row_before():
    # GIVEN rows written with "." (the same field as above) and "..." (all of the row above, then changes)
    widget = {
        "properties": {
            "metrics": [
                ["AWS/Lambda", "Duration", "FunctionName", "Api", {"stat": "p50"}],
                ["...", {"stat": "p99"}],
                ["...", "Consumer", {"stat": "p99"}],
                [".", "Throttles", ".", "."],
                [{"expression": "m1 + m2", "id": "e1"}],
            ]
        }
    }
    # THEN each row is a whole metric; the expression is not one
    assert [(ref.name, ref.dimensions, ref.options.get("stat")) for ref in widget_metrics(widget)] == [
        ("Duration", (("FunctionName", "Api"),), "p50"),
        ("Duration", (("FunctionName", "Api"),), "p99"),
        ("Duration", (("FunctionName", "Consumer"),), "p99"),
        ("Throttles", (("FunctionName", "Consumer"),), None),
    ]


def test_an_emf_document_yields_each_metric_under_each_dimension_set():
    document = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"], ["service", "function_name"]],
                    "Metrics": [{"Name": "Orders", "Unit": "Count"}],
                }
            ],
        },
        "service": "orders",
        "function_name": "Api",
        "Orders": [1.0, 2.0],
    }
    lines = ["START RequestId: x", json.dumps(document), '{"level": "INFO", "message": "not a metric"}']
    found = emf_metrics(lines)
    assert [(m.namespace, m.name, m.dimensions, m.values) for m in found] == [
        ("Shop", "Orders", (("service", "orders"),), (1.0, 2.0)),
        ("Shop", "Orders", (("service", "orders"), ("function_name", "Api")), (1.0, 2.0)),
    ]
    assert found[1].dimension_names == frozenset({"service", "function_name"})
