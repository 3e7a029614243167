"""What the runner needs to know about an application beyond its template: the application says it.

`[tool.workbench]` in the `pyproject.toml` beside the template; every key is optional, and a
template with none of them runs (nothing is invoked after start, nothing is loaded):

    [tool.workbench]
    database = "auto"                          # MySQL if the template declares RDS; or "mysql", "none"
    database-parameter = "DatabaseName"        # the template parameter naming the database: the run's own
    after-start = ["SchemaMigrationFunction"]  # invoked once, in order, before anything is served
    seed-sql = ["db/seed_catalog.sql"]         # then loaded into the run's database, relative to the file

    [tool.workbench.local-environment]         # what a variable is locally, for the functions that have it
    DB_PORT = "{database_port}"                # the local proxy's port (the template says RDS Proxy's)
    DB_TLS = "{database_tls}"                  # true or false: whether the local MySQL offers TLS

Variables that carry a host need no naming: every variable whose local value holds the local cloud's
or the database's address is rewritten for containers (`serve-aws`).
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TABLE = "workbench"
DATABASE_PLACEHOLDERS = {
    "database_host",
    "database_port",
    "database_tls",
}  # the local database, as the functions reach it


class AppConfigError(ValueError):
    """The application's configuration cannot be used: one line says where and why."""


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    database: Literal["auto", "mysql", "none"] = "auto"
    database_parameter: str | None = Field(default=None, alias="database-parameter")
    after_start: tuple[str, ...] = Field(default=(), alias="after-start")
    seed_sql: tuple[Path, ...] = Field(default=(), alias="seed-sql")
    local_environment: dict[str, str] = Field(default_factory=dict, alias="local-environment")
    source: Path | None = Field(default=None, exclude=True)  # the file it came from, for messages

    @classmethod
    def beside(cls, template: Path) -> AppConfig:
        """The configuration in the pyproject.toml next to `template`, or the defaults if there is none."""
        path = template.resolve().parent / "pyproject.toml"
        if not path.is_file():
            return cls()
        try:
            table = tomllib.loads(path.read_text()).get("tool", {}).get(TABLE, {})
            config = cls.model_validate(table)
        except (tomllib.TOMLDecodeError, ValidationError) as error:
            first = str(error).splitlines()[0] if isinstance(error, tomllib.TOMLDecodeError) else _first(error)
            raise AppConfigError(f"{path} [tool.{TABLE}]: {first}") from None
        for name, value in config.local_environment.items():
            unknown = {field for _, field, _, _ in string.Formatter().parse(value) if field} - DATABASE_PLACEHOLDERS
            if unknown:
                known = ", ".join(sorted(DATABASE_PLACEHOLDERS))
                raise AppConfigError(
                    f"{path} [tool.{TABLE}] local-environment {name}: {unknown.pop()!r} is not one of {known}"
                )
        seeds = tuple((path.parent / seed).resolve() for seed in config.seed_sql)
        missing = [str(seed) for seed in seeds if not seed.is_file()]
        if missing:
            raise AppConfigError(f"{path} [tool.{TABLE}] seed-sql: no such file {', '.join(missing)}")
        return config.model_copy(update={"seed_sql": seeds, "source": path})

    def wants_database(self, declares_one: bool) -> bool:
        """Whether the run starts MySQL: the application's choice, else whether its template declares RDS."""
        return self.database == "mysql" or (self.database == "auto" and declares_one)

    def check_without_database(self) -> None:
        """What asks for a database in a run that has none: an error that says where, not a run that half works."""
        needs = [
            f"local-environment {name}"
            for name, value in self.local_environment.items()
            if {field for _, field, _, _ in string.Formatter().parse(value) if field}
        ]
        needs += ["seed-sql"] if self.seed_sql else []
        needs += ["database-parameter"] if self.database_parameter else []
        if needs:
            where = self.source or "pyproject.toml"
            raise AppConfigError(
                f"{where} [tool.{TABLE}] {', '.join(needs)}: this run has no database "
                '(the template declares no RDS resource; database = "mysql" starts one)'
            )


def _first(error: ValidationError) -> str:
    detail = error.errors()[0]
    return f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}"
