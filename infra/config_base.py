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


# Shared by the serving and jobs sections (config.py gives a key declared by several sections to
# each): until the pipeline has pushed the first images, nothing may pull one.
IMAGES_PUBLISHED_DOC = (
    "Set true (then `pulumi up`) once the pipeline's first run has pushed the images and "
    "deployed them: until then both services run no task and the job schedules are disabled."
)
