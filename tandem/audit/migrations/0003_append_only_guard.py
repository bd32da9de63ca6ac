"""The database refuses to change audit rows, whoever asks (ADR 0003).

Triggers on both backends:
- audit_auditevent: UPDATE and DELETE refused (PostgreSQL: TRUNCATE too);
- audit_auditchainhead: DELETE refused (PostgreSQL: TRUNCATE too); an UPDATE must move the head
  forward, to an event that exists (the append path does exactly that).

A table owner can drop or disable them, so they are not the last line of defence: the hash chain
and the anchors kept outside the database are. On SQLite, a later migration that rebuilds one of
these tables (most column changes do) drops its triggers and must create them again;
tests/audit/test_models.py fails if it does not.

Both QuerySets also become the models' base managers, so Django's own save/delete paths refuse.
"""

from django.db import migrations

REFUSED = "audit rows are append-only"
BACKWARDS = "the audit chain head moves forward only, to an existing event"
HEAD_MOVES_BACK = """
    NEW.singleton <> OLD.singleton
    OR NEW.count < OLD.count
    OR NEW.last_event_id < OLD.last_event_id
    OR (NEW.count > 0 AND NOT EXISTS (
        SELECT 1 FROM audit_auditevent WHERE id = NEW.last_event_id AND hash = NEW.last_hash
    ))
"""

POSTGRESQL = [
    f"""
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSED}: % on % refused', TG_OP, TG_TABLE_NAME;
    END;
    $$
    """,
    f"""
    CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {HEAD_MOVES_BACK} THEN
            RAISE EXCEPTION '{BACKWARDS}';
        END IF;
        RETURN NEW;
    END;
    $$
    """,
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_auditchainhead "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_auditchainhead "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_auditchainhead "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER audit_event_append_only ON audit_auditevent",
    "DROP TRIGGER audit_event_no_truncate ON audit_auditevent",
    "DROP TRIGGER audit_head_no_delete ON audit_auditchainhead",
    "DROP TRIGGER audit_head_no_truncate ON audit_auditchainhead",
    "DROP TRIGGER audit_head_forward_only ON audit_auditchainhead",
    "DROP FUNCTION audit_refuse_change()",
    "DROP FUNCTION audit_head_forward_only()",
]

SQLITE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent BEGIN "
    f"SELECT RAISE(ABORT, '{REFUSED}: UPDATE on audit_auditevent refused'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent BEGIN "
    f"SELECT RAISE(ABORT, '{REFUSED}: DELETE on audit_auditevent refused'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_auditchainhead BEGIN "
    f"SELECT RAISE(ABORT, '{REFUSED}: DELETE on audit_auditchainhead refused'); END",
    f"CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_auditchainhead "
    f"WHEN {HEAD_MOVES_BACK} BEGIN SELECT RAISE(ABORT, '{BACKWARDS}'); END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER audit_event_no_update",
    "DROP TRIGGER audit_event_no_delete",
    "DROP TRIGGER audit_head_no_delete",
    "DROP TRIGGER audit_head_forward_only",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_head_row")]

    operations = [
        migrations.AlterModelOptions(
            name="auditchainhead",
            options={"base_manager_name": "objects"},
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"base_manager_name": "objects"},
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
