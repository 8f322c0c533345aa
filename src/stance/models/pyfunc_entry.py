"""Models-from-code entry point: MLflow executes this file to build the pyfunc model,
so no pickled Python object is stored with a logged model."""

import mlflow.models

from stance.models.pyfunc import StancePyfunc

mlflow.models.set_model(StancePyfunc())
