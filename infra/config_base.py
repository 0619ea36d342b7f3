"""The base of every config section: camelCase keys as in Pulumi.<stack>.yaml, unknown keys rejected.

Its own module so that the section modules (`infra/config_sections.py`, `infra/config_serving.py`,
`infra/config_jobs.py`) import it one way and never each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Section(BaseModel):
    """Base for config sections: camelCase keys as in Pulumi.<stack>.yaml, unknown keys rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


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
