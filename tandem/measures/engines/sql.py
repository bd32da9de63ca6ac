"""The SQL engines: DuckDB (default analytics engine), SQLite and PostgreSQL.

One compiler (``sql_compile``) and one set of date rules per dialect (``dialects``). Input:
either Arrow tables (loaded into an in-memory DuckDB / SQLite, or into temporary tables of a
PostgreSQL connection) or an existing DB-API connection whose tables or views carry the
contract's names, optionally behind a ``table_prefix`` (``"analytics."`` for a schema,
``"a_"`` for a name prefix). Value sets always go into a temporary table.

Execution (compiled whole first, then run; see ``docs/measures/language.md`` §6):

1. stored frame prefixes (the row-local filters of frames) — a temporary table when read more
   than once or from a correlated subquery, else a temporary view;
2. when a population is given (``evaluate``: the union of the initial populations), the
   stages it needs, then the cohort table of the patients where it holds;
3. stage tables of the remaining patient-level aggregates (GROUP BY per frame, LEFT JOINed;
   indexed on ``patient_id`` outside DuckDB), over the cohort;
4. one final SELECT of the outputs (the cohort's rows), fetched as Arrow; on a worker thread
   they are then spread over every patient (null outside the cohort), while the connection
   runs the next job.

``run_tables`` runs several such jobs (a measure suite) sharing the stored prefixes.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tandem.measures import schema
from tandem.measures.engines.base import (
    Results,
    conform_results,
    expand_rows,
    prepare_tables,
    results_table,
    table_results,
)
from tandem.measures.engines.dialects import Dialect
from tandem.measures.engines.sql_compile import (
    CURRENT,
    PATIENT_ALIAS,
    VS_TABLE,
    Compiler,
    VarInfo,
    col,
    columns_read,
    left_join,
    named_table,
    union_all,
)
from tandem.measures.engines.sql_semijoin import exists_as_semi_joins
from tandem.measures.lang_nodes import Expr, arrow_dtype
from tandem.measures.lang_walk import (
    PATIENT_VAR,
    Walker,
    required_frames,
    root_table,
    tables_used,
)

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# DuckDB: a plain filter of an analytic table read at most this often is a view
BASE_FILTER_VIEW_READS = 2
BASE_FILTER_KEEPS = 0.5  # ... or that keeps at least this share of its rows


class SQLEngine:
    """Evaluates outputs on DuckDB, SQLite or PostgreSQL."""

    def __init__(self, dialect: str, *, connection: Any = None, table_prefix: str = "") -> None:
        self.dialect = Dialect(dialect)
        self.name = dialect
        self.connection = connection
        self.table_prefix = table_prefix
        self.last_sql: list[str] = []  # the statements of the last run (for debugging)
        self._registered: set[str] = set()  # DuckDB views over Arrow tables
        self._views: set[str] = set()  # temporary views of frame prefixes read once

    # --- connections and loading -----------------------------------------------------------
    def _connect(self) -> Any:
        if self.connection is not None:
            return self.connection
        if self.name == "duckdb":
            import duckdb

            return duckdb.connect()
        if self.name == "sqlite":
            import sqlite3

            return sqlite3.connect(":memory:")
        import psycopg

        return psycopg.connect(POSTGRES_URL, autocommit=True)

    def _release(self, con: Any) -> None:
        """Close a connection the engine opened. A caller's connection is left as it came:
        committing it would end the caller's transaction (Django's request or command)."""
        if self.connection is None:
            con.close()

    def _table_ref(self, tmp: dict[str, str]) -> Any:
        prefix = self.table_prefix

        def ref(name: str) -> exp.Table:
            if name in tmp:
                return named_table(tmp[name])
            if "." in prefix:
                db, _, rest = prefix.rpartition(".")
                return exp.Table(this=exp.to_identifier(rest + name), db=exp.to_identifier(db))
            return exp.Table(this=exp.to_identifier(prefix + name))

        return ref

    def _create_table(self, con: Any, name: str, columns: list[tuple[str, str]]) -> None:
        types = self.dialect.types
        cols = ", ".join(f'"{c}" {types[t]}' for c, t in columns)
        self._exec(con, f"CREATE TEMPORARY TABLE {name} ({cols})")

    def _load(self, con: Any, name: str, table: pa.Table) -> None:
        """Copy an Arrow table into a temporary table ``name``."""
        columns = [(f.name, arrow_dtype(f.type)) for f in table.schema]
        if self.name == "duckdb":
            con.register(name, table)  # a view over the Arrow table: no copy
            self._registered.add(name)
            return
        self._create_table(con, name, columns)
        rows = table.to_pylist()
        if not rows:
            return
        names = [c for c, _ in columns]
        if self.name == "sqlite":
            data = list(zip(*(_sqlite_column(table.column(c)) for c in names), strict=True))
            marks = ", ".join("?" for _ in names)
            con.executemany(f"INSERT INTO {name} VALUES ({marks})", data)  # noqa: S608
            if "patient_id" in names:
                con.execute(f'CREATE INDEX {name}_pid ON {name} ("patient_id")')
            return
        with con.cursor() as cur:
            quoted = ", ".join(f'"{c}"' for c in names)
            with cur.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([r[c] for c in names])
            if "patient_id" in names:
                cur.execute(f'CREATE INDEX ON {name} ("patient_id")')
            cur.execute(f"ANALYZE {name}")

    def _sql(self, select: exp.Expression) -> str:
        """The SQL of a statement. DuckDB: correlated ``EXISTS`` filters as semi-joins first
        (``sql_semijoin``; rewrites ``select`` in place, so generate each tree once).

        DuckDB's is generated without SQLGlot's defensive copy of the tree (``copy=False``):
        each tree is generated once and not read after, and the copy was most of the compile
        time (~2 s of the 1 M suite). The text is the same: all 1,186 statements of the 2026
        suite and 1,174 of the 2025 suite compared equal with and without the copy
        (2026-12-04). The other dialects keep the copy (not compared)."""
        if self.name == "duckdb":
            exists_as_semi_joins(select)
            return select.sql(dialect=self.name, copy=False)
        return select.sql(dialect=self.name)

    def _exec(self, con: Any, sql: str) -> Any:
        self.last_sql.append(sql)
        if self.name == "postgres":
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else None
        cur = con.execute(sql)
        return cur.fetchall() if cur.description else None

    # --- running ---------------------------------------------------------------------------
    def run(
        self,
        outputs: dict[str, Expr],
        tables: dict[str, pa.Table] | None,
        valuesets: dict[str, frozenset[tuple[str, str]]],
        params: dict[str, Any],
    ) -> Results:
        return table_results(self.run_table(outputs, tables, valuesets, params))

    def run_table(
        self,
        outputs: dict[str, Expr],
        tables: dict[str, pa.Table] | None,
        valuesets: dict[str, frozenset[tuple[str, str]]],
        params: dict[str, Any],
        *,
        population: Expr | None = None,
        keep_all: bool = True,
    ) -> pa.Table:
        """The outputs of every patient as an Arrow table (``base.results_table`` shape).

        ``population``: a boolean expression computed first; the outputs are then computed
        only for the patients where it is true (the cohort). With ``keep_all`` the other
        patients are listed with null outputs, else left out.
        """
        job = Job(outputs, params, population, keep_all)
        return self.run_tables([job], tables, valuesets)[0]

    def run_tables(
        self,
        jobs: list[Job],
        tables: dict[str, pa.Table] | None,
        valuesets: dict[str, frozenset[tuple[str, str]]],
        finish: Callable[[int, pa.Table], Any] | None = None,
    ) -> list[Any]:
        """Several evaluations in one run (``run_table`` per job) sharing their stored frame
        prefixes: a prefix two jobs read is computed once (a measure suite shares many).

        Each job's fetched rows are completed (spread over every patient, then ``finish(i,
        table)`` when given: ``evaluate_many`` scores them) on one worker thread while the
        database runs the next job's statements: that Python work (Arrow takes, numpy
        scoring; both release the GIL for the bulk of it) then uses the core the database
        leaves idle between statements. Returns each job's table, or ``finish``'s value."""
        self.last_sql = []
        con = self._connect()
        tag = uuid.uuid4().hex[:8]
        tmp: dict[str, str] = {}
        created: list[str] = []
        try:
            if tables is not None:
                needed = tables_used([e for job in jobs for e in job.exprs()])
                for name, table in prepare_tables(tables, only=needed).items():
                    tmp[name] = f"tandem_{tag}_{name}"
                    self._load(con, tmp[name], table)
                    created.append(tmp[name])
            tmp[VS_TABLE] = f"tandem_{tag}_vs"
            self._load(con, tmp[VS_TABLE], _valueset_table(valuesets))
            created.append(tmp[VS_TABLE])
            if self.name in ("sqlite", "postgres"):
                vs = tmp[VS_TABLE]
                self._exec(con, f'CREATE INDEX {vs}_key ON {vs} ("valueset_id", "code", "system")')
            store = _Store(columns=columns_read([e for job in jobs for e in job.exprs()]))
            if any(job.population is not None and job.keep_all for job in jobs):
                store.everyone = self._patient_ids(con, self._table_ref(tmp)("patients"))
                if self.name == "duckdb":  # each patient's place, for the final queries
                    store.positions = f"tandem_{tag}_positions"
                    places = pa.table(
                        {"patient_id": store.everyone, "pos": pa.array(range(len(store.everyone)))}
                    )
                    self._load(con, store.positions, places)
                    created.append(store.positions)
            plans = [
                self._compile(job, tmp, f"{tag}_{i}", store, i, valuesets)
                for i, job in enumerate(jobs)
            ]
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tandem-finish") as worker:
                pending: list[Future[Any]] = []
                for i, (plan, job) in enumerate(zip(plans, jobs, strict=True)):
                    for done in pending:
                        if done.done():
                            done.result()  # a failure stops the run here, not at the end
                    fetched = self._execute(con, plan, store, i, created, job)
                    pending.append(worker.submit(self._finish, i, fetched, store, finish))
                return [future.result() for future in pending]
        finally:
            for name in reversed(created):
                with contextlib.suppress(Exception):  # best effort clean-up
                    self._drop(con, name)
            self._release(con)

    def _compile(
        self,
        job: Job,
        tmp: dict[str, str],
        tag: str,
        store: _Store,
        index: int,
        valuesets: dict[str, frozenset[tuple[str, str]]],
    ) -> _Plan:
        """Every statement of one job, in order (nothing runs while compiling)."""
        walker = Walker()
        ref = self._table_ref(tmp)
        compiler = Compiler(self.dialect, ref, job.params, walker, valuesets)
        outputs, population = job.outputs, job.population
        exprs = list(outputs.values())
        scope = {PATIENT_VAR: VarInfo(PATIENT_ALIAS), CURRENT: VarInfo(PATIENT_ALIAS)}
        plan = _Plan()
        cohort_name: str | None = None

        def materialize(select: exp.Select, per_patient: bool) -> str:
            restrict = cohort_name if per_patient else None
            source = select.find(exp.Table)
            plain = source is not None and len(list(select.find_all(exp.Select))) == 1
            sql = self._sql(select)
            key = sql
            if restrict is not None and key in store.names:
                return store.names[key]  # already stored for every patient: read that
            if restrict is not None:
                # first read after the cohort: only its patients will read the rows (applied
                # when stored as a table; a view is inlined into cohort queries); such a
                # prefix is this job's own
                key = f"{restrict}\n{key}"
            if key not in store.names:
                name = store.names[key] = f"tandem_{tag}_f{len(store.names) + 1}"
                if restrict is not None:
                    store.cohort_only[name] = restrict
                if not per_patient:  # sites, practitioners
                    store.no_patient.add(name)
                if plain:
                    assert source is not None
                    # a plain filter of a stored prefix: cheaper to repeat than to copy; on
                    # DuckDB, of an analytic table too unless read often (filters are applied
                    # while scanning)
                    if source.name in store.prefixes:
                        store.plain_filters.add(name)
                    elif self.name == "duckdb":
                        store.base_filters.add(name)
                store.prefixes.add(name)
                plan.steps.append(("prefix", name, select, sql))
            return store.names[key]

        def read(names: list[str]) -> None:
            store.reads.update(names)
            for name in names:
                store.last_reader[name] = index

        compiler.materialize = materialize
        compiler.on_use = read
        # the columns every job of the run reads: a prefix stored for one job has the same
        # SQL, and is shared, when another job filters the same way
        compiler.columns_needed = store.columns
        current: exp.Expression = ref("patients")
        # the first stage copies only the patient columns the outputs read
        own = columns_read([*exprs, *([population] if population is not None else [])])
        wanted = own.get("patients", set()) | {"patient_id"}
        first = [c for c in schema.TABLES["patients"] if c[0] in wanted]
        counter = 0

        def add_stages(targets: list[Expr]) -> None:
            nonlocal current, counter
            for stage in compiler.plan_stages(targets):
                names = {}
                for agg in stage:
                    counter += 1
                    names[id(agg)] = f"v{counter}"
                name = f"tandem_{tag}_s{len(plan.steps) + 1}"
                columns = [c for c, _ in first] if counter == len(names) else None
                select = self._stage(compiler, stage, names, current, scope, columns)
                plan.steps.append(("stage", name, select, None))
                compiler.hoist(names)
                current = named_table(name)
                compiler.stage_table = current

        compiler.stage_table = current
        if population is not None:
            # patients without a row in a frame the population requires cannot be in it
            current = compiler.stage_table = self._candidates(compiler, population, current)
            # the cohort first: later stages, and the frames they join, see only its patients
            before = len(plan.steps)
            add_stages([population])
            cohort = f"tandem_{tag}_cohort"
            keep = exp.Coalesce(
                this=compiler.expr(population, scope), expressions=[exp.Boolean(this=False)]
            )
            source: Any = current.as_(PATIENT_ALIAS)  # type: ignore[attr-defined]
            if len(plan.steps) > before and plan.steps[-1][0] == "stage":
                # filter the population's last stage as it is computed (one table, not two)
                _, _, last, _ = plan.steps.pop()
                source = last.subquery(PATIENT_ALIAS, copy=False)
            select = (
                exp.select(exp.Star(), copy=False).from_(source, copy=False).where(keep, copy=False)
            )
            plan.steps.append(("stage", cohort, select, None))
            current = named_table(cohort)
            compiler.stage_table = current
            compiler.restricted = True
            cohort_name = cohort
        add_stages(exprs)
        keys = list(outputs)
        final_cols = [col(PATIENT_ALIAS, "patient_id").as_("patient_id", copy=False)]
        final_cols += [
            compiler.expr(outputs[key], scope).as_(f"o{i}", quoted=True, copy=False)
            for i, key in enumerate(keys)
        ]
        final = exp.select(*final_cols, copy=False).from_(current.as_(PATIENT_ALIAS))  # type: ignore[attr-defined]
        # every patient, null outside the cohort: the cohort's rows are spread over all
        # patients after fetching (``expand_rows``), cheaper than a join in SQL
        plan.expand = population is not None and job.keep_all
        plan.final = final
        assert not compiler.pending, f"joins never added to a query: {list(compiler.pending)}"
        return plan

    @staticmethod
    def _candidates(compiler: Compiler, population: Expr, patients: exp.Expression) -> Any:
        """The patients the population is computed for: those with a row in the stored row
        filters of every frame it requires (``lang_walk.required_frames``; the measures with
        a small initial population, FUH or SMC, skip most patients at once)."""
        filters = []
        for need in required_frames(population):
            prefixes = [
                compiler.shared_prefix(frame)  # the frame's rows are among its prefix's rows
                if "patient_id" in root_table(frame).columns
                else None
                for frame in need.values()
            ]
            if any(p is None for p in prefixes):
                continue  # a frame without a stored filter: no patient to leave out
            rows = union_all(
                [
                    exp.select(col("r", "patient_id"), copy=False).from_(
                        named_table(p.table).as_("r", copy=False), copy=False
                    )
                    for p in prefixes
                    if p is not None
                ]
            )
            member = exp.In(this=col("c", "patient_id"), query=exp.Subquery(this=rows))
            filters.append(member)
        if not filters:
            return patients
        select = exp.select(exp.Star(), copy=False).from_(patients.as_("c"), copy=False)
        return exp.Subquery(this=select.where(exp.and_(*filters, copy=False), copy=False))

    def _stage(
        self,
        compiler: Compiler,
        stage: list[Expr],
        names: dict[int, str],
        current: exp.Expression,
        scope: Any,
        columns: list[str] | None,
    ) -> exp.Select:
        """One stage: the previous stage's columns plus one column per aggregate. Aggregates
        over per-patient rows are one GROUP BY (or ranked pick) per frame, LEFT JOINed on
        ``patient_id``; the rest are correlated scalar subqueries."""
        cols: list[Any] = []
        joins = []
        groupable = [agg for agg in stage if compiler.groupable(agg)]
        for i, (query, defaults) in enumerate(compiler.grouped(groupable, names), start=1):
            alias = f"j{i}"
            joins.append((query, alias))
            for name, default in defaults:
                value: exp.Expression = col(alias, name)
                if not isinstance(default, exp.Null):
                    value = exp.Coalesce(this=value, expressions=[default])
                cols.append(value.as_(name, quoted=True, copy=False))
        for agg in stage:
            if not compiler.groupable(agg):
                cols.append(compiler.expr(agg, scope).as_(names[id(agg)], quoted=True, copy=False))
        kept: list[Any] = (
            [exp.Column(this=exp.Star(), table=exp.to_identifier(PATIENT_ALIAS))]
            if columns is None  # a later stage keeps every column of the previous one
            else [col(PATIENT_ALIAS, c).as_(c, quoted=True, copy=False) for c in columns]
        )
        select = exp.select(*kept, *cols, copy=False).from_(current.as_(PATIENT_ALIAS))  # type: ignore[attr-defined]
        for query, alias in joins:
            on = exp.EQ(this=col(alias, "patient_id"), expression=col(PATIENT_ALIAS, "patient_id"))
            select = left_join(select, exp.Subquery(this=query, alias=alias), on)
        return select

    def _execute(
        self, con: Any, plan: _Plan, store: _Store, index: int, created: list[str], job: Job
    ) -> _Fetched:
        """Run one job's plan and fetch its rows, then drop its stages and the prefixes no
        later job reads.

        A frame prefix read more than once (by any job), or from a correlated subquery, is
        stored as a table (computed once); one read once, or a plain filter of another
        stored prefix, is a view (inlined where read).
        """
        mine: list[str] = []
        for kind, name, select, sql in plan.steps:
            created.append(name)
            mine.append(name)
            reads = store.reads[name]
            if kind == "prefix" and (
                reads <= 1
                or name in store.plain_filters
                or (name in store.base_filters and self._keeps_most(con, select, sql, reads))
            ):
                self._view(con, name, select, sql)
                continue
            if name in store.cohort_only:
                select = _only_cohort(select, store.cohort_only[name])
                sql = None  # changed: generate again
            self._materialize(con, name, select, sql, per_patient=name not in store.no_patient)
        assert plan.final is not None
        final, positions = plan.final, None
        if plan.expand and store.positions is not None:
            # each cohort row with its place among all patients (a join in DuckDB is
            # cheaper than looking every id up in Python)
            out, place = "tandem_out", "tandem_place"
            on = exp.EQ(this=col(place, "patient_id"), expression=col(out, "patient_id"))
            final = exp.select(
                col(place, "pos").as_("tandem_pos", copy=False),
                exp.Column(this=exp.Star(), table=exp.to_identifier(out)),
                copy=False,
            )
            final = final.from_(exp.Subquery(this=plan.final, alias=out), copy=False)
            final = final.join(named_table(store.positions).as_(place), on=on, copy=False)
        result = self._query_table(
            con,
            final,
            list(job.outputs),
            job.outputs,
            sort=not plan.expand,
            positions=final is not plan.final,
        )
        if isinstance(result, tuple):
            result, positions = result
        done = [n for n in created if n in store.last_reader and store.last_reader[n] <= index]
        done += [n for n in mine if n not in store.last_reader]  # this job's stages
        for name in sorted(done, key=created.index, reverse=True):
            self._drop(con, name)
            created.remove(name)
        return _Fetched(result, positions, plan.expand)

    @staticmethod
    def _finish(
        index: int,
        fetched: _Fetched,
        store: _Store,
        finish: Callable[[int, pa.Table], Any] | None,
    ) -> Any:
        """A job's fetched rows as its results table (every patient when its cohort was
        fetched), then ``finish`` of it. Runs on ``run_tables``'s worker thread: no
        database work here."""
        result = fetched.table
        if fetched.expand:
            assert store.everyone is not None
            result = expand_rows(store.everyone, result, fetched.positions)
        return result if finish is None else finish(index, result)

    def _keeps_most(self, con: Any, select: exp.Select, sql: str | None, reads: int) -> bool:
        """A filter of an analytic table is better repeated (a view) than copied when read
        at most ``BASE_FILTER_VIEW_READS`` times or when it keeps most rows (a status
        filter): reading the copy would cost about as much as filtering again."""
        if reads <= BASE_FILTER_VIEW_READS:
            return True
        source = select.find(exp.Table)
        assert source is not None
        body = sql if sql is not None else self._sql(select)
        kept = self._exec(con, f"SELECT count(*) FROM ({body}) AS k")[0][0]  # noqa: S608
        table = source.sql(dialect=self.name)
        total = self._exec(con, f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
        return bool(kept >= BASE_FILTER_KEEPS * total)

    def _query_table(
        self,
        con: Any,
        select: exp.Select,
        keys: list[str],
        outputs: dict[str, Expr],
        *,
        sort: bool = True,
        positions: bool = False,
    ) -> Any:
        """The outputs as Arrow (``conform_results``); with ``positions`` (DuckDB) the first
        column is each row's place among all patients: ``(table, places)``."""
        if self.name == "duckdb":  # columns straight from DuckDB, no Python row objects
            sql = self._sql(select)
            self.last_sql.append(sql)
            table = con.sql(sql).to_arrow_table()
            if positions:
                places = table.column(0).to_numpy()
                table = table.drop_columns([table.column_names[0]])
                return conform_results(table, keys, outputs, sort=sort), places
            return conform_results(table, keys, outputs, sort=sort)
        return results_table(self._query(con, select), keys, outputs)

    def _patient_ids(self, con: Any, patients: exp.Table) -> pa.Array:
        """Every patient id, sorted (the rows of a result over all patients)."""
        select = exp.select(col("t", "patient_id"), copy=False).from_(
            patients.as_("t", copy=False), copy=False
        )
        if self.name == "duckdb":
            ids = con.sql(select.sql(dialect=self.name)).to_arrow_table().column(0)
        else:
            ids = pa.array([str(r[0]) for r in self._query(con, select)], pa.string())
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        ids = pc.cast(ids, pa.string())
        return pc.take(ids, pc.sort_indices(ids))  # type: ignore[no-any-return]

    def _materialize(
        self,
        con: Any,
        name: str,
        select: exp.Select,
        sql: str | None = None,
        *,
        per_patient: bool = True,
    ) -> None:
        """Store a stage or frame prefix as a temporary table (indexed on ``patient_id``
        outside DuckDB when it has one). ``sql``: the select's SQL when already generated."""
        body = sql if sql is not None else self._sql(select)
        self._exec(con, f"CREATE TEMPORARY TABLE {name} AS {body}")
        if self.name != "duckdb" and per_patient:
            self._exec(con, f'CREATE INDEX {name}_pid ON {name} ("patient_id")')

    def _view(self, con: Any, name: str, select: exp.Select, sql: str | None = None) -> None:
        """A temporary view (read once: the database inlines it where it is read)."""
        self._views.add(name)
        body = sql if sql is not None else self._sql(select)
        self._exec(con, f"CREATE TEMPORARY VIEW {name} AS {body}")

    def _query(self, con: Any, select: exp.Select) -> list[Any]:
        return list(self._exec(con, self._sql(select)) or [])

    def _drop(self, con: Any, name: str) -> None:
        if name in self._registered:
            self._registered.discard(name)
            con.unregister(name)
            return
        if name in self._views:
            self._views.discard(name)
            self._exec(con, f"DROP VIEW IF EXISTS {name}")
            return
        self._exec(con, f"DROP TABLE IF EXISTS {name}")


