"""The seam between the runner and an application: `[tool.workbench]` beside the template, all optional."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.emulator.app_config import AppConfig, AppConfigError
from workbench.emulator.template import DEFAULT_TEMPLATE, PROJECT_ROOT


def test_this_application_names_its_migration_and_its_seed_data():
    # GIVEN this service's pyproject.toml, THEN the emulator runs its migration after start and loads its catalog
    config = AppConfig.beside(DEFAULT_TEMPLATE)
    assert config.after_start == ("SchemaMigrationFunction",)
    assert config.seed_sql == ((PROJECT_ROOT / "db" / "seed_catalog.sql").resolve(),)
    assert config.local_environment == {"DB_PORT": "{database_port}", "DB_TLS": "{database_tls}"}


def test_a_template_with_no_configuration_beside_it_gets_the_defaults(tmp_path: Path):
    # GIVEN a template with no pyproject.toml beside it, THEN the defaults: nothing after start, no seed
    assert AppConfig.beside(tmp_path / "template.yaml") == AppConfig()


def test_a_pyproject_without_the_table_gets_the_defaults(tmp_path: Path):
    # GIVEN a pyproject.toml without the table, THEN the defaults
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "theirs"\n')
    assert AppConfig.beside(tmp_path / "template.yaml").after_start == ()


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('after-start = "Migrate"', "after-start: Input should be a valid tuple"),
        ('seed-sql = ["missing.sql"]', "seed-sql: no such file"),
        ("unknown = 1", "unknown: Extra inputs are not permitted"),
        ('local-environment = {DB_PORT = "{port}"}', "local-environment DB_PORT: 'port' is not one of database_host"),
    ],
)
def test_a_configuration_that_cannot_be_used_is_one_line_naming_file_and_key(tmp_path: Path, table: str, said: str):
    # GIVEN a table the emulator cannot use, WHEN it is read, THEN one line names the file, the key and why
    (tmp_path / "pyproject.toml").write_text(f"[tool.workbench]\n{table}\n")
    with pytest.raises(AppConfigError) as raised:
        AppConfig.beside(tmp_path / "template.yaml")
    assert str(raised.value).startswith(f"{tmp_path / 'pyproject.toml'} [tool.workbench]")
    assert said in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("database", "declares_rds", "starts_mysql"),
    [("auto", True, True), ("auto", False, False), ("mysql", False, True), ("none", True, False)],
)
def test_the_run_starts_mysql_when_the_template_declares_rds_unless_the_application_says(
    database: str, declares_rds: bool, starts_mysql: bool
):
    assert AppConfig.model_validate({"database": database}).wants_database(declares_rds) is starts_mysql


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('seed-sql = ["seed.sql"]', "seed-sql"),
        ('database-parameter = "DatabaseName"', "database-parameter"),
        ('local-environment = {DB_PORT = "{database_port}"}', "local-environment DB_PORT"),
    ],
)
def test_what_asks_for_a_database_in_a_run_without_one_is_an_error_that_names_it(
    tmp_path: Path, table: str, named: str
):
    # GIVEN an application configuration that needs a database, and a run that has none
    (tmp_path / "seed.sql").write_text("SELECT 1;\n")
    (tmp_path / "pyproject.toml").write_text(f"[tool.workbench]\n{table}\n")
    config = AppConfig.beside(tmp_path / "template.yaml")

    # THEN one line says which key and why
    with pytest.raises(AppConfigError, match=f"{named}: this run has no database"):
        config.check_without_database()


def test_a_configuration_that_needs_no_database_runs_without_one(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.workbench]\nlocal-environment = {STAGE = "local"}\n')
    AppConfig.beside(tmp_path / "template.yaml").check_without_database()  # a literal value needs none
