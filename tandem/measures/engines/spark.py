"""The Spark SQL engine (PySpark; local mode in tests) for populations beyond one machine.

Same compiler as the other SQL engines (``sql_compile``) with the Spark dialect. Spark cannot
resolve columns two query levels up, so the compiler correlates each frame with its nearest
enclosing query and joins the current patient stage into every frame (``local_patient``).
Stages become checkpointed temporary views. Timestamps are ``TIMESTAMP_NTZ`` (UTC wall time,
as in the analytic tables). PySpark is the optional extra ``tandem[spark]`` and needs Java.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pyarrow as pa
from sqlglot import exp

from tandem.measures.engines.sql import SQLEngine
from tandem.measures.lang_nodes import arrow_dtype

_SESSION: Any = None


def spark_available() -> str:
    """Empty when Spark can run here, else the reason it cannot."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'tandem[spark]')"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "Java is not installed (Spark needs a JVM)"
    return ""


def local_session() -> Any:
    """A small shared local Spark session (one core, UTC, no UI)."""
    global _SESSION
    if _SESSION is not None and not _SESSION.sparkContext._jsc.sc().isStopped():
        return _SESSION
    from pyspark.sql import SparkSession

    _SESSION = (
        SparkSession.builder.master("local[1]")
        .appName("tandem-measures")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


def _spark_type(dtype: str) -> Any:
    from pyspark.sql import types as T

    return {
        "bool": T.BooleanType(),
        "int": T.LongType(),
        "float": T.DoubleType(),
        "str": T.StringType(),
        "date": T.DateType(),
        "timestamp": T.TimestampNTZType(),
    }[dtype]


class SparkEngine(SQLEngine):
    """Evaluates outputs with Spark SQL; ``session`` defaults to a local session."""

    def __init__(self, *, session: Any = None, table_prefix: str = "") -> None:
        super().__init__("spark", connection=session, table_prefix=table_prefix)

    def _connect(self) -> Any:
        reason = spark_available()
        if reason:
            raise RuntimeError(f"Spark engine unavailable: {reason}")
        return self.connection if self.connection is not None else local_session()

    def _release(self, con: Any) -> None:
        return None  # the session is shared and outlives one evaluation

    def _load(self, con: Any, name: str, table: pa.Table) -> None:
        from pyspark.sql import types as T

        schema = T.StructType(
            [T.StructField(f.name, _spark_type(arrow_dtype(f.type)), True) for f in table.schema]
        )
        rows = [tuple(r.values()) for r in table.to_pylist()]
        con.createDataFrame(rows, schema=schema).createOrReplaceTempView(name)

    def _exec(self, con: Any, sql: str) -> Any:
        self.last_sql.append(sql)
        return con.sql(sql).collect()

    def _materialize(
        self,
        con: Any,
        name: str,
        select: exp.Select,
        sql: str | None = None,
        *,
        per_patient: bool = True,
    ) -> None:
        sql = sql if sql is not None else select.sql(dialect="spark")
        self.last_sql.append(sql)
        con.sql(sql).localCheckpoint().createOrReplaceTempView(name)

    def _view(self, con: Any, name: str, select: exp.Select, sql: str | None = None) -> None:
        sql = sql if sql is not None else select.sql(dialect="spark")
        self.last_sql.append(sql)
        con.sql(sql).createOrReplaceTempView(name)

    def _query(self, con: Any, select: exp.Select) -> list[Any]:
        sql = select.sql(dialect="spark")
        self.last_sql.append(sql)
        return [tuple(r) for r in con.sql(sql).collect()]

    def _drop(self, con: Any, name: str) -> None:
        con.catalog.dropTempView(name)
