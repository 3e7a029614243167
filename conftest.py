"""The tests' fixtures (tests/fixtures.py: a real MySQL, moto, a fresh execution environment per test),
for the service's tests and, where it is present, the workbench's."""

pytest_plugins = ["tests.fixtures"]