@dataclass
class Job:
    """One evaluation of ``SQLEngine.run_tables`` (the arguments of ``run_table``)."""

    outputs: dict[str, Expr]
    params: dict[str, Any]
    population: Expr | None = None
    keep_all: bool = True

    def exprs(self) -> list[Expr]:
        extra = [] if self.population is None else [self.population]
        return [*self.outputs.values(), *extra]


@dataclass
class _Plan:
    """Statements of one job: ("prefix" | "stage", name, SELECT) in order, then the final
    SELECT."""

    steps: list[tuple[str, str, exp.Select, str | None]] = field(default_factory=list)
    final: exp.Select | None = None
    expand: bool = False  # the final SELECT lists the cohort: spread over every patient


@dataclass
class _Fetched:
    """One job's rows as fetched (``_execute``), before ``_finish``."""

    table: pa.Table
    positions: Any  # each row's place among every patient (numpy), or None
    expand: bool  # the rows are the cohort's: spread over every patient


@dataclass
class _Store:
    """Stored frame prefixes shared by the jobs of one run."""

    names: dict[str, str] = field(default_factory=dict)  # SQL (+ cohort) -> name
    reads: Counter[str] = field(default_factory=Counter)  # reads by all jobs
    last_reader: dict[str, int] = field(default_factory=dict)  # name -> last job reading it
    cohort_only: dict[str, str] = field(default_factory=dict)  # prefix -> cohort table
    no_patient: set[str] = field(default_factory=set)  # prefixes without patient_id
    prefixes: set[str] = field(default_factory=set)
    plain_filters: set[str] = field(default_factory=set)  # always views (see _compile)
    base_filters: set[str] = field(default_factory=set)  # views unless read often
    columns: dict[str, set[str]] = field(default_factory=dict)  # read by any job, by table
    everyone: pa.Array | None = None  # every patient id, sorted (see ``expand_rows``)
    positions: str | None = None  # DuckDB: table of (patient_id, place in ``everyone``)


