"""Models-from-code entry point of the article-level pipeline model (no pickled object)."""

import mlflow.models

from stance.models.pipeline_model import StancePipelinePyfunc

mlflow.models.set_model(StancePipelinePyfunc())
