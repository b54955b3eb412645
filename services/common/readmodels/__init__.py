"""Read models: projections of the events, updated in the appending transaction."""

from __future__ import annotations

from common.eventstore import Projection
from common.readmodels.deltas import DeltasProjection
from common.readmodels.jobs import JobsProjection
from common.readmodels.packages import PackagesProjection
from common.readmodels.projects import ProjectsProjection


def all_projections() -> list[Projection]:
    """Every read model, in the order they are applied."""
    return [ProjectsProjection(), PackagesProjection(), DeltasProjection(), JobsProjection()]