def _only_cohort(select: exp.Select, cohort: str) -> exp.Select:
    """A stored prefix (``SELECT ... FROM source AS t0 ...``) over the rows of the cohort's
    patients only: the source is filtered first, before any subquery of the prefix runs."""
    source = select.args["from_"].this
    members = exp.select(col("c", "patient_id"), copy=False).from_(
        named_table(cohort).as_("c", copy=False), copy=False
    )
    inside = exp.In(this=col("r", "patient_id"), query=exp.Subquery(this=members))
    rows = exp.select(exp.Star(), copy=False).from_(source.copy().as_("r", copy=False))
    source.replace(exp.Subquery(this=rows.where(inside, copy=False), alias=source.alias))
    return select


def _sqlite_column(column: pa.ChunkedArray) -> list[Any]:
    """A column as SQLite values: ISO date text, fixed-width timestamp text, 0/1 booleans."""
    typ = column.type
    if pa.types.is_timestamp(typ):
        # Arrow prints microsecond seconds as SS.ffffff: the same text as sqlite_timestamp_text
        column = pc.strftime(column.cast(pa.timestamp("us")), format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_date(typ):
        column = column.cast(pa.string())
    elif pa.types.is_boolean(typ):
        column = column.cast(pa.int8())
    return column.to_pylist()


def _valueset_table(valuesets: dict[str, frozenset[tuple[str, str]]]) -> pa.Table:
    ids, systems, codes = [], [], []
    for vid, members in sorted(valuesets.items()):
        for system, code in sorted(members):
            ids.append(vid)
            systems.append(system)
            codes.append(code)
    return pa.table(
        {"valueset_id": ids, "system": systems, "code": codes},
        schema=pa.schema(
            [("valueset_id", pa.string()), ("system", pa.string()), ("code", pa.string())]
        ),
    )


__all__ = ["POSTGRES_URL", "Job", "SQLEngine"]
