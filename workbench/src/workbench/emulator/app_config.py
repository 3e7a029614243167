"""What the runner needs to know about an application beyond its template: the application says it.

`[tool.workbench]` in the `pyproject.toml` beside the template; every key is optional, and a
template with none of them runs (nothing is invoked after start, nothing is loaded):

    [tool.workbench]
    after-start = ["SchemaMigrationFunction"]  # invoked once, in order, before anything is served
    seed-sql = ["db/seed_catalog.sql"]         # then loaded into the run's database, relative to the file

Variables that carry a host need no naming: every variable whose local value holds the local cloud's
or the database's address is rewritten for containers (`serve-aws`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TABLE = "workbench"


class AppConfigError(ValueError):
    """The application's configuration cannot be used: one line says where and why."""


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    after_start: tuple[str, ...] = Field(default=(), alias="after-start")
    seed_sql: tuple[Path, ...] = Field(default=(), alias="seed-sql")
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
        seeds = tuple((path.parent / seed).resolve() for seed in config.seed_sql)
        missing = [str(seed) for seed in seeds if not seed.is_file()]
        if missing:
            raise AppConfigError(f"{path} [tool.{TABLE}] seed-sql: no such file {', '.join(missing)}")
        return config.model_copy(update={"seed_sql": seeds, "source": path})


def _first(error: ValidationError) -> str:
    detail = error.errors()[0]
    return f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}"
