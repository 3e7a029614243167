"""What the service's tests stand in for AWS with, and what the workbench's emulator is built on.

Per-run names on a shared MySQL (`run_scope`), RDS Proxy's client side as a counting relay
(`db_proxy`), moto corrected where it differs from AWS (`moto_secrets`), DynamoDB's faults moto never
produces (`dynamodb_faults`), OTLP spans decoded (`otlp`), the SAM transform without AWS
(`sam_template`). Never shipped: src/ does not import it.
"""
