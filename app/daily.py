"""The daily run: `riskatlas daily` (cron or a systemd timer, once after midnight China time).

What must happen every day without anyone calling an endpoint, each in its own transaction
so one job's failure leaves the others done, as the system actor (audited like the
escalation, app/dangers/daily.py):
  - overdue major hidden dangers escalate one supervision level;
  - blacklist listings whose period has ended are removed;
  - today's snapshot of the region counts is stored (the trends and comparisons);
  - idempotency keys older than `KEEP_DAYS` are deleted (a phone retries within hours),
    and finished imports' progress rows older than a day.
"""

from datetime import date

from sqlalchemy.orm import Session

from app import idempotency
from app.audit.service import tell_database_who
from app.blacklist import service as blacklist
from app.dangers import daily as dangers
from app.ingest import progress as import_progress
from app.risk import aggregation


def run(session: Session, *, today: date) -> dict[str, int]:
    """Every daily job for `today`; what each did."""
    tell_database_who(
        session,
        scope=dangers.SYSTEM_SCOPE,
        client_address="cli",
        request_id=None,
        actor=dangers.ACTOR,
    )
    report: dict[str, int] = {}
    with session.begin():
        report["dangers_escalated"] = len(dangers.escalate_all(session, today=today))
    with session.begin():
        report["blacklist_expired"] = blacklist.expire(
            session, scope=dangers.SYSTEM_SCOPE, today=today
        )
    with session.begin():
        report["snapshot_rows"] = aggregation.take_snapshot(session, day=today)
    with session.begin():
        report["idempotency_keys_purged"] = idempotency.purge_expired(session)
        report["import_progress_purged"] = import_progress.purge(session)
    return report
