"""The base of every config section: camelCase keys as in Pulumi.<stack>.yaml, unknown keys rejected.

Its own module so that the section modules (`infra/config_sections.py`, `infra/config_serving.py`,
`infra/config_jobs.py`) import it one way and never each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Section(BaseModel):
    """Base for config sections: camelCase keys as in Pulumi.<stack>.yaml, unknown keys rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    @classmethod
    def over_defaults(cls, defaults: Mapping[str, Any], given: object) -> object:
        """A stack's object, possibly partial, over the defaults of the key that holds it.

        `pulumi config set --path prod.minCount 3` stores only that field; the others must be
        prod's own defaults, not this class's generic ones (which would make maxCount 2 < 3).
        Anything but a mapping is left for pydantic to accept (a built section) or report.
        """
        if not isinstance(given, Mapping):
            return given
        return {**cls._by_alias(defaults), **cls._by_alias(given)}

    @classmethod
    def _by_alias(cls, values: Mapping[Any, Any]) -> dict[Any, Any]:
        """Keys as the stack writes them, so a field given by name and by alias is one field."""
        aliases = {name: field.alias or name for name, field in cls.model_fields.items()}
        return {aliases.get(key, key): value for key, value in values.items()}


# Keys this project no longer reads -> what to do instead. Rejected by name, so an old stack file
# fails with the next step rather than "not a setting".
RETIRED_KEYS = {
    "imagesPublished": (
        "is no longer a setting: `pulumi up` asks ECR whether the pipeline has pushed the images "
        "and starts the services and the job schedules once it has; remove it with "
        "`pulumi config rm ml-deploy:imagesPublished` (and from Pulumi.<stack>.yaml), and run "
        "`ml-deploy bootstrap` for a first deploy"
    ),
}
