"""The driver script for ``spark-submit``: the ``stance`` command line, run by Spark.

``spark-submit [options] $(python -c 'import stance.engines.spark_submit as m; print(m.__file__)')
score --engine spark INPUT --out OUTPUT --model models:/stance-pipeline@champion``
"""

from stance.cli import app

if __name__ == "__main__":
    app()
